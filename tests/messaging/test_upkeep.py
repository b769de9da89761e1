"""Periodic upkeep of the pipeline: the inbound reconciler and raw webhook event retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from chatdesk.crm.models import Message
from chatdesk.jobs.models import JobFailure
from chatdesk.jobs.periodic import registry
from chatdesk.jobs.testing import drain
from chatdesk.messaging.events import InboundMessage, ParsedDelivery
from chatdesk.messaging.models import WebhookEvent
from chatdesk.messaging.services import webhook_delivery_store
from chatdesk.messaging.tasks import (
    inbound_messages_reconcile,
    message_process_inbound,
    prune_webhook_events,
    reconcile_inbound_messages,
    webhook_events_prune,
)
from tests.factories import make_channel

pytestmark = pytest.mark.django_db


def receive(channel, wamid: str, *, minutes_ago: float = 0) -> Message:
    event = InboundMessage(
        provider_message_id=wamid,
        wa_id="6281234567890",
        contact_name="Siti",
        type="text",
        text="Halo",
        payload={"body": "Halo"},
        timestamp=datetime(2026, 11, 2, tzinfo=UTC),
    )
    webhook_delivery_store(
        channel=channel, idempotency_key=wamid, body=b"{}", delivery=ParsedDelivery([event])
    )
    message = Message.dangerously_unscoped_objects.get(provider_message_id=wamid)
    if minutes_ago:
        Message.dangerously_unscoped_objects.filter(pk=message.pk).update(
            created_at=timezone.now() - timedelta(minutes=minutes_ago)
        )
    return message


def processing_rows(message) -> list[DBTaskResult]:
    return list(
        DBTaskResult.objects.filter(
            task_path=message_process_inbound.module_path,
            args_kwargs__kwargs__message_id=message.pk,
        )
    )


def lose_processing_rows(message) -> None:
    DBTaskResult.objects.filter(
        task_path=message_process_inbound.module_path,
        args_kwargs__kwargs__message_id=message.pk,
    ).delete()


def test_upkeep_jobs_are_scheduled_every_minute_and_every_day():
    schedule = {job.name: job.every for job in registry.all()}
    assert schedule[reconcile_inbound_messages.module_path] == timedelta(minutes=1)
    assert schedule[prune_webhook_events.module_path] == timedelta(days=1)


def test_reconciler_re_enqueues_a_message_whose_processing_job_was_lost(settings):
    settings.ENV = settings.ENV.model_copy(update={"INBOUND_RECONCILE_AFTER_SECONDS": 120})
    message = receive(make_channel(), "wamid.LOST", minutes_ago=3)
    lose_processing_rows(message)

    assert inbound_messages_reconcile() == 1
    # Its job is now waiting: the next passes do not pile up duplicates.
    assert inbound_messages_reconcile() == 0
    assert len(processing_rows(message)) == 1

    drain(queues=["inbound"])

    message.refresh_from_db()
    assert message.processed_at is not None
    assert inbound_messages_reconcile() == 0


def test_reconciler_leaves_young_pending_processed_and_given_up_messages_alone(settings):
    settings.ENV = settings.ENV.model_copy(update={"INBOUND_RECONCILE_AFTER_SECONDS": 120})
    channel = make_channel()
    young = receive(channel, "wamid.YOUNG", minutes_ago=1)
    lose_processing_rows(young)
    waiting = receive(channel, "wamid.WAITING", minutes_ago=30)  # its job row is still READY
    done = receive(channel, "wamid.DONE", minutes_ago=30)
    Message.dangerously_unscoped_objects.filter(pk=done.pk).update(processed_at=timezone.now())
    lose_processing_rows(done)
    poison = receive(channel, "wamid.POISON", minutes_ago=30)
    row = processing_rows(poison)[0]
    DBTaskResult.objects.filter(id=row.id).update(status=TaskResultStatus.FAILED)
    JobFailure.objects.create(
        task_id=row.id,
        task_path=row.task_path,
        queue_name="inbound",
        args_kwargs={"args": [], "kwargs": {"message_id": poison.pk}},
        attempts=8,
        exception_class_path="builtins.RuntimeError",
        reason="RuntimeError: boom",
    )

    assert inbound_messages_reconcile() == 0

    assert len(processing_rows(waiting)) == 1
    assert processing_rows(young) == [] and processing_rows(done) == []


def test_reconciler_leaves_a_message_whose_job_is_running_to_the_reaper(settings):
    # A RUNNING row is the reaper's business (it knows whether the worker is alive).
    settings.ENV = settings.ENV.model_copy(update={"INBOUND_RECONCILE_AFTER_SECONDS": 120})
    message = receive(make_channel(), "wamid.RUNNING", minutes_ago=10)
    DBTaskResult.objects.get(id=processing_rows(message)[0].id).claim("some-worker")

    assert inbound_messages_reconcile() == 0


def test_raw_webhook_events_older_than_the_retention_are_deleted_in_batches(settings):
    settings.ENV = settings.ENV.model_copy(update={"WEBHOOK_EVENT_RETENTION_DAYS": 30})
    channel = make_channel()
    for day in range(5):
        receive(channel, f"wamid.OLD{day}")
    receive(channel, "wamid.RECENT")
    old = WebhookEvent.dangerously_unscoped_objects.exclude(idempotency_key="wamid.RECENT")
    old.update(received_at=timezone.now() - timedelta(days=31))

    assert webhook_events_prune(batch=2) == 5

    kept = WebhookEvent.dangerously_unscoped_objects.values_list("idempotency_key", flat=True)
    assert list(kept) == ["wamid.RECENT"]
    # The messages those events carried stay: retention is about the raw evidence only.
    assert Message.dangerously_unscoped_objects.filter(channel=channel).count() == 6
