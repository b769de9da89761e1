"""Where a webhook's time goes: one thread, no HTTP server, no concurrency.

    .venv/bin/python bench/ingest_profile.py [--db sqlite|postgres] [--requests 1000]

Drives the webhook view and the floor view through Django's test client (the full middleware
stack, the same settings as bench/webhook_ingest.py) against a fresh database, and reports the
mean wall time per request, the queries per request, and the share of the main steps (timed by
wrapping them). This is the intrinsic cost ratio between the two views; the load benchmark adds
gunicorn, the network, concurrency and lock contention on top.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import logging
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
CUSTOMERS = 500  # distinct senders, as bench/webhook_ingest.py's default

# (module, function) wrapped by a timer; a name a module does not have is skipped, so the same
# script profiles older revisions of the flow too.
STEPS = (
    ("chatdesk.messaging.webhooks", "channel_for_key"),
    ("chatdesk.messaging.webhooks", "_channel_lookup"),
    ("chatdesk.messaging.signatures", "signature_matches"),
    ("chatdesk.integrations.whatsapp_cloud.provider", "parse_body"),
    ("chatdesk.messaging.webhooks", "webhook_delivery_store"),
    ("chatdesk.messaging.services", "_webhook_event_create"),
    ("chatdesk.messaging.services", "contact_upsert"),
    ("chatdesk.messaging.services", "conversation_for_contact"),
    ("chatdesk.messaging.services", "_message_store_inbound_fast"),
    ("chatdesk.messaging.services", "_conversation_record_inbound"),
    ("chatdesk.messaging.services", "_inbound_jobs_enqueue"),
    ("chatdesk.messaging.services", "channel_touch_webhook"),
)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        help="INFO (as the load benchmark: one JSON line per webhook) or WARNING (none)",
    )
    parser.add_argument(
        "--cprofile",
        type=int,
        default=0,
        metavar="N",
        help="also print the N functions with the most cumulative time under cProfile (ingest)",
    )
    parser.add_argument(
        "--reuse-connection",
        action="store_true",
        help="keep one database connection across requests, as Django's test client does "
        "(by default each request ends like a served one: close_old_connections() applies "
        "CONN_MAX_AGE)",
    )
    args = parser.parse_args(argv)
    sys.path.insert(0, str(BENCH_DIR))
    import webhook_ingest

    with contextlib.ExitStack() as stack:
        tmp = Path(tempfile.mkdtemp(prefix="chatdesk-profile-"))
        stack.callback(shutil.rmtree, tmp, ignore_errors=True)
        if args.db == "sqlite":
            url = f"sqlite:///{tmp / 'profile.sqlite3'}"
        else:
            url = webhook_ingest.pg_create(args.postgres_url)
            stack.callback(webhook_ingest.pg_drop, args.postgres_url)
        env = webhook_ingest.child_env(url)
        env["LOG_LEVEL"] = args.log_level
        os.environ.clear()
        os.environ.update(env)
        os.environ["DJANGO_SETTINGS_MODULE"] = "settings_floor"  # chatdesk's + the floor URLconf
        return profile(args)


def profile(args) -> int:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import close_old_connections, connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import clear_url_caches, include, path

    call_command("migrate", verbosity=0)
    import floor_urls
    import ingest_db
    from loadgen import MetaTextEvents

    from chatdesk.config import urls as app_urls

    # The floor URLconf plus the application's webhook route under another prefix, both served
    # by this one process (the application's URL map itself is untouched).
    floor_urls.urlpatterns.append(path("app/", include(app_urls)))
    clear_url_caches()
    secret = secrets.token_hex(16)
    os.environ["BENCH_APP_SECRET"] = secret
    fixture = ingest_db.setup()
    events = MetaTextEvents(
        secret=secret.encode(),
        phone_number_id=fixture["phone_number_id"],
        display_number=fixture["display_number"],
        customers=CUSTOMERS,
    )
    client = Client()
    key = fixture["channel_key"]

    def post(url: str) -> None:
        body, headers = events.next()
        response = client.post(
            url,
            data=body,
            content_type="application/json",
            headers={"X-Hub-Signature-256": headers["X-Hub-Signature-256"]},
        )
        assert response.status_code == 200, response.content[:200]
        if not args.reuse_connection:
            # What the request_finished signal does in a server (the test client suppresses
            # it): with CONN_MAX_AGE = 0 the next request opens a new connection.
            close_old_connections()

    # name -> [wall seconds, this thread's CPU seconds]; CPU is what a busy machine does not
    # distort (on PostgreSQL it leaves out the server's share).
    timings: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])

    def timed(name: str, original):
        @functools.wraps(original)
        def wrapper(*a, **kw):
            started, cpu_started = time.perf_counter(), time.thread_time()
            try:
                return original(*a, **kw)
            finally:
                timings[name][0] += time.perf_counter() - started
                timings[name][1] += time.thread_time() - cpu_started

        return wrapper

    steps = []
    for module_name, name in STEPS:
        module = importlib.import_module(module_name)
        if hasattr(module, name):
            setattr(module, name, timed(name, getattr(module, name)))
            steps.append(name)

    # The log lines are produced (that cost is part of a request) but not shown.
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the run

    ingest_url, floor_url = f"/app/webhooks/whatsapp/{key}", f"/webhooks/whatsapp/{key}"
    for _ in range(min(500, args.requests)):  # warm caches, contacts and conversations
        post(ingest_url)
        post(floor_url)
    timings.clear()
    results = {}
    for label, url in (("floor", floor_url), ("ingest", ingest_url)):
        # The warm-up alternated the views, so the ingest view has seen the even customers only
        # (customer = event number % CUSTOMERS): customer 1 is new, customer 0 known.
        query_count = []
        for customer in (1, 0):
            events.issued = -(-events.issued // CUSTOMERS) * CUSTOMERS + customer
            with CaptureQueriesContext(connection) as queries:
                post(url)
            query_count.append(len(queries))
            if os.environ.get("BENCH_SHOW_QUERIES"):
                for query in queries.captured_queries:
                    print(f"{query['time']:>7} s  {query['sql'][:110]}")
                print()
        started, cpu_started = time.perf_counter(), time.process_time()
        for _ in range(args.requests):
            post(url)
        results[label] = (
            (time.perf_counter() - started) / args.requests * 1000,
            (time.process_time() - cpu_started) / args.requests * 1000,
            query_count,
        )
    print(
        f"database: {args.db}; {args.requests} requests each, one thread, test client, "
        f"log level {args.log_level}, CONN_MAX_AGE {connection.settings_dict['CONN_MAX_AGE']}"
        + (" (connection reused)" if args.reuse_connection else "")
    )
    for label, (ms, cpu_ms, (new, known)) in results.items():
        print(
            f"  {label:6}: {ms:6.2f} ms per request ({cpu_ms:.2f} ms CPU), "
            f"queries: {new} (new customer), {known} (known customer)"
        )
    step_timings = {name: list(values) for name, values in timings.items()}
    if args.cprofile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(args.requests):
            post(ingest_url)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.cprofile)
    ceiling = results["floor"][1] / results["ingest"][1]
    print(f"  floor CPU / ingest CPU (ceiling of the throughput ratio): {ceiling:.2f}")
    total = results["ingest"][0]
    print("  ingest steps (inclusive, nested steps are part of webhook_delivery_store):")
    for name in (name for name in steps if name in step_timings):  # the ones that ran
        wall, cpu = (seconds / args.requests * 1000 for seconds in step_timings[name])
        print(f"    {name:30} {wall:6.2f} ms  {100 * wall / total:4.0f}%  ({cpu:.2f} ms CPU)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
