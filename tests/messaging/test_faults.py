"""Fault tests: every customer message ends processed exactly once and every reply is sent
exactly once, through worker kills, a database that vanishes for a moment, provider errors and
duplicated jobs. Run on SQLite and on PostgreSQL.

"Processed once" is observed through processing's one side effect at the provider, the read
receipt; "sent once" through what the fake provider accepted (`fake_provider.delivered`).

A worker kill is simulated the way it looks afterwards: the job row stays RUNNING, claimed by a
worker whose heartbeat went silent, with whatever the job committed before dying. The reaper
then re-queues it, as in production.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from django.db import OperationalError, connection
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from chatdesk.crm.models import Message, MessageStatus
from chatdesk.jobs.heartbeat import worker_heartbeat_record
from chatdesk.jobs.reaper import stale_jobs_reap
from chatdesk.jobs.testing import drain
from chatdesk.messaging import outbound
from chatdesk.messaging.events import InboundMessage, ParsedDelivery
from chatdesk.messaging.outbound import message_deliver_once, message_send_text
from chatdesk.messaging.services import webhook_delivery_store
from chatdesk.messaging.tasks import (
    inbound_messages_reconcile,
    message_deliver,
    message_process_inbound,
)
from tests.factories import make_channel
from tests.messaging.conftest import AcceptedThenTimeout, open_conversation, refused

pytestmark = pytest.mark.django_db


class WorkerKilled(BaseException):
    """Stands for SIGKILL: nothing after it runs, not even the job's own bookkeeping."""


# --- helpers -----------------------------------------------------------------------------------


def customer_writes(channel, wamid: str, text: str = "Halo, apakah ada beasiswa?") -> Message:
    event = InboundMessage(
        provider_message_id=wamid,
        wa_id="6281234567890",
        contact_name="Siti",
        type="text",
        text=text,
        payload={"body": text},
        timestamp=datetime(2026, 11, 2, 3, 14, tzinfo=UTC),
    )
    webhook_delivery_store(
        channel=channel, idempotency_key=wamid, body=b"{}", delivery=ParsedDelivery([event])
    )
    return Message.dangerously_unscoped_objects.get(channel=channel, provider_message_id=wamid)


def rows_of(task, message) -> list[DBTaskResult]:
    return list(
        DBTaskResult.objects.filter(
            task_path=task.module_path, args_kwargs__kwargs__message_id=message.pk
        ).order_by("enqueued_at")
    )


def worker_dies_holding(row: DBTaskResult) -> DBTaskResult:
    """The row's worker claimed it an hour ago and stopped heartbeating 10 minutes ago."""
    row.claim("worker-killed-9")
    worker_heartbeat_record(
        worker_id="worker-killed-9",
        queues=row.queue_name,
        now=timezone.now() - timedelta(minutes=10),
    )
    DBTaskResult.objects.filter(id=row.id).update(started_at=timezone.now() - timedelta(hours=1))
    return row


def recover_and_run() -> None:
    """What the periodic jobs and workers do after a crash: reap, reconcile, run everything."""
    for _ in range(5):
        stale_jobs_reap()
        inbound_messages_reconcile()
        if not drain(include_delayed=True, max_tasks=500):
            return


def assert_processed_once(message: Message, fake_provider) -> None:
    message.refresh_from_db()
    assert message.processed_at is not None
    receipts = [r for r in fake_provider.receipts if r["message_id"] == message.provider_message_id]
    assert len(receipts) == 1


@contextmanager
def database_unavailable_once(statement: str):
    """The next SQL statement matching `statement` fails as if the server had gone away."""
    pattern = re.compile(statement)
    failures = []

    def wrapper(execute, sql, params, many, context):
        if not failures and pattern.search(sql):
            failures.append(sql)
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield failures
    assert failures, f"no statement matched {statement!r}"


@pytest.fixture(autouse=True)
def _fast_retries(no_jitter):
    """Retries are run at once by drain(include_delayed=True); jitter made deterministic."""


# --- a worker killed mid-job -------------------------------------------------------------------


def test_inbound_job_killed_before_committing_runs_again_and_processes_once(fake_provider):
    message = customer_writes(make_channel(), "wamid.K1")
    worker_dies_holding(rows_of(message_process_inbound, message)[0])

    recover_and_run()

    assert_processed_once(message, fake_provider)
    statuses = [row.status for row in rows_of(message_process_inbound, message)]
    assert statuses == [TaskResultStatus.FAILED, TaskResultStatus.SUCCESSFUL]


def test_inbound_job_killed_after_committing_is_not_processed_twice(fake_provider):
    message = customer_writes(make_channel(), "wamid.K2")
    row = worker_dies_holding(rows_of(message_process_inbound, message)[0])
    # The job did its work and committed; the worker died before closing the row.
    message_process_inbound.func.job_body(message_id=message.pk)
    processed_at = Message.dangerously_unscoped_objects.get(pk=message.pk).processed_at

    recover_and_run()

    assert_processed_once(message, fake_provider)
    message.refresh_from_db()
    assert message.processed_at == processed_at
    assert DBTaskResult.objects.get(id=row.id).exception_class_path.endswith("WorkerLostError")


def test_delivery_killed_before_the_provider_call_sends_the_reply_once(fake_provider):
    message = message_send_text(conversation=open_conversation(make_channel()), text="Halo!")
    worker_dies_holding(rows_of(message_deliver, message)[0])

    recover_and_run()

    assert fake_provider.delivered == ["Halo!"]
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and message.provider_message_id


def test_delivery_killed_after_the_provider_call_is_never_sent_again(fake_provider, monkeypatch):
    """At most once by design: the provider has no idempotency key, so a run that died between
    the call and recording its answer is reported "outcome unknown", never re-sent."""
    message = message_send_text(conversation=open_conversation(make_channel()), text="Halo!")
    row = worker_dies_holding(rows_of(message_deliver, message)[0])

    def killed(*args, **kwargs):
        raise WorkerKilled

    with monkeypatch.context() as patch:
        patch.setattr(outbound, "_record_sent", killed)
        with pytest.raises(WorkerKilled):
            message_deliver_once(message_id=message.pk, task_id=str(row.id))
    assert fake_provider.delivered == ["Halo!"]

    recover_and_run()

    assert fake_provider.delivered == ["Halo!"]
    assert len(fake_provider.requests) == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert message.error_reason.startswith("Delivery outcome unknown")


# --- the database unavailable for a moment -----------------------------------------------------


def test_inbound_processing_survives_a_database_blip_and_completes_once(fake_provider):
    message = customer_writes(make_channel(), "wamid.DB1")

    with database_unavailable_once(r'UPDATE "crm_message" SET "processed_at"'):
        drain(queues=["inbound"])
    recover_and_run()

    assert_processed_once(message, fake_provider)
    statuses = [row.status for row in rows_of(message_process_inbound, message)]
    assert statuses == [TaskResultStatus.FAILED, TaskResultStatus.SUCCESSFUL]


def test_a_database_blip_before_the_send_retries_and_sends_once(fake_provider):
    message = message_send_text(conversation=open_conversation(make_channel()), text="Halo!")

    with database_unavailable_once(r'UPDATE "crm_message" SET "status" = .*"send_attempts"'):
        drain(queues=["outbound"])
    assert fake_provider.delivered == []
    recover_and_run()

    assert fake_provider.delivered == ["Halo!"]
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and message.send_attempts == 1


@pytest.mark.django_db(transaction=True)
def test_a_database_blip_while_recording_the_answer_keeps_the_reply_sent_once(fake_provider):
    # Real commits: recording rides out the outage outside any transaction, as in a worker.
    message = message_send_text(conversation=open_conversation(make_channel()), text="Halo!")

    with database_unavailable_once(r'UPDATE "crm_message" SET "provider_message_id"'):
        drain(queues=["outbound"])
    recover_and_run()

    assert fake_provider.delivered == ["Halo!"]
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert message.provider_message_id.startswith("wamid.")
    assert [row.status for row in rows_of(message_deliver, message)] == [
        TaskResultStatus.SUCCESSFUL
    ]


# --- provider errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(lambda: refused(4, 400, "Application request limit reached"), id="4"),
        pytest.param(lambda: refused(80007, 400, "Rate limit issues"), id="80007"),
        pytest.param(lambda: refused(130429, 400, "Rate limit hit"), id="130429"),
        pytest.param(lambda: refused(131056, 400, "Pair rate limit hit"), id="131056"),
        pytest.param(lambda: refused(131057, 400, "Account in maintenance mode"), id="131057"),
        pytest.param(lambda: httpx.Response(429), id="http-429"),
        pytest.param(lambda: refused(131000, 500, "Something went wrong"), id="http-500"),
        pytest.param(lambda: httpx.Response(502, text="Bad Gateway"), id="http-502"),
        pytest.param(lambda: httpx.ConnectTimeout, id="connect-timeout"),
        pytest.param(lambda: httpx.ConnectError, id="connection-refused"),
    ],
)
def test_provider_faults_are_retried_and_the_reply_is_sent_exactly_once(fake_provider, fault):
    message = message_send_text(conversation=open_conversation(make_channel()), text="Halo!")
    fake_provider.script = [fault(), fault()]

    recover_and_run()

    assert fake_provider.delivered == ["Halo!"]
    assert len(fake_provider.requests) == 3
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and message.send_attempts == 3
    assert message.error_reason == ""


def test_a_read_timeout_after_sending_is_not_sent_again(fake_provider):
    message = message_send_text(conversation=open_conversation(make_channel()), text="Halo!")
    fake_provider.script = [AcceptedThenTimeout]

    recover_and_run()

    assert fake_provider.delivered == ["Halo!"]
    assert len(fake_provider.requests) == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert message.error_reason.startswith("Delivery outcome unknown (no answer from provider")


# --- duplicated jobs ---------------------------------------------------------------------------


def test_the_same_delivery_enqueued_twice_calls_the_provider_once(fake_provider):
    message = message_send_text(conversation=open_conversation(make_channel()), text="Halo!")
    message_deliver.enqueue(message_id=message.pk)

    recover_and_run()

    assert fake_provider.delivered == ["Halo!"]
    assert len(fake_provider.requests) == 1
    assert [row.status for row in rows_of(message_deliver, message)] == [
        TaskResultStatus.SUCCESSFUL
    ] * 2


def test_a_duplicate_delivery_while_the_first_is_calling_the_provider_stands_aside(
    fake_provider,
):
    message = message_send_text(conversation=open_conversation(make_channel()), text="Halo!")
    first = rows_of(message_deliver, message)[0]
    first.claim("live-worker")  # it committed `sending` and is waiting for the provider
    worker_heartbeat_record(worker_id="live-worker", queues="outbound")
    Message.dangerously_unscoped_objects.filter(pk=message.pk).update(status=MessageStatus.SENDING)
    duplicate = message_deliver.enqueue(message_id=message.pk)

    drain(queues=["outbound"])

    assert DBTaskResult.objects.get(id=duplicate.id).return_value == "skipped"
    message.refresh_from_db()
    assert message.status == MessageStatus.SENDING  # left to the run that owns the call
    assert fake_provider.requests == []


# --- the reconciler ----------------------------------------------------------------------------


def test_a_message_whose_job_row_was_lost_is_found_by_the_reconciler_and_processed_once(
    fake_provider, settings
):
    settings.ENV = settings.ENV.model_copy(update={"INBOUND_RECONCILE_AFTER_SECONDS": 60})
    message = customer_writes(make_channel(), "wamid.LOST")
    DBTaskResult.objects.filter(task_path=message_process_inbound.module_path).delete()
    Message.dangerously_unscoped_objects.filter(pk=message.pk).update(
        created_at=timezone.now() - timedelta(minutes=5)
    )

    recover_and_run()
    recover_and_run()

    assert_processed_once(message, fake_provider)
    assert len(rows_of(message_process_inbound, message)) == 1


# --- everything at once ------------------------------------------------------------------------


def test_a_bad_day_still_ends_with_every_message_processed_and_every_reply_sent_once(
    fake_provider, settings, monkeypatch
):
    settings.ENV = settings.ENV.model_copy(update={"INBOUND_RECONCILE_AFTER_SECONDS": 60})
    channel = make_channel()
    received = [customer_writes(channel, f"wamid.DAY{n}", f"pertanyaan {n}") for n in range(6)]
    # One processing row lost, one worker killed mid-processing, one duplicated processing job.
    DBTaskResult.objects.filter(id=rows_of(message_process_inbound, received[0])[0].id).delete()
    Message.dangerously_unscoped_objects.filter(pk=received[0].pk).update(
        created_at=timezone.now() - timedelta(minutes=5)
    )
    worker_dies_holding(rows_of(message_process_inbound, received[1])[0])
    message_process_inbound.enqueue(message_id=received[2].pk)

    conversation = open_conversation(channel)
    replies = [message_send_text(conversation=conversation, text=f"jawaban {n}") for n in range(6)]
    # One delivery killed before its call, one duplicated, and a provider having a bad time.
    worker_dies_holding(rows_of(message_deliver, replies[0])[0])
    message_deliver.enqueue(message_id=replies[1].pk)
    fake_provider.script = [
        refused(130429, 400, "Rate limit hit"),
        httpx.ConnectTimeout,
        refused(131056, 400, "Pair rate limit hit"),
        httpx.Response(503),
        refused(4, 400, "Application request limit reached"),
        refused(131057, 400, "Account in maintenance mode"),
        refused(80007, 400, "Rate limit issues"),
    ]

    with database_unavailable_once(r'UPDATE "crm_message" SET "processed_at"'):
        drain(max_tasks=3)
    recover_and_run()

    for message in received:
        assert_processed_once(message, fake_provider)
    assert sorted(fake_provider.delivered) == sorted(reply.text for reply in replies)
    assert all(
        status == MessageStatus.SENT
        for status in Message.dangerously_unscoped_objects.filter(
            pk__in=[reply.pk for reply in replies]
        ).values_list("status", flat=True)
    )
