"""Background jobs of the messaging pipeline. Thin: load by id, call a service, idempotent.

Queues: `inbound` serves customers' messages (processing, then their media at a lower priority),
`outbound` our sends and read receipts, `default` the periodic upkeep. Every job may run more
than once (a retry, the reaper after a worker died, a reconciler pass): each checks the state it
is about to change before changing it.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.tasks import TaskResultStatus
from django.utils import timezone

from chatdesk.crm.models import Direction, Message
from chatdesk.jobs.periodic import periodic
from chatdesk.jobs.retry import RetryJobLater, current_job, job
from chatdesk.messaging.models import WebhookEvent

logger = logging.getLogger(__name__)

RECONCILE_BATCH = 500
PRUNE_BATCH = 1000


class DeliveryRetryError(Exception):
    """The provider refused a send for now (limits, outage); the job retries with backoff."""


class MediaRetryError(Exception):
    """A media download failed for now; the job retries with backoff."""


# A customer waits on these: a job whose worker died is re-queued after 2 minutes, not 15.
@job(queue="inbound", max_attempts=8, stale_after=timedelta(minutes=2))
def message_process_inbound(*, message_id: int) -> None:
    with transaction.atomic():
        message = (
            Message.dangerously_unscoped_objects.select_for_update()
            .select_related("channel")
            .filter(pk=message_id, processed_at__isnull=True)
            .first()
        )
        if message is None:
            return  # already processed (a re-run) or deleted
        if (message.payload or {}).get("test_event"):
            return  # Settings > Integrations round trip: deleted right after, never answered
        # The assistant runs as its own job, committed with `processed_at`: a slow model never
        # delays marking messages processed, and a re-run of this job never enqueues it twice.
        from chatdesk.assistant.respond import assistant_should_respond
        from chatdesk.assistant.tasks import assistant_respond

        if assistant_should_respond(message=message):
            assistant_respond.enqueue(message_id=message.pk)
        message.processed_at = timezone.now()
        message.save(update_fields=["processed_at"])
        # Committed with `processed_at`, so a re-run never asks for a second receipt.
        if message.channel.is_active and message.provider_message_id:
            message_mark_read.enqueue(message_id=message.pk)


# Below processing on the same queue: a large download must not hold up a customer's message.
@job(
    queue="inbound",
    priority=-10,
    max_attempts=6,
    backoff_base=3,
    backoff_max=600,
    stale_after=timedelta(minutes=5),
)
def message_fetch_media(*, message_id: int, media_url: str = "") -> str:
    from chatdesk.messaging.media import MediaFetchError, message_media_fetch

    run = current_job()
    try:
        return message_media_fetch(
            message_id=message_id,
            media_url=media_url,
            last_attempt=run is None or run.is_last_attempt,
        )
    except MediaFetchError as error:
        raise MediaRetryError(error.reason) from None


@job(
    queue="outbound",
    max_attempts=8,
    backoff_base=4,
    backoff_max=900,
    stale_after=timedelta(minutes=2),
)
def message_deliver(*, message_id: int) -> str:
    from chatdesk.messaging.outbound import DeliverOutcome, message_deliver_once

    run = current_job()
    outcome, wait = message_deliver_once(
        message_id=message_id,
        last_attempt=bool(run and run.is_last_attempt),
        task_id=run.task_id if run else None,
    )
    if outcome == DeliverOutcome.DEFERRED:
        # Our shared send limits are full: come back when the window frees, same attempt.
        message_deliver.using(run_after=timezone.now() + timedelta(seconds=wait)).enqueue(
            message_id=message_id, _attempt=run.attempt if run else 1
        )
    elif outcome == DeliverOutcome.RETRY:
        # A provider limit or outage: retry after its hint, else the policy's backoff (4^n s,
        # with jitter, as Meta advises for pair-rate errors).
        if wait:
            raise RetryJobLater("provider asked to retry later", delay_seconds=wait)
        raise DeliveryRetryError("provider refused the send for now; see the message's error")
    return outcome


# Best effort: a read receipt or typing indicator that fails is logged and forgotten, never
# retried (it would arrive too late to mean anything) and never holds up processing.
@job(queue="outbound", priority=10, max_attempts=1, stale_after=timedelta(minutes=2))
def message_mark_read(*, message_id: int, typing: bool = False) -> bool:
    from chatdesk.messaging.providers import ProviderError, provider_for

    message = (
        Message.dangerously_unscoped_objects.select_related("channel")
        .filter(pk=message_id, direction=Direction.INBOUND)
        .first()
    )
    if message is None or not message.provider_message_id or not message.channel.is_active:
        return False
    try:
        with provider_for(message.channel) as provider:
            provider.mark_read(message_id=message.provider_message_id, typing=typing)
    except ProviderError as error:
        logger.warning(
            "could not mark an inbound message as read",
            extra={"message_id": message_id, "error_code": error.code, "reason": error.reason},
        )
        return False
    return True


@periodic(every=timedelta(minutes=1), queue="default", priority=40, max_attempts=1)
def reconcile_inbound_messages() -> int:
    return inbound_messages_reconcile()


@periodic(every=timedelta(days=1), queue="default", max_attempts=1)
def prune_webhook_events() -> int:
    return webhook_events_prune()


def inbound_messages_reconcile(*, now=None, limit: int = RECONCILE_BATCH) -> int:
    """Re-enqueue processing of inbound messages stuck unprocessed; returns how many.

    Stuck: `processed_at` still empty INBOUND_RECONCILE_AFTER_SECONDS after storing, with no
    processing job waiting or running for it (its row was lost, or pruned, or never committed
    by a backend outside the database). A message whose processing failed for good is left to
    the operator (JobFailure list), so a poison message is not retried forever.
    """
    from django_tasks_db.models import DBTaskResult

    from chatdesk.jobs.models import JobFailure

    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.ENV.INBOUND_RECONCILE_AFTER_SECONDS)
    candidates = list(
        Message.dangerously_unscoped_objects.filter(
            direction=Direction.INBOUND, processed_at__isnull=True, created_at__lt=cutoff
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    if not candidates:
        return 0
    path = message_process_inbound.module_path
    pending = DBTaskResult.objects.filter(
        task_path=path,
        status__in=[TaskResultStatus.READY, TaskResultStatus.RUNNING],
        args_kwargs__kwargs__message_id__in=candidates,
    ).values_list("args_kwargs", flat=True)
    given_up = JobFailure.objects.filter(
        task_path=path, retried_at__isnull=True, args_kwargs__kwargs__message_id__in=candidates
    ).values_list("args_kwargs", flat=True)
    covered = {args["kwargs"]["message_id"] for args in [*pending, *given_up]}
    stuck = [pk for pk in candidates if pk not in covered]
    with transaction.atomic():
        for pk in stuck:
            message_process_inbound.enqueue(message_id=pk)
    if stuck:
        logger.warning(
            "re-enqueued processing of %s inbound message(s) stuck unprocessed",
            len(stuck),
            extra={"message_ids": stuck[:50]},
        )
    return len(stuck)


def webhook_events_prune(*, now=None, batch: int = PRUNE_BATCH) -> int:
    """Delete raw webhook events older than WEBHOOK_EVENT_RETENTION_DAYS; returns how many."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.ENV.WEBHOOK_EVENT_RETENTION_DAYS)
    # Across every workspace: retention is one policy for the whole installation.
    old = WebhookEvent.dangerously_unscoped_objects.filter(received_at__lt=cutoff)
    deleted = 0
    # Small batches keep each write short (SQLite has one writer; PostgreSQL keeps locks brief).
    while ids := list(old.order_by("received_at").values_list("pk", flat=True)[:batch]):
        deleted += WebhookEvent.dangerously_unscoped_objects.filter(pk__in=ids).delete()[0]
    return deleted
