"""Kapso retries and parallel web workers can deliver the same event at the same instant: the
database's unique constraints, not timing, decide that it is stored once."""

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from chatdesk.crm.models import Message
from chatdesk.messaging.models import ChannelKind, WebhookEvent
from tests.factories import make_channel
from tests.integrations.kapso.helpers import PHONE_NUMBER_ID, fixture_json, post

DELIVERIES = 10
ON_SQLITE = settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")


def deliver_at_once(channel, *, same_key: bool) -> list[int]:
    """POST one message event from DELIVERIES threads released together, each on its own
    database connection; returns the response codes."""
    document = fixture_json("whatsapp.message.received__text")
    document["phone_number_id"] = channel.phone_number_id
    document["conversation"]["phone_number_id"] = channel.phone_number_id
    body = json.dumps(document, ensure_ascii=False).encode()
    barrier = threading.Barrier(DELIVERIES)
    statuses: list[int] = []
    errors: list[BaseException] = []

    def deliver(n: int):
        try:
            barrier.wait(timeout=10)
            key = "7c9e6679-7425-40de-944b-e07fc1f90ae7" if same_key else f"retry-{n}"
            response = post(
                Client(), channel, body, event="whatsapp.message.received", idempotency_key=key
            )
            statuses.append(response.status_code)
        except BaseException as error:  # re-raised in the test's thread below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(DELIVERIES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    if errors:
        raise errors[0]
    return statuses


@pytest.mark.skipif(ON_SQLITE, reason="in-memory SQLite: see the file-database test below")
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("same_key", [True, False], ids=["same-key", "different-keys"])
def test_ten_simultaneous_deliveries_of_one_message_store_it_once(same_key):
    channel = make_channel(kind=ChannelKind.KAPSO, phone_number_id=PHONE_NUMBER_ID)

    statuses = deliver_at_once(channel, same_key=same_key)

    assert statuses == [200] * DELIVERIES
    events = WebhookEvent.objects.for_workspace(channel.workspace).count()
    assert events == (1 if same_key else DELIVERIES)
    assert Message.objects.for_workspace(channel.workspace).count() == 1


@pytest.mark.skipif(not ON_SQLITE, reason="the PostgreSQL run uses the test above")
def test_ten_simultaneous_deliveries_store_one_message_on_a_sqlite_file(tmp_path):
    # The suite's SQLite is in memory, whose shared-cache table locks ignore the busy timeout;
    # chatdesk runs on a file (WAL, BEGIN IMMEDIATE, busy timeout), so that is what is tested.
    root = Path(__file__).resolve().parents[3]
    environment = {
        **os.environ,
        "APP_ENV": "test",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'chatdesk.sqlite3'}",
        "PYTHONPATH": os.pathsep.join([str(root), str(root / "src")]),
    }
    environment.pop("REDIS_URL", None)
    completed = subprocess.run(
        [sys.executable, "-m", "tests.integrations.kapso.concurrent_deliveries"],
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    (line,) = [x for x in completed.stdout.splitlines() if x.startswith("RESULT ")]
    results = json.loads(line.removeprefix("RESULT "))

    assert results["same_key"] == {
        "statuses": [200] * DELIVERIES,
        "events": 1,
        "messages": 1,
    }
    assert results["different_keys"] == {
        "statuses": [200] * DELIVERIES,
        "events": DELIVERIES,
        "messages": 1,
    }
