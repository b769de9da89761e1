"""Child process of `inbox_scale.py`: migrate one database, load each dataset, time the pages.

Not meant to be run by hand (the parent creates and drops the database and sets the
environment). Writes its results as JSON to `--out` at the end, and progress to stdout.

Timing: the Django test `Client` (the full middleware stack, URL resolution, the real view and
its template rendering; no network) as a logged-in member (`force_login`). Without
`setup_test_environment()`: the test framework's template instrumentation would copy every
template context and inflate rendering time. Each page: `--warmup` requests, then `--runs`
timed requests (wall time of `client.get`, `time.perf_counter`), the datasets' requests
alternating, each one checked for its status code. A database execute wrapper counts each
request's queries and their time.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
QUIET_BUSY_PCT = 15.0
# Every page's title, in timing order: `--pages` is checked against these before the (long) load,
# by the parent too; page_specs() refuses a title missing here, so the two cannot drift apart.
PAGE_TITLES = (
    "Inbox: first page (open)",
    "Inbox: deep page (keyset cursor)",
    "Inbox: pending + unassigned",
    "Inbox: mine, all statuses",
    "Inbox: needs a human",
    "Inbox: one label, all statuses",
    "Inbox search: contact name",
    "Inbox search: phone digits",
    "Inbox search: message text, rare",
    "Inbox search: message text, common word",
    "Thread: first page (longest thread)",
    "Thread: older page (htmx)",
    "Contacts: first page",
    "Contacts search: name",
    "Contacts search: phone digits",
    "Contacts: lead status filter",
    "Dashboard, 30 days (computed)",
    "Dashboard, 30 days (cached)",
)


def titles_matching(wanted: list[str]) -> list[str]:
    """The titles containing one of `wanted` (case-insensitive); every title when it is empty."""
    lowered = [w.lower() for w in wanted]
    return [t for t in PAGE_TITLES if not lowered or any(w in t.lower() for w in lowered)]


@dataclass
class PageSpec:
    key: str
    title: str  # the same for every dataset
    detail: str  # what this dataset's request asks for
    url: str
    row_pattern: str  # counts the rows the page shows (a search that finds nothing is no test)
    before: Callable[[], None] | None = None  # runs before each request, outside the timing
    headers: dict | None = None


class QueryLog:
    """A database execute wrapper: every query of a request, with its duration."""

    def __init__(self) -> None:
        self.queries: list[tuple[float, str, object]] = []

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.queries.append((time.perf_counter() - started, sql, params))


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def cpu_times() -> tuple[int, int]:
    """(total, busy) jiffies over all cores, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields), sum(fields) - idle


def machine_busy_pct(seconds: float = 2.0) -> float:
    before = cpu_times()
    time.sleep(seconds)
    after = cpu_times()
    return 100 * (after[1] - before[1]) / max(after[0] - before[0], 1)


def wait_for_quiet(max_seconds: float) -> float:
    """Wait (at most `max_seconds`) for the other jobs on a shared machine to go quiet before
    timing; the busy share measured last is recorded next to the figures."""
    deadline = time.monotonic() + max_seconds
    while True:
        busy = machine_busy_pct()
        if busy <= QUIET_BUSY_PCT or time.monotonic() >= deadline:
            break
        log(f"  machine {busy:.0f}% busy before timing; waiting")
        time.sleep(3)
    log(f"  machine {busy:.0f}% busy before timing")
    return busy


def log(message: str) -> None:
    print(message, flush=True)


def parse_shapes(raw: str):
    from inbox_scale_data import Shape

    shapes = []
    for item in raw.split(","):
        label, conversations, messages = item.split(":")
        shapes.append(Shape(label=label, conversations=int(conversations), messages=int(messages)))
    return shapes


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--shapes", required=True, help="label:conversations:messages,...")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--no-explain", dest="explain", action="store_false")
    parser.add_argument("--wait-idle", type=float, default=0)
    parser.add_argument("--pages", default="", help="title substrings, comma-separated")
    args = parser.parse_args(argv)
    wanted = [s.strip() for s in args.pages.split(",") if s.strip()]
    if not titles_matching(wanted):
        raise SystemExit(f"--pages {args.pages!r} matches no page; titles: {PAGE_TITLES}")

    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.path.insert(0, str(BENCH_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatdesk.config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    results: dict = {"vendor": connection.vendor, "datasets": []}
    started = time.perf_counter()
    log(f"[{connection.vendor}] migrate")
    call_command("migrate", verbosity=0, interactive=False)
    results["migrate_s"] = time.perf_counter() - started
    results["facts"] = database_facts()

    now = datetime.now(UTC).replace(microsecond=0)
    loaded = []
    for n, shape in enumerate(parse_shapes(args.shapes)):
        dataset = load_dataset(shape=shape, seed=args.seed * 100 + n, now=now)
        loaded.append(dataset)
        results["datasets"].append(
            {
                "dataset": asdict(dataset),
                "table_sizes": table_sizes() if connection.vendor == "postgresql" else {},
            }
        )
    results["load_s"] = time.perf_counter() - started

    results["busy_before_timing_pct"] = wait_for_quiet(args.wait_idle)
    phase = time.perf_counter()
    specs = [select_pages(page_specs(dataset), wanted) for dataset in loaded]
    pages_by_dataset = measure_interleaved(specs, loaded, runs=args.runs, warmup=args.warmup)
    for entry, pages in zip(results["datasets"], pages_by_dataset, strict=True):
        for figures in pages:
            slowest = figures.pop("slowest_query")
            figures["explain"] = explain(slowest) if args.explain else None
        entry["pages"] = pages
    results["measure_s"] = time.perf_counter() - phase
    results["elapsed_s"] = time.perf_counter() - started
    args.out.write_text(json.dumps(results, indent=1, default=str))
    return 0


def database_facts() -> dict:
    from django.db import connection

    facts = {"vendor": connection.vendor}
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for name in (
                "server_version",
                "shared_buffers",
                "work_mem",
                "effective_cache_size",
                "random_page_cost",
                "jit",
                "max_parallel_workers_per_gather",
            ):
                cursor.execute(f"SHOW {name}")
                facts[name] = cursor.fetchone()[0]
        else:
            cursor.execute("SELECT sqlite_version()")
            facts["sqlite_version"] = cursor.fetchone()[0]
            cursor.execute("PRAGMA journal_mode")
            facts["journal_mode"] = cursor.fetchone()[0]
    return facts


def load_dataset(*, shape, seed: int, now: datetime):
    from django.db import connection
    from inbox_scale_data import dataset_load_atomic, dataset_rollups_build, pg_bulk_load

    from chatdesk.crm.models import Contact, Conversation, Message

    log(f"[{connection.vendor} {shape.label}] generate and load {shape.conversations:,} "
        f"conversations, {shape.messages:,} messages")  # fmt: skip
    phase = time.perf_counter()

    def load():
        return dataset_load_atomic(shape=shape, seed=seed, now=now)

    if connection.vendor == "postgresql":
        tables = [
            Message._meta.db_table,
            Conversation._meta.db_table,
            Contact._meta.db_table,
            Conversation.labels.through._meta.db_table,
            Contact.labels.through._meta.db_table,
        ]
        dataset, index_timings = pg_bulk_load(tables=tables, load=load, log=log)
        dataset.timings.update(index_timings)
        step = time.perf_counter()
        log(f"[{connection.vendor} {shape.label}] vacuum analyze")
        with connection.cursor() as cursor:
            # A settled table, as autovacuum leaves it (visibility map for index-only scans,
            # planner statistics); done now rather than by chance during the timing.
            for table in tables:
                cursor.execute(f'VACUUM (ANALYZE) "{table}"')
        dataset.timings["vacuum_analyze_s"] = time.perf_counter() - step
    else:
        dataset = load()
        step = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        dataset.timings["analyze_s"] = time.perf_counter() - step
    dataset.timings["rollups_s"] = dataset_rollups_build(dataset=dataset, now=now)
    dataset.timings["ready_s"] = time.perf_counter() - phase
    log(
        f"[{connection.vendor} {shape.label}] ready in {dataset.timings['ready_s']:.0f} s "
        f"({', '.join(f'{k} {v:.1f}' for k, v in dataset.timings.items())})"
    )
    return dataset


def select_pages(pages: list[PageSpec], wanted: list[str]) -> list[PageSpec]:
    """The pages whose title contains one of `wanted` (case-insensitive); all when empty."""
    if [p.title for p in pages] != list(PAGE_TITLES):
        raise RuntimeError("page_specs() and PAGE_TITLES differ: keep them in step")
    chosen = set(titles_matching(wanted))
    return [p for p in pages if p.title in chosen]


def table_sizes() -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT relname, pg_size_pretty(pg_table_size(oid)), pg_size_pretty(pg_indexes_size(oid))
            FROM pg_class WHERE relname IN ('crm_message', 'crm_conversation', 'crm_contact')
            """
        )
        return {name: {"table": table, "indexes": idx} for name, table, idx in cursor.fetchall()}


def page_specs(dataset) -> list[PageSpec]:
    from urllib.parse import urlencode

    from django.core.cache import cache
    from django.urls import reverse

    from chatdesk.crm.models import Conversation, ConversationStatus
    from chatdesk.inbox import selectors
    from chatdesk.tenancy.models import Workspace

    workspace = Workspace.objects.get(slug=dataset.workspace_slug)
    slug = workspace.slug
    inbox = reverse("inbox:index", kwargs={"workspace_slug": slug})
    contacts = reverse("crm:contacts", kwargs={"workspace_slug": slug})
    dashboard = reverse("reports:index", kwargs={"workspace_slug": slug})
    # As a running worker does: today's rollup rebuilt every few minutes (outside the timing).
    from inbox_scale_data import dataset_rollups_tick

    def worker_tick():
        dataset_rollups_tick(dataset=dataset)

    thread = reverse(
        "inbox:thread",
        kwargs={"workspace_slug": slug, "conversation_id": dataset.largest_conversation_id},
    )

    # The deep page: the cursor of the row halfway down the default list (open conversations).
    open_list = (
        Conversation.objects.for_workspace(workspace)
        .filter(status=ConversationStatus.OPEN, last_message_at__isnull=False)
        .order_by("-last_message_at", "-id")
    )
    middle = open_list.count() // 2
    at, pk = open_list.values_list("last_message_at", "pk")[middle]
    deep_cursor = selectors.Cursor(at=at, pk=pk).encode()
    # The thread's second page (what "load older" fetches), from the selector itself.
    conversation = selectors.conversation_get(
        workspace=workspace, conversation_id=dataset.largest_conversation_id
    )
    older = selectors.message_page(conversation=conversation).next_cursor
    older_cursor = older.encode() if older else ""

    def q(base: str, **params) -> str:
        return f"{base}?{urlencode(params)}" if params else base

    conv_rows = r'<li class="conv[ "]'
    contact_rows = r"<tr>\s*<t[dh][^>]*>\s*<a "
    message_rows = r'class="msg[ "]'
    svg = r"<svg[ >]"
    d = dataset
    return [
        PageSpec("inbox_first", "Inbox: first page (open)", "", inbox, conv_rows),
        PageSpec(
            "inbox_deep",
            "Inbox: deep page (keyset cursor)",
            f"from row {middle:,} of {middle * 2:,} open",
            q(inbox, cursor=deep_cursor),
            conv_rows,
        ),
        PageSpec(
            "inbox_pending_unassigned",
            "Inbox: pending + unassigned",
            "",
            q(inbox, status="pending", assigned="unassigned"),
            conv_rows,
        ),
        PageSpec(
            "inbox_mine",
            "Inbox: mine, all statuses",
            "",
            q(inbox, status="all", assigned="mine"),
            conv_rows,
        ),
        PageSpec(
            "inbox_needs_human", "Inbox: needs a human", "", q(inbox, needs_human="on"), conv_rows
        ),
        PageSpec(
            "inbox_label",
            "Inbox: one label, all statuses",
            f"“{d.label_name}”",
            q(inbox, status="all", label=d.label_id),
            conv_rows,
        ),
        PageSpec(
            "search_name",
            "Inbox search: contact name",
            f"“{d.name_query}” ({d.name_matches} contact(s) of that name)",
            q(inbox, status="all", q=d.name_query),
            conv_rows,
        ),
        PageSpec(
            "search_phone",
            "Inbox search: phone digits",
            f"“{d.phone_query}”",
            q(inbox, status="all", q=d.phone_query),
            conv_rows,
        ),
        PageSpec(
            "search_text_rare",
            "Inbox search: message text, rare",
            f"“{d.rare_query}”",
            q(inbox, status="all", q=d.rare_query),
            conv_rows,
        ),
        PageSpec(
            "search_text_common",
            "Inbox search: message text, common word",
            f"“{d.common_word}”",
            q(inbox, status="all", q=d.common_word),
            conv_rows,
        ),
        PageSpec(
            "thread_first",
            "Thread: first page (longest thread)",
            f"{d.largest_conversation_messages:,} messages",
            thread,
            message_rows,
        ),
        PageSpec(
            "thread_older",
            "Thread: older page (htmx)",
            "",
            q(thread, before=older_cursor),
            message_rows,
            headers={"HTTP_HX_REQUEST": "true"},
        ),
        PageSpec("contacts_first", "Contacts: first page", "", contacts, contact_rows),
        PageSpec(
            "contacts_search_name",
            "Contacts search: name",
            f"“{d.name_query}”",
            q(contacts, q=d.name_query),
            contact_rows,
        ),
        PageSpec(
            "contacts_search_phone",
            "Contacts search: phone digits",
            f"“{d.phone_query}”",
            q(contacts, q=d.phone_query),
            contact_rows,
        ),
        PageSpec(
            "contacts_status",
            "Contacts: lead status filter",
            "qualified",
            q(contacts, lead_status="qualified"),
            contact_rows,
        ),
        PageSpec(
            "dashboard_cold",
            "Dashboard, 30 days (computed)",
            "cache cleared before each request",
            q(dashboard, days=30),
            svg,
            before=lambda: (worker_tick(), cache.clear()),
        ),
        PageSpec(
            "dashboard_cached",
            "Dashboard, 30 days (cached)",
            "",
            q(dashboard, days=30),
            svg,
            before=worker_tick,
        ),
    ]


class Sampler:
    """One page of one dataset: a logged-in client and the figures of its timed requests."""

    def __init__(self, page: PageSpec, dataset) -> None:
        from django.contrib.auth import get_user_model
        from django.test import Client

        self.page = page
        self.client = Client()
        self.client.force_login(get_user_model().objects.get(pk=dataset.user_id))
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self.sql: list[float] = []
        self.query_counts: list[int] = []
        self.body = b""
        self.slowest = None

    def request(self, *, timed: bool) -> None:
        from django.db import connection

        page = self.page
        if page.before:
            page.before()
        recorder = QueryLog()
        with connection.execute_wrapper(recorder):
            cpu_started = time.thread_time()
            started = time.perf_counter()
            response = self.client.get(page.url, **(page.headers or {}))
            elapsed = time.perf_counter() - started
            cpu = time.thread_time() - cpu_started
        if response.status_code != 200:
            raise RuntimeError(f"{page.url} answered {response.status_code}")
        if not timed:
            return
        self.wall.append(elapsed * 1000)
        self.cpu.append(cpu * 1000)
        self.sql.append(sum(q[0] for q in recorder.queries) * 1000)
        self.query_counts.append(len(recorder.queries))
        self.body = response.content
        if recorder.queries:
            self.slowest = max(recorder.queries, key=lambda q: q[0])

    def figures(self, busy_pct: float) -> dict:
        page = self.page
        return {
            "key": page.key,
            "title": page.title,
            "detail": page.detail,
            "url": page.url,
            "runs": len(self.wall),
            "p50_ms": percentile(self.wall, 50),
            "p95_ms": percentile(self.wall, 95),
            "max_ms": max(self.wall),
            "min_ms": min(self.wall),
            "cpu_p50_ms": percentile(self.cpu, 50),
            "sql_p50_ms": percentile(self.sql, 50),
            "queries": sorted(self.query_counts)[len(self.query_counts) // 2],
            "rows": len(re.findall(page.row_pattern, self.body.decode())),
            "bytes": len(self.body),
            "machine_busy_pct": busy_pct,
            "slowest_query": self.slowest,
        }


def measure_interleaved(specs: list[list[PageSpec]], datasets, *, runs: int, warmup: int):
    """Page by page, the datasets' requests alternate (small, big, small, big, ...): whatever
    else the machine is doing hits both sizes alike, so their ratio stays meaningful."""
    results: list[list[dict]] = [[] for _ in datasets]
    for pages in zip(*specs, strict=True):
        samplers = [Sampler(page, dataset) for page, dataset in zip(pages, datasets, strict=True)]
        gc.collect()
        for _ in range(warmup):
            for sampler in samplers:
                sampler.request(timed=False)
        cpu_before = cpu_times()
        for _ in range(runs):
            for sampler in samplers:
                sampler.request(timed=True)
        cpu_after = cpu_times()
        busy = 100 * (cpu_after[1] - cpu_before[1]) / max(cpu_after[0] - cpu_before[0], 1)
        line = [f"  {pages[0].title:<36}"]
        for n, sampler in enumerate(samplers):
            figures = sampler.figures(busy)
            results[n].append(figures)
            line.append(
                f"{datasets[n].shape.label:>4}: p50 {figures['p50_ms']:6.1f} "
                f"p95 {figures['p95_ms']:6.1f} cpu {figures['cpu_p50_ms']:5.1f} "
                f"sql {figures['sql_p50_ms']:6.1f} ms q {figures['queries']:2d} "
                f"rows {figures['rows']:2d}"
            )
        log(" | ".join(line) + f" | busy {busy:.0f}%")
    return results


def explain(slowest) -> dict | None:
    """The plan of the request's slowest query (EXPLAIN ANALYZE on PostgreSQL)."""
    if slowest is None:
        return None
    from django.db import connection

    seconds, sql, params = slowest
    prefix = (
        "EXPLAIN (ANALYZE, BUFFERS)" if connection.vendor == "postgresql" else "EXPLAIN QUERY PLAN"
    )
    with connection.cursor() as cursor:
        cursor.execute(f"{prefix} {sql}", params)
        plan = "\n".join(" | ".join(str(c) for c in row) for row in cursor.fetchall())
    return {
        "ms": seconds * 1000,
        "sql": sql,
        "params": [str(p) for p in params or ()],
        "plan": plan,
    }


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
