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

STEPS = (
    ("chatdesk.messaging.webhooks", "channel_for_key"),
    ("chatdesk.messaging.signatures", "signature_matches"),
    ("chatdesk.integrations.whatsapp_cloud.provider", "parse_body"),
    ("chatdesk.messaging.webhooks", "webhook_delivery_store"),
    ("chatdesk.messaging.services", "contact_upsert"),
    ("chatdesk.messaging.services", "conversation_for_contact"),
    ("chatdesk.messaging.services", "_conversation_record_inbound"),
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
    from django.db import connection
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

    timings: dict[str, float] = defaultdict(float)

    def timed(name: str, original):
        @functools.wraps(original)
        def wrapper(*a, **kw):
            started = time.perf_counter()
            try:
                return original(*a, **kw)
            finally:
                timings[name] += time.perf_counter() - started

        return wrapper

    for module_name, name in STEPS:
        module = importlib.import_module(module_name)
        setattr(module, name, timed(name, getattr(module, name)))

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
        with CaptureQueriesContext(connection) as queries:
            post(url)
        query_count = len(queries)
        if os.environ.get("BENCH_SHOW_QUERIES"):
            print("\n".join(q["sql"][:120] for q in queries.captured_queries))
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
        f"log level {args.log_level}"
    )
    for label, (ms, cpu_ms, count) in results.items():
        print(f"  {label:6}: {ms:6.2f} ms per request ({cpu_ms:.2f} ms CPU), {count} queries")
    ceiling = results["floor"][1] / results["ingest"][1]
    print(f"  floor CPU / ingest CPU (ceiling of the throughput ratio): {ceiling:.2f}")
    total = results["ingest"][0]
    print("  ingest steps (inclusive, nested steps are part of webhook_delivery_store):")
    for _, name in STEPS:
        ms = timings[name] / args.requests * 1000
        print(f"    {name:30} {ms:6.2f} ms  {100 * ms / total:4.0f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
