"""Meta re-delivers at once on any doubt: identical deliveries racing each other store once.

Real threads, each with its own database connection, in committed transactions (SQLite in the
default pass, PostgreSQL in the second): the unique constraints decide, not process memory."""

import sqlite3
import threading
from collections.abc import Callable

import pytest
from django.db import connection
from django.test import Client

from chatdesk.crm.models import Contact, Conversation, Message
from chatdesk.messaging.models import StatusReport, WebhookEvent
from tests.factories import make_channel
from tests.integrations.whatsapp_cloud.helpers import (
    FIXTURE_PHONE_NUMBER_ID,
    fixture_bytes,
    post_signed,
)

RACERS = 10


@pytest.fixture
def race_channel(transactional_db, tmp_path):
    """A Meta channel in the database the racing threads write to.

    PostgreSQL: the test database itself. SQLite: the test database lives in memory with a
    shared cache, whose table locks fail at once ("database table is locked") instead of
    waiting; production runs a WAL file with a busy timeout and IMMEDIATE transactions. So the
    race runs on a file copy of the test database, opened with the production options (new
    connections read their NAME from this shared settings dict)."""
    channel = make_channel(phone_number_id=FIXTURE_PHONE_NUMBER_ID)
    if connection.vendor != "sqlite":
        yield channel
        return
    path = tmp_path / "race.sqlite3"
    connection.ensure_connection()
    copy = sqlite3.connect(path)
    connection.connection.backup(copy)
    # Switch to WAL now, alone: ten first connections each switching at once would race for the
    # exclusive lock the switch needs and fail with "database is locked" under load.
    copy.execute("PRAGMA journal_mode=WAL")
    copy.close()
    in_memory = connection.settings_dict["NAME"]
    connection.settings_dict["NAME"] = str(path)
    try:
        yield channel
    finally:
        # Restored before the test database's own teardown closes this thread's connection:
        # Django only keeps an in-memory database open while its NAME says it is in memory.
        connection.settings_dict["NAME"] = in_memory


def _in_thread(query: Callable[[], int]) -> int:
    """Run a read on a fresh connection: the one the racers used, whatever the backend."""
    result: list[int] = []

    def run() -> None:
        try:
            result.append(query())
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    return result[0]


def _counts(workspace) -> dict[str, int]:
    models = {
        "messages": Message,
        "contacts": Contact,
        "conversations": Conversation,
        "statuses": StatusReport,
        "events": WebhookEvent,
    }
    return {
        name: _in_thread(lambda model=model: model.objects.for_workspace(workspace).count())
        for name, model in models.items()
    }


def _race(channel, bodies: list[bytes]) -> list[int]:
    """POST every body at the same instant from its own thread; the status codes, in order."""
    barrier = threading.Barrier(len(bodies))
    statuses: list[int | None] = [None] * len(bodies)
    errors: list[BaseException] = []

    def deliver(index: int, body: bytes) -> None:
        try:
            client = Client()
            barrier.wait(timeout=10)
            statuses[index] = post_signed(client, channel, body).status_code
        except BaseException as error:  # surfaced below with the test's own assertion
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver, args=(i, b)) for i, b in enumerate(bodies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return statuses


def test_ten_identical_deliveries_at_once_store_one_message(race_channel):
    body = fixture_bytes("messages__text")

    statuses = _race(race_channel, [body] * RACERS)

    assert statuses == [200] * RACERS
    assert _counts(race_channel.workspace) == {
        "messages": 1,
        "contacts": 1,
        "conversations": 1,
        "statuses": 0,
        "events": 1,
    }


def test_the_same_messages_and_statuses_in_different_batches_at_once_store_once(race_channel):
    batch = fixture_bytes("messages__batch")
    # Same events, different bytes: each racer gets its own raw event, the rows stay unique.
    bodies = [batch.rstrip() + b" " * i for i in range(RACERS)]

    statuses = _race(race_channel, bodies)

    assert statuses == [200] * RACERS
    assert _counts(race_channel.workspace) == {
        "messages": 3,
        "contacts": 2,
        "conversations": 2,
        "statuses": 2,
        "events": RACERS,
    }
