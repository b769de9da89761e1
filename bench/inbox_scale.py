"""Inbox at scale (issue 4, item 7): do the team's pages stay flat from 10k to 1M messages?

    .venv/bin/python bench/inbox_scale.py                   # PostgreSQL, then SQLite
    .venv/bin/python bench/inbox_scale.py --db postgres     # ~5 min idle machine, ~9 min busy
    .venv/bin/python bench/inbox_scale.py --quick           # small shapes, sanity check, ~2 min
    .venv/bin/python bench/inbox_scale.py --wait-idle 600   # on a shared machine
    .venv/bin/python bench/inbox_scale.py --db postgres --pages search,thread \
        --pg-database chatdesk_bench_inbox_h3              # some pages, own database

PostgreSQL: a dedicated database (`--pg-database`, default `chatdesk_bench_inbox`; created
from the maintenance database given by `--postgres-url` or BENCH_POSTGRES_URL, dropped at the
end, also on Ctrl-C or SIGTERM; one left over by a killed run is dropped first, one in use by
another run is refused). Two workspaces of the same shape are loaded into it
(bench/inbox_scale_data.py): 1,000 conversations / 10,000 messages and 100,000 / 1,000,000.
SQLite: a file in a temporary
directory (removed at the end), 1,000 / 10,000 and 10,000 / 100,000. Two runs at once need
two `--pg-database` names (and share the machine's two cores: their timings disturb each other).
`--pages` times only the pages whose title contains one of its comma-separated substrings
(case-insensitive), e.g. `--pages search,thread`; the data is loaded in full either way.

The child process (bench/inbox_scale_run.py) migrates, loads, then requests each page through
Django's test Client as a logged-in member (the full middleware stack, the real view and
template; no network): `--warmup` times, then `--runs` times, alternating between the two
workspaces so that background load hits both alike. Reported per page: p50 and p95 of the wall
time, the queries per request and their time, the Python CPU time, the rows shown. The aims
(issue 4): p50 at 1M at most 1.5 times p50 at 10k, and p95 under 100 ms, on PostgreSQL. The
slowest query of each page's last run is EXPLAINed (ANALYZE on PostgreSQL); the report prints the
plans of the pages that miss an aim in their queries. See docs/BENCHMARKS.md, "Inbox at scale".
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import datetime
import json
import os
import platform
import re
import shlex
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
PG_DATABASE = "chatdesk_bench_inbox"
DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/postgres"
RATIO_AIM = 1.5
P95_AIM_MS = 100.0
SHAPES = {
    # database: [(label, conversations, messages), ...]; the first is the baseline
    "postgres": [("10k", 1_000, 10_000), ("1M", 100_000, 1_000_000)],
    "sqlite": [("10k", 1_000, 10_000), ("100k", 10_000, 100_000)],
}
QUICK_SHAPES = {
    "postgres": [("1k", 100, 1_000), ("10k", 1_000, 10_000)],
    "sqlite": [("1k", 100, 1_000), ("10k", 1_000, 10_000)],
}


class Interrupted(Exception):
    pass


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time the inbox, thread, contacts and dashboard pages at 10k and 1M messages."
    )
    parser.add_argument("--db", choices=["postgres", "sqlite", "both"], default="both")
    parser.add_argument("--runs", type=int, default=30, help="timed requests per page (30)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed requests first (5)")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_PG_URL),
        help="maintenance database used to create and drop --pg-database "
        "(env BENCH_POSTGRES_URL; default %(default)s)",
    )
    parser.add_argument(
        "--pg-database",
        default=PG_DATABASE,
        metavar="NAME",
        help="the PostgreSQL database this run creates and drops (default %(default)s); "
        "give concurrent runs different names",
    )
    parser.add_argument(
        "--pages",
        default="",
        metavar="SUBSTR[,SUBSTR]",
        help="time only the pages whose title contains one of these substrings "
        "(case-insensitive), e.g. 'search,thread'",
    )
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0,
        metavar="S",
        help="wait up to S seconds for the machine to be quiet (other jobs) before timing",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write raw results here")
    parser.add_argument("--quick", action="store_true", help="small shapes, few runs (~1 min)")
    parser.add_argument(
        "--keep-db",
        action="store_true",
        help="leave --pg-database in place after the run, to investigate plans (drop it yourself)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.runs = min(args.runs, 10)
        args.warmup = min(args.warmup, 2)
    if args.runs < 1 or args.warmup < 0:
        parser.error("--runs must be at least 1 and --warmup at least 0")
    # The name goes into CREATE/DROP DATABASE, which take no parameters.
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", args.pg_database):
        parser.error(
            f"--pg-database {args.pg_database!r}: use lowercase letters, digits and underscores "
            "(at most 63, not starting with a digit)"
        )
    if args.pg_database in {"postgres", "template0", "template1"}:
        parser.error(f"--pg-database {args.pg_database!r} is a system database; pick another name")
    args.pages = [s.strip() for s in args.pages.split(",") if s.strip()]
    if args.pages:
        sys.path.insert(0, str(BENCH_DIR))
        from inbox_scale_run import titles_matching  # stdlib-only at import time

        chosen = titles_matching(args.pages)
        if not chosen:
            parser.error(f"--pages {','.join(args.pages)!r} matches no page title")
        print(f"pages: {'; '.join(chosen)}", file=sys.stderr)
    return args


# ----------------------------------------------------------------------------- databases


def pg_url_for(maintenance_url: str, database: str) -> str:
    parts = urlsplit(maintenance_url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def pg_execute(maintenance_url: str, sql: str, params=None) -> list[tuple]:
    import psycopg

    with psycopg.connect(maintenance_url, autocommit=True, connect_timeout=5) as conn:
        cursor = conn.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def pg_create(maintenance_url: str, database: str) -> str:
    exists = pg_execute(maintenance_url, "SELECT 1 FROM pg_database WHERE datname = %s", [database])
    if exists:
        busy = pg_execute(
            maintenance_url,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s",
            [database],
        )[0][0]
        if busy:
            raise SystemExit(
                f"{database} exists and has {busy} open connection(s): another run is in "
                "progress. Wait for it, give this run another --pg-database, or drop the "
                "database yourself."
            )
        print(f"dropping {database} left over by an earlier run", file=sys.stderr)
        pg_drop(maintenance_url, database)
    pg_execute(maintenance_url, f"CREATE DATABASE {database}")
    return pg_url_for(maintenance_url, database)


def pg_drop(maintenance_url: str, database: str) -> None:
    pg_execute(maintenance_url, f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


# ----------------------------------------------------------------------------- child


def child_env(database_url: str) -> dict[str, str]:
    """The parent's environment minus every chatdesk setting, plus the benchmark's own."""
    from chatdesk.config.env import AppSettings

    env = {
        k: v
        for k, v in os.environ.items()
        if k not in AppSettings.model_fields and k != "DJANGO_SETTINGS_MODULE"
    }
    env.update(
        APP_ENV="test",  # production refuses a local database and the embedded defaults
        DEBUG="false",
        DATABASE_URL=database_url,
        LOG_FORMAT="json",  # production's format: each request's log line costs what it costs
        LOG_LEVEL="INFO",
        PYTHONPATH=os.pathsep.join(
            p for p in (str(REPO_DIR / "src"), env.get("PYTHONPATH", "")) if p
        ),
    )
    return env


def _die_with_parent() -> None:
    # Linux: the child gets SIGTERM if this process dies (even by SIGKILL).
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


def run_child(*, database_url: str, shapes, args, workdir: Path, name: str) -> dict:
    out = workdir / f"{name}.json"
    server_log = workdir / f"{name}.log"
    argv = [
        sys.executable,
        str(BENCH_DIR / "inbox_scale_run.py"),
        "--out",
        str(out),
        "--shapes",
        ",".join(f"{label}:{c}:{m}" for label, c, m in shapes),
        "--runs",
        str(args.runs),
        "--warmup",
        str(args.warmup),
        "--seed",
        str(args.seed),
        "--wait-idle",
        str(args.wait_idle),
    ]
    if args.pages:
        argv += ["--pages", ",".join(args.pages)]
    with open(server_log, "w") as stderr:
        proc = subprocess.Popen(
            argv,
            env=child_env(database_url),
            cwd=REPO_DIR,
            stderr=stderr,
            preexec_fn=_die_with_parent,
        )
        try:
            code = proc.wait()
        except BaseException:
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            raise
    if code != 0:
        tail = server_log.read_text()[-4000:]
        raise RuntimeError(f"{name} run failed (exit {code}); end of its log:\n{tail}")
    return json.loads(out.read_text())


# ----------------------------------------------------------------------------- report


def machine_facts() -> dict[str, str]:
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError), open("/proc/meminfo") as meminfo:
        memory = f"{int(meminfo.readline().split()[1]) / 1024 / 1024:.0f} GiB"
    import django

    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "memory": memory,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "sqlite": sqlite3.sqlite_version,
        "loadavg_at_start": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
    }


def database_bound(page: dict) -> bool:
    """Most of the request is spent in its queries (otherwise a plan explains nothing)."""
    return page["sql_p50_ms"] >= 0.5 * page["p50_ms"]


def verdict(vendor: str, base: dict, big: dict) -> tuple[float, str]:
    ratio = big["p50_ms"] / base["p50_ms"] if base["p50_ms"] else float("inf")
    misses = []
    if ratio > RATIO_AIM:
        misses.append(f"ratio > {RATIO_AIM}")
    if vendor == "postgresql" and big["p95_ms"] >= P95_AIM_MS:
        misses.append(f"p95 ≥ {P95_AIM_MS:.0f} ms")
    return ratio, ("ok" if not misses else "**miss**: " + ", ".join(misses))


def render(results: dict, facts: dict, command: str) -> str:
    lines = [
        "## Inbox at scale: results",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: nproc {facts['nproc']}, {facts['cpu']}, {facts['memory']} RAM, "
        f"Linux {facts['kernel']}, Python {facts['python']}, Django {facts['django']}, "
        f"SQLite {facts['sqlite']}; load average at start {facts['loadavg_at_start']}; "
        f"{facts['date']}.",
    ]
    missed = []
    for run in results.values():
        db = run["facts"]
        vendor = run["vendor"]
        base, big = run["datasets"][0], run["datasets"][-1]
        bl, gl = base["dataset"]["shape"]["label"], big["dataset"]["shape"]["label"]
        if vendor == "postgresql":
            engine = (
                f"PostgreSQL {db['server_version']} (shared_buffers {db['shared_buffers']}, "
                f"work_mem {db['work_mem']}, jit {db['jit']})"
            )
        else:
            engine = f"SQLite {db['sqlite_version']} ({db['journal_mode']})"
        lines += ["", f"### {engine}", ""]
        for entry in run["datasets"]:
            d = entry["dataset"]
            sizes = entry.get("table_sizes") or {}
            size_text = (
                f"; crm_message {sizes['crm_message']['table']} "
                f"+ {sizes['crm_message']['indexes']} of indexes"
                if "crm_message" in sizes
                else ""
            )
            lines.append(
                f"- {d['shape']['label']}: {d['shape']['conversations']:,} conversations, "
                f"{d['shape']['messages']:,} messages, {d['contacts']:,} contacts, loaded in "
                f"{d['timings'].get('ready_s', 0):.0f} s{size_text}."
            )
        lines += [
            "",
            f"| Page | Queries | Rows | {bl} p50 | {bl} p95 | {gl} p50 | {gl} p95 "
            f"| {gl} SQL p50 | {gl} CPU p50 | {gl}/{bl} p50 | Aim |",
            "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|",
        ]
        base_pages = {p["key"]: p for p in base["pages"]}
        details = []
        for page in big["pages"]:
            small = base_pages[page["key"]]
            ratio, outcome = verdict(vendor, small, page)
            lines.append(
                f"| {page['title']} | {page['queries']} | {small['rows']} / {page['rows']} "
                f"| {small['p50_ms']:.1f} | {small['p95_ms']:.1f} "
                f"| {page['p50_ms']:.1f} | {page['p95_ms']:.1f} | {page['sql_p50_ms']:.1f} "
                f"| {page['cpu_p50_ms']:.1f} | {ratio:.2f} | {outcome} |"
            )
            if small["detail"] or page["detail"]:
                details.append(
                    f"{page['title']}: {bl} {small['detail'] or '-'}; {gl} {page['detail'] or '-'}"
                )
            if outcome != "ok" and page.get("explain") and database_bound(page):
                missed.append((engine, gl, page))
        busy = [p["machine_busy_pct"] for e in run["datasets"] for p in e["pages"]]
        lines += [
            "",
            "Milliseconds, wall time of the request in the server process (SQL: the time spent "
            "in its queries; CPU: the Python thread's CPU time). Rows: rows shown at "
            f"{bl} / {gl}. Requests to the two workspaces alternate, page by page.",
            "",
            *[f"- {line}" for line in details],
            "",
            f"Machine busy before timing {run['busy_before_timing_pct']:.0f}%; while timing "
            "(both cores, this benchmark included): median "
            f"{sorted(busy)[len(busy) // 2]:.0f}%, max {max(busy):.0f}%. Run: "
            f"{run['elapsed_s']:.0f} s (migrate {run['migrate_s']:.0f} s, load "
            f"{run['load_s'] - run['migrate_s']:.0f} s, timing {run['measure_s']:.0f} s).",
        ]
    if missed:
        lines += [
            "",
            "### Plans: the slowest query of each page that misses an aim in its queries",
            "",
            "(Pages that miss while their SQL is under half their time are bound by Python "
            "rendering or by the machine's load: a plan would not explain them.)",
            "",
        ]
        for engine, label, page in missed:
            plan = page["explain"]
            sql = plan["sql"]
            lines += [
                f"**{page['title']}** at {label} on {engine.split(' (')[0]}: slowest query "
                f"{plan['ms']:.1f} ms",
                "",
                "```",
                sql[:2000] + (" …" if len(sql) > 2000 else ""),
                f"-- params: {plan['params'][:12]}",
                plan["plan"],
                "```",
                "",
            ]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- main


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(REPO_DIR / "src"))
    os.environ.setdefault("APP_ENV", "test")  # the parent imports chatdesk only for its names

    def on_term(signum, frame):
        raise Interrupted

    signal.signal(signal.SIGTERM, on_term)
    # Ctrl-C must clean up even when started in the background (where SIGINT starts ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    command = shlex.join([os.path.relpath(sys.executable, REPO_DIR), "bench/inbox_scale.py", *argv])
    facts = machine_facts()
    shapes = QUICK_SHAPES if args.quick else SHAPES
    databases = ["postgres", "sqlite"] if args.db == "both" else [args.db]
    results: dict[str, dict] = {}
    started = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="chatdesk-inbox-scale-") as tmp:
            workdir = Path(tmp)
            for db in databases:
                if db == "postgres":
                    url = pg_create(args.postgres_url, args.pg_database)
                    try:
                        results[db] = run_child(
                            database_url=url,
                            shapes=shapes[db],
                            args=args,
                            workdir=workdir,
                            name=db,
                        )
                    finally:
                        if args.keep_db:
                            print(f"kept {args.pg_database} (--keep-db)", file=sys.stderr)
                        else:
                            pg_drop(args.postgres_url, args.pg_database)
                else:
                    url = f"sqlite:///{workdir / 'inbox_scale.sqlite3'}"
                    results[db] = run_child(
                        database_url=url, shapes=shapes[db], args=args, workdir=workdir, name=db
                    )
    except (KeyboardInterrupt, Interrupted):
        print("\ninterrupted: databases dropped, temporary files removed", file=sys.stderr)
        return 130
    report = render(results, facts, command)
    print()
    print(report)
    print(f"\n(total {time.perf_counter() - started:.0f} s)")
    if args.json:
        args.json.write_text(
            json.dumps({"facts": facts, "command": command, "results": results}, indent=1)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
