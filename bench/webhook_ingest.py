"""Webhook ingestion benchmark (issue 3, item 8): how fast chatdesk acknowledges signed Meta
webhooks under the production server setup, compared with an empty Django view served the same
way, and whether every acknowledged event is stored exactly once.

    .venv/bin/python bench/webhook_ingest.py                 # SQLite and PostgreSQL, full run
    .venv/bin/python bench/webhook_ingest.py --db sqlite --quick   # ~30 s sanity check

Per database: a fresh database (`chatdesk migrate`), a workspace and a Meta channel created with
the product's services, then gunicorn as `chatdesk web` runs it (APP_ENV=test: production mode
refuses a local database and the embedded defaults). No worker runs: acknowledgement is measured,
jobs stay queued. The floor is the same gunicorn command serving `bench/floor_wsgi.py`, whose
settings swap only the URLconf for one empty view. Phases per server: closed-loop load at each
`--concurrency` for `--duration` s, an open-loop rate search for the highest rate with p99 under
`--p99-target-ms`, and a closed-loop burst of `--burst` events. Afterwards the stored rows are
counted; the run FAILS (exit status 1) unless messages, raw events, 200 answers and unique events
sent are all equal. See bench/README.md and docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import datetime
import json
import os
import platform
import secrets
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
from loadgen import CpuMeter, LoadGenerator, MetaTextEvents, PhaseResult

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
PG_DATABASE = "chatdesk_bench"
DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/postgres"
WEBHOOK_PATH = "/webhooks/whatsapp/{key}"
RAMP_FACTOR = 1.25
MAX_RAMP_STEPS = 12
IDLE_BUSY_PCT = 10.0


# ----------------------------------------------------------------------------- command line


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark signed Meta webhook ingestion (see bench/README.md)."
    )
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default=None)
    parser.add_argument(
        "--concurrency", default=None, help="closed-loop levels, comma-separated (8,16,32)"
    )
    parser.add_argument("--duration", type=float, default=None, help="seconds per level (20)")
    parser.add_argument("--burst", type=int, default=None, help="events in the burst (10000)")
    parser.add_argument("--burst-concurrency", type=int, default=None, help="(highest level)")
    parser.add_argument("--workers", type=int, default=None, help="gunicorn workers (2*cores+1)")
    parser.add_argument("--threads", type=int, default=None, help="threads per worker (4)")
    parser.add_argument("--p99-target-ms", type=float, default=100.0)
    parser.add_argument("--rate-step", type=float, default=None, help="seconds per step (10)")
    parser.add_argument(
        "--rate-search",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="open-loop search for the highest rate with p99 under the target (off in --quick)",
    )
    parser.add_argument(
        "--client",
        choices=["raw", "httpx"],
        default="raw",
        help="load generator HTTP client: hand-written keep-alive HTTP/1.1 (cheap) or httpx",
    )
    parser.add_argument(
        "--connections",
        choices=["keep-alive", "close"],
        default="keep-alive",
        help="raw client: reuse connections, or one per request (a proxy without keep-alive)",
    )
    parser.add_argument(
        "--rates",
        default="",
        help="open-loop phases at these fixed rates (req/s, comma-separated), each for "
        "--duration s: compares variants at the same offered load",
    )
    parser.add_argument("--max-in-flight", type=int, default=256, help="open-loop cap")
    parser.add_argument("--customers", type=int, default=500, help="distinct senders")
    parser.add_argument(
        "--conn-max-age",
        type=int,
        default=None,
        help="experiment: ingest server with this CONN_MAX_AGE (bench/settings_override.py)",
    )
    parser.add_argument(
        "--skip-floor", action="store_true", help="ingest only (no ratios); for tuning runs"
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_PG_URL),
        help=f"maintenance database used to create/drop {PG_DATABASE} "
        "(env BENCH_POSTGRES_URL; default %(default)s)",
    )
    parser.add_argument(
        "--wait-for-view",
        type=float,
        default=0,
        help="seconds to keep polling while the webhook view answers 501 (not implemented yet)",
    )
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0,
        help="seconds to wait for the machine to be idle before each server's phases",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write raw results here")
    parser.add_argument("--quick", action="store_true", help="SQLite, one short level, ~30 s")
    args = parser.parse_args(argv)
    quick = args.quick
    defaults = {
        "db": "sqlite" if quick else "both",
        "concurrency": "8" if quick else "8,16,32",
        "duration": 3.0 if quick else 20.0,
        "burst": 1000 if quick else 10_000,
        "rate_step": 10.0,
        "rate_search": not quick,
    }
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    try:
        args.levels = [int(v) for v in args.concurrency.split(",") if v.strip()]
    except ValueError:
        parser.error("--concurrency takes whole numbers separated by commas, e.g. 8,16,32")
    try:
        args.fixed_rates = [float(v) for v in args.rates.split(",") if v.strip()]
    except ValueError:
        parser.error("--rates takes numbers separated by commas, e.g. 20,40")
    if any(rate <= 0 for rate in args.fixed_rates):
        parser.error("--rates must be positive")
    if not args.levels or min(args.levels) < 1:
        parser.error("--concurrency needs at least one level of 1 or more")
    if args.burst_concurrency is None:
        args.burst_concurrency = max(args.levels)
    if args.duration <= 0 or args.burst < 0 or args.rate_step <= 0:
        parser.error("--duration and --rate-step must be positive, --burst not negative")
    return args


def command_line(argv: list[str]) -> str:
    """The command as typed, with any database password hidden."""
    from chatdesk.config.env import mask_url

    shown = [mask_url(a) if "://" in a else a for a in argv]
    return shlex.join([".venv/bin/python", "bench/webhook_ingest.py", *shown])


# ----------------------------------------------------------------------------- processes


def _die_with_parent() -> None:
    # If this benchmark is killed outright (SIGKILL), the server it started is told too.
    # PR_SET_PDEATHSIG survives the exec of `chatdesk web` into gunicorn.
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def venv_script(name: str) -> str:
    script = Path(sys.executable).parent / name
    if not script.exists():
        raise SystemExit(f"{script} not found: run the benchmark with the project's venv python")
    return str(script)


def child_env(database_url: str, **extra: str) -> dict[str, str]:
    """The parent's environment minus every chatdesk setting, plus the benchmark's own."""
    from chatdesk.config.env import AppSettings

    env = {
        k: v
        for k, v in os.environ.items()
        if k not in AppSettings.model_fields and k != "DJANGO_SETTINGS_MODULE"
    }
    env.update(
        APP_ENV="test",
        DEBUG="false",
        DATABASE_URL=database_url,
        LOG_FORMAT="json",  # production's format: the per-request log line costs what it costs
        LOG_LEVEL="INFO",
        **extra,
    )
    return env


def run_checked(argv: list[str], env: dict[str, str], what: str) -> str:
    done = subprocess.run(argv, env=env, cwd=REPO_DIR, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(
            f"{what} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        )
    return done.stdout


@dataclass
class Server:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    port: int
    proc: subprocess.Popen | None = None
    _log: object = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=REPO_DIR,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: stopped as one, untouched by Ctrl-C
            preexec_fn=_die_with_parent,
        )

    def wait_ready(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} server exited early:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/healthz", timeout=2).status_code == 200:
                    return
            time.sleep(0.3)
        raise RuntimeError(f"{self.name} server not ready after {timeout_s:.0f} s")

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)  # gunicorn: graceful shutdown
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


def gunicorn_argv(*, app: str | None, bind: str, workers: int | None, threads: int | None):
    """`chatdesk web`'s gunicorn arguments (chatdesk.config.gunicorn), optionally re-targeted."""
    from chatdesk.config.gunicorn import build_argv

    argv = build_argv(bind=bind, workers=workers)
    if threads is not None:
        argv[argv.index("--threads") + 1] = str(threads)
    if app is not None:
        argv[0] = app
    return argv


def server_commands(args, port: int) -> tuple[list[str], list[str]]:
    """(ingest, floor) commands: identical gunicorn settings, different WSGI application."""
    bind = f"127.0.0.1:{port}"
    default_threads = gunicorn_argv(app=None, bind=bind, workers=None, threads=None)
    default_threads = int(default_threads[default_threads.index("--threads") + 1])
    if args.threads in (None, default_threads):
        ingest = [venv_script("chatdesk"), "web", "--bind", bind]
        if args.workers:
            ingest += ["--workers", str(args.workers)]
    else:
        # `chatdesk web` has no --threads: run what it execs, with that one value changed.
        ingest = [sys.executable, "-m", "gunicorn"]
        ingest += gunicorn_argv(app=None, bind=bind, workers=args.workers, threads=args.threads)
    floor = [sys.executable, "-m", "gunicorn"]
    floor += gunicorn_argv(
        app="floor_wsgi:application", bind=bind, workers=args.workers, threads=args.threads
    )
    floor += ["--pythonpath", str(BENCH_DIR)]
    return ingest, floor


def shown_command(argv: list[str]) -> str:
    parts = list(argv)
    for i, part in enumerate(parts):
        for prefix in (str(REPO_DIR) + "/", str(Path(sys.executable).parent) + "/"):
            if part.startswith(prefix):
                rel = os.path.relpath(part, REPO_DIR)
                parts[i] = rel if not rel.startswith("..") else part
    return shlex.join(parts)


# ----------------------------------------------------------------------------- databases


def pg_url_for(maintenance_url: str, database: str) -> str:
    parts = urlsplit(maintenance_url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def pg_execute(maintenance_url: str, sql: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(maintenance_url, autocommit=True, connect_timeout=5) as conn:
        cur = conn.execute(sql)
        return cur.fetchall() if cur.description else []


def pg_create(maintenance_url: str) -> str:
    existing = pg_execute(
        maintenance_url, f"SELECT 1 FROM pg_database WHERE datname = '{PG_DATABASE}'"
    )
    if existing:
        sessions = pg_execute(
            maintenance_url,
            f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{PG_DATABASE}'",
        )[0][0]
        if sessions:
            raise SystemExit(
                f"{PG_DATABASE} exists and has {sessions} open connection(s): another benchmark "
                "run is probably using it. Not touching it; try again when it has finished."
            )
        print(f"note: dropping {PG_DATABASE} left over by an interrupted run", file=sys.stderr)
        pg_drop(maintenance_url)
    pg_execute(maintenance_url, f"CREATE DATABASE {PG_DATABASE}")
    return pg_url_for(maintenance_url, PG_DATABASE)


def pg_drop(maintenance_url: str) -> None:
    pg_execute(maintenance_url, f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")


def pg_facts(maintenance_url: str) -> dict[str, str]:
    names = ("server_version", "synchronous_commit", "fsync", "shared_buffers", "max_connections")
    return {name: pg_execute(maintenance_url, f"SHOW {name}")[0][0] for name in names}


# ----------------------------------------------------------------------------- machine


def machine_facts() -> dict[str, str]:
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    memory = ""
    with contextlib.suppress(OSError), open("/proc/meminfo") as meminfo:
        kb = int(meminfo.readline().split()[1])
        memory = f"{kb / 1024 / 1024:.0f} GiB"
    tmp_fs = subprocess.run(
        ["df", "--output=fstype", tempfile.gettempdir()], capture_output=True, text=True
    ).stdout.split()[-1:]
    import django
    import gunicorn

    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": nproc,
        "cpu": model,
        "memory": memory,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "gunicorn": gunicorn.__version__,
        "httpx": httpx.__version__,
        "sqlite": sqlite3.sqlite_version,
        "temp_fs": tmp_fs[0] if tmp_fs else "?",
        "loadavg_at_start": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
    }


def machine_busy_pct(seconds: float = 2.0) -> float:
    """Share of all cores busy over `seconds` (before a server runs: other jobs' load)."""
    meter = CpuMeter(None)
    before = meter.sample()
    time.sleep(seconds)
    after = meter.sample()
    return 100 * (after[1] - before[1]) / ((after[0] - before[0]) * (os.cpu_count() or 1))


def settle(args, label: str) -> float:
    """Wait (up to --wait-idle s) for other jobs on this shared machine to go quiet; the busy
    share measured last is recorded next to the figures."""
    deadline = time.monotonic() + args.wait_idle
    while True:
        busy = machine_busy_pct()
        if busy <= IDLE_BUSY_PCT or time.monotonic() >= deadline:
            break
        print(f"  machine {busy:.0f}% busy before {label}; waiting", file=sys.stderr, flush=True)
        time.sleep(5)
    if busy > IDLE_BUSY_PCT:
        print(f"  warning: machine {busy:.0f}% busy before {label}", file=sys.stderr, flush=True)
    return busy


# ----------------------------------------------------------------------------- phases


def passes(phase: PhaseResult, target_ms: float) -> bool:
    return phase.errors == 0 and phase.ok > 0 and phase.p(99) < target_ms


async def drive(
    server: Server, *, events: MetaTextEvents, path: str, args, log
) -> list[PhaseResult]:
    meter = CpuMeter(
        server.proc.pid, db_name=PG_DATABASE if args.current_db == "postgres" else None
    )
    connections = max(args.max_in_flight, *args.levels, args.burst_concurrency)
    gen = LoadGenerator(
        base_url=server.base_url,
        path=path,
        events=events,
        meter=meter,
        max_connections=connections,
        client=args.client,
        keep_alive=args.connections == "keep-alive",
    )
    phases: list[PhaseResult] = []

    async def record(phase: PhaseResult) -> PhaseResult:
        phases.append(phase)
        log(phase)
        await asyncio.sleep(1)  # let the server settle between phases
        return phase

    try:
        await record(
            await gen.run_closed(
                PhaseResult(server.name, "warm-up", "warmup", concurrency=min(args.levels)),
                concurrency=min(args.levels),
                duration_s=1 if args.quick else 3,
            )
        )
        closed = []
        for level in args.levels:
            phase = PhaseResult(server.name, f"c={level}", "closed", concurrency=level)
            closed.append(
                await record(
                    await gen.run_closed(phase, concurrency=level, duration_s=args.duration)
                )
            )
        for rate in args.fixed_rates:
            phase = PhaseResult(server.name, f"rate {rate:g}/s", "open", target_rate=rate)
            await gen.run_open(
                phase, rate=rate, duration_s=args.duration, max_in_flight=args.max_in_flight
            )
            await record(phase)
        if args.rate_search:
            await rate_search(gen, server.name, closed, args, record)
        if args.burst:
            phase = PhaseResult(
                server.name, f"burst {args.burst}", "burst", concurrency=args.burst_concurrency
            )
            await record(
                await gen.run_closed(phase, concurrency=args.burst_concurrency, total=args.burst)
            )
    finally:
        await gen.aclose()
    return phases


async def rate_search(gen: LoadGenerator, name: str, closed, args, record) -> None:
    """Open-loop steps: ramp x1.25 until a step misses the target, bisect, then confirm the best
    rate for the full --duration (stepping down 10% while the confirmation misses)."""
    target = args.p99_target_ms

    async def step(rate: float, seconds: float, kind: str) -> PhaseResult:
        phase = PhaseResult(name, f"{kind} {rate:.0f}/s", kind, target_rate=rate)
        await gen.run_open(phase, rate=rate, duration_s=seconds, max_in_flight=args.max_in_flight)
        return await record(phase)

    rate = max(5.0, round(0.6 * closed[0].throughput / 5) * 5)
    best = failed = None
    for _ in range(MAX_RAMP_STEPS):
        if passes(await step(rate, args.rate_step, "search"), target):
            best = rate
            if failed is not None:
                break
            rate = max(rate + 5, round(rate * RAMP_FACTOR / 5) * 5)
        else:
            failed = rate
            if best is not None:
                break
            rate = max(5.0, round(rate / RAMP_FACTOR / 5) * 5)
            if rate >= failed:
                break
    for _ in range(3):
        if best is None or failed is None or failed - best <= max(5.0, 0.05 * best):
            break
        middle = round((best + failed) / 2 / 5) * 5
        if middle in (best, failed):
            break
        if passes(await step(middle, args.rate_step, "search"), target):
            best = middle
        else:
            failed = middle
    for _ in range(4):
        if best is None:
            return
        if passes(await step(best, args.duration, "sustained"), target):
            return
        best = round(best * 0.9 / 5) * 5 or None


# ----------------------------------------------------------------------------- one database


@dataclass
class DatabaseRun:
    kind: str
    facts: dict[str, str] = field(default_factory=dict)
    commands: dict[str, str] = field(default_factory=dict)
    phases: list[PhaseResult] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    expected: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def log_phase(phase: PhaseResult) -> None:
    s = phase.summary()
    errors = f" errors={s['errors']} {s['statuses'] or ''}{s['transport_errors'] or ''}"
    print(
        f"  {s['server']:6} {s['name']:18} ok={s['ok']:6} {s['throughput_rps']:7.1f} req/s "
        f"p50={s['p50_ms']:.1f} p99={s['p99_ms']:.1f} ms cpu(machine)={s['machine_cpu_pct']:.0f}% "
        f"retries={s['retries']}" + (errors if s["errors"] else ""),
        file=sys.stderr,
        flush=True,
    )
    if phase.error_sample:
        print(f"    first error: {phase.error_sample}", file=sys.stderr)


def run_database(kind: str, args, stack: contextlib.ExitStack) -> DatabaseRun:
    run = DatabaseRun(kind)
    args.current_db = kind
    tmp = Path(tempfile.mkdtemp(prefix=f"chatdesk-bench-{kind}-"))
    stack.callback(shutil.rmtree, tmp, ignore_errors=True)
    if kind == "sqlite":
        database_url = f"sqlite:///{tmp / 'bench.sqlite3'}"
    else:
        run.facts.update({f"postgres_{k}": v for k, v in pg_facts(args.postgres_url).items()})
        database_url = pg_create(args.postgres_url)
        stack.callback(pg_drop, args.postgres_url)
    env = child_env(database_url)
    from chatdesk.config.env import mask_url

    run.facts["database_url"] = mask_url(database_url)
    print(f"[{kind}] migrate + workspace + Meta channel", file=sys.stderr, flush=True)
    run_checked([venv_script("chatdesk"), "migrate", "--noinput"], env, "chatdesk migrate")
    app_secret = secrets.token_hex(16)  # Meta app secrets are 32 hex characters
    fixture = json.loads(
        run_checked(
            [sys.executable, str(BENCH_DIR / "ingest_db.py"), "setup"],
            {**env, "BENCH_APP_SECRET": app_secret},
            "channel setup",
        )
    )
    path = WEBHOOK_PATH.format(key=fixture["channel_key"])
    port = free_port()
    ingest_cmd, floor_cmd = server_commands(args, port)
    run.commands = {"ingest": shown_command(ingest_cmd), "floor": shown_command(floor_cmd)}
    ingest_events = MetaTextEvents(
        secret=app_secret.encode(),
        phone_number_id=fixture["phone_number_id"],
        display_number=fixture["display_number"],
        customers=args.customers,
    )

    if not args.skip_floor:
        floor = Server("floor", floor_cmd, env, tmp / "floor.log", port)
        stack.callback(floor.stop)
        floor.start()
        floor.wait_ready()
        run.facts["busy_before_floor"] = f"{settle(args, 'the floor'):.0f}%"
        # The floor stores nothing; its events come from their own generator so they never
        # count as sent to the ingest server.
        floor_events = MetaTextEvents(
            secret=app_secret.encode(),
            phone_number_id=fixture["phone_number_id"],
            display_number=fixture["display_number"],
            customers=args.customers,
        )
        print(f"[{kind}] floor: {run.commands['floor']}", file=sys.stderr, flush=True)
        run.phases += asyncio.run(
            drive(floor, events=floor_events, path=path, args=args, log=log_phase)
        )
        floor.stop()

    ingest_env = dict(env)
    if args.conn_max_age is not None:
        # `chatdesk web` and the WSGI module only default DJANGO_SETTINGS_MODULE: this wins.
        ingest_env.update(
            DJANGO_SETTINGS_MODULE="settings_override",
            PYTHONPATH=os.pathsep.join(filter(None, [str(BENCH_DIR), env.get("PYTHONPATH")])),
            BENCH_CONN_MAX_AGE=str(args.conn_max_age),
        )
        run.commands["ingest"] = (
            f"DJANGO_SETTINGS_MODULE=settings_override PYTHONPATH=bench "
            f"BENCH_CONN_MAX_AGE={args.conn_max_age} {run.commands['ingest']}"
        )
    ingest = Server("ingest", ingest_cmd, ingest_env, tmp / "ingest.log", port)
    stack.callback(ingest.stop)
    ingest.start()
    ingest.wait_ready()
    probe_ok = wait_for_view(ingest, path, ingest_events, args.wait_for_view)
    run.facts["busy_before_ingest"] = f"{settle(args, 'ingest'):.0f}%"
    print(f"[{kind}] ingest: {run.commands['ingest']}", file=sys.stderr, flush=True)
    run.phases += asyncio.run(
        drive(ingest, events=ingest_events, path=path, args=args, log=log_phase)
    )
    ingest.stop()

    run.counts = json.loads(
        run_checked([sys.executable, str(BENCH_DIR / "ingest_db.py"), "count"], env, "count")
    )
    ingest_phases = [p for p in run.phases if p.server == "ingest"]
    ok = probe_ok + sum(p.ok for p in ingest_phases)
    run.expected = {"responses_200": ok, "unique_events_sent": ingest_events.issued}
    for name in ("messages", "messages_distinct_wamid", "messages_with_marker", "webhook_events"):
        for label, value in run.expected.items():
            if run.counts[name] != value:
                run.failures.append(f"{name}={run.counts[name]} but {label}={value}")
    if run.counts["jobs_process_inbound"] != run.counts["messages"]:
        run.failures.append(
            f"jobs_process_inbound={run.counts['jobs_process_inbound']} "
            f"but messages={run.counts['messages']}"
        )
    return run


def wait_for_view(server: Server, path: str, events: MetaTextEvents, wait_s: float) -> int:
    """Send one signed event (the same bytes on every try) until it is acknowledged. Returns 1."""
    body, headers = events.next()
    deadline = time.monotonic() + wait_s
    while True:
        response = httpx.post(f"{server.base_url}{path}", content=body, headers=headers, timeout=10)
        if response.status_code == 200:
            return 1
        if response.status_code == 501 and time.monotonic() < deadline:
            print("  webhook view answers 501 (not built yet); waiting", file=sys.stderr)
            time.sleep(min(15.0, max(0.0, deadline - time.monotonic())))
            continue
        raise RuntimeError(
            f"the webhook view answered {response.status_code} to a correctly signed event: "
            f"{response.text[:300]}\n{server.log_tail()}"
        )


# ----------------------------------------------------------------------------- report


def fmt(value: float, digits: int = 1) -> str:
    return "n/a" if value != value else f"{value:,.{digits}f}"  # NaN check


def markdown(runs: list[DatabaseRun], facts: dict[str, str], cmd: str, args) -> str:
    lines = [
        f"### Webhook ingestion: {facts['date']}",
        "",
        f"Command: `{cmd}`",
        "",
        f"Machine: nproc {facts['nproc']}, {facts['cpu']}, {facts['memory']} RAM, "
        f"Linux {facts['kernel']}, Python {facts['python']}, Django {facts['django']}, "
        f"gunicorn {facts['gunicorn']}, httpx {facts['httpx']} (load generator, same machine), "
        f"SQLite {facts['sqlite']} on {facts['temp_fs']}; load average at start "
        f"{facts['loadavg_at_start']}.",
        "",
    ]
    for run in runs:
        lines += [f"#### {run.kind}", ""]
        if run.kind == "postgres":
            lines += [
                f"PostgreSQL {run.facts['postgres_server_version']} (local; synchronous_commit="
                f"{run.facts['postgres_synchronous_commit']}, fsync={run.facts['postgres_fsync']}, "
                f"shared_buffers={run.facts['postgres_shared_buffers']}).",
                "",
            ]
        lines += [
            f"Ingest server: `{run.commands['ingest']}`  ",
            f"Floor server: `{run.commands['floor']}`  ",
            "Environment: `APP_ENV=test DEBUG=false LOG_FORMAT=json LOG_LEVEL=INFO "
            f"DATABASE_URL={run.facts['database_url']}`  ",
            "Machine busy (other jobs) just before the floor / ingest phases: "
            f"{run.facts.get('busy_before_floor', 'n/a')} / {run.facts['busy_before_ingest']}.",
            "",
            "| server | phase | requests | errors | retries | p50 ms | p95 ms | p99 ms | max ms "
            "| req/s | machine CPU | client CPU | server CPU | db CPU | other CPU |",
            "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for p in run.phases:
            if p.mode == "warmup":
                continue
            db_cpu = f"{p.db_cpu_pct:.0f}%" if run.kind == "postgres" else "(in server)"
            lines.append(
                f"| {p.server} | {p.name} | {p.sent:,} | {p.errors} | {p.retries} | "
                f"{fmt(p.p(50))} | {fmt(p.p(95))} | {fmt(p.p(99))} | {fmt(p.p(100))} | "
                f"{fmt(p.throughput)} | {p.machine_cpu_pct:.0f}% | {p.client_cpu_pct:.0f}% | "
                f"{p.server_cpu_pct:.0f}% | {db_cpu} | {p.other_cpu_pct:.0f}% |"
            )
        lines += ["", *comparison(run, args), ""]
        lines += stored_counts(run)
        lines.append("")
    return "\n".join(lines)


def comparison(run: DatabaseRun, args) -> list[str]:
    def by(server: str) -> dict[str, PhaseResult]:
        return {
            p.name: p for p in run.phases if p.server == server and p.mode in ("closed", "burst")
        }

    ingest, floor = by("ingest"), by("floor")
    lines = []
    if floor:
        lines += [
            "| phase | ingest req/s | floor req/s | throughput ratio | ingest p99 | floor p99 "
            "| p99 ratio |",
            "|---|--:|--:|--:|--:|--:|--:|",
        ]
        for name, p in ingest.items():
            f = floor.get(name)
            if f is None or not f.throughput:
                continue
            lines.append(
                f"| {name} | {fmt(p.throughput)} | {fmt(f.throughput)} | "
                f"{p.throughput / f.throughput:.2f} | {fmt(p.p(99))} | {fmt(f.p(99))} | "
                f"{p.p(99) / f.p(99):.1f}x |"
            )
        lines.append("")
    for server in ("ingest", "floor"):
        sustained = [
            p
            for p in run.phases
            if p.server == server and p.mode == "sustained" and passes(p, args.p99_target_ms)
        ]
        if sustained:
            p = sustained[-1]
            lines.append(
                f"- {server}: highest rate sustained for {p.elapsed_s:.0f} s with p99 < "
                f"{args.p99_target_ms:.0f} ms and no error: **{p.target_rate:.0f} req/s** "
                f"(p50 {fmt(p.p(50))} ms, p99 {fmt(p.p(99))} ms)."
            )
        elif args.rate_search and any(p.server == server for p in run.phases):
            steps = [
                p
                for p in run.phases
                if p.server == server and p.mode == "search" and passes(p, args.p99_target_ms)
            ]
            best = max(steps, key=lambda p: p.target_rate, default=None)
            lines.append(
                f"- {server}: no rate held p99 < {args.p99_target_ms:.0f} ms for the full "
                f"{args.duration:.0f} s confirmation"
                + (
                    f" (the best {args.rate_step:.0f} s search step was {best.target_rate:.0f} "
                    f"req/s, p99 {fmt(best.p(99))} ms)."
                    if best
                    else "; no search step met it either."
                )
            )
    return lines


def stored_counts(run: DatabaseRun) -> list[str]:
    c, e = run.counts, run.expected
    verdict = "OK" if not run.failures else "**FAIL**: " + "; ".join(run.failures)
    return [
        f"Stored after the run: {c['messages']:,} `Message` rows ({c['messages_distinct_wamid']:,}"
        f" distinct wamids, {c['messages_with_marker']:,} with the non-ASCII text intact), "
        f"{c['webhook_events']:,} `WebhookEvent` rows, {c['jobs_process_inbound']:,} "
        f"queued processing jobs, {c['contacts']:,} contacts; {e['responses_200']:,} answers 200 "
        f"for {e['unique_events_sent']:,} unique events sent. {verdict}",
    ]


# ----------------------------------------------------------------------------- main


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    cmd = command_line(argv)
    # SIGTERM cleans up like Ctrl-C does: the ExitStack below stops servers and drops databases.
    signal.signal(signal.SIGTERM, _interrupt)
    facts = machine_facts()
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    print(f"{cmd}\n{json.dumps(facts)}", file=sys.stderr, flush=True)
    runs: list[DatabaseRun] = []
    try:
        for kind in kinds:
            with contextlib.ExitStack() as stack:
                runs.append(run_database(kind, args, stack))
    except KeyboardInterrupt:
        print("interrupted: servers stopped, temporary databases removed", file=sys.stderr)
        return 130
    report = markdown(runs, facts, cmd, args)
    print(report)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "command": cmd,
                    "machine": facts,
                    "runs": [
                        {
                            "db": r.kind,
                            "facts": r.facts,
                            "commands": r.commands,
                            "phases": [p.summary() for p in r.phases],
                            "counts": r.counts,
                            "expected": r.expected,
                            "failures": r.failures,
                        }
                        for r in runs
                    ],
                },
                indent=2,
                ensure_ascii=False,
            )
        )
    failures = [f"{r.kind}: {f}" for r in runs for f in r.failures]
    if failures:
        print("\nFAIL: stored counts do not match what was acknowledged:", file=sys.stderr)
        for failure in failures:
            print(f"  FAIL {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
