"""Background jobs of the messaging pipeline. Thin: load by id, call a service, idempotent."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from chatdesk.crm.models import Message
from chatdesk.jobs.retry import RetryJobLater, current_job, job

logger = logging.getLogger(__name__)


# A customer waits on these: a job whose worker died is re-queued after 2 minutes, not 15.
@job(queue="inbound", max_attempts=8, stale_after=timedelta(minutes=2))
def message_process_inbound(*, message_id: int) -> None:
    with transaction.atomic():
        message = (
            Message.dangerously_unscoped_objects.select_for_update()
            .filter(pk=message_id, processed_at__isnull=True)
            .first()
        )
        if message is None:
            return  # already processed (a re-run) or deleted
        # The assistant hooks in here (issue 5); for now processing marks the message handled.
        message.processed_at = timezone.now()
        message.save(update_fields=["processed_at"])


@job(queue="inbound", max_attempts=6, stale_after=timedelta(minutes=5))
def message_fetch_media(*, message_id: int, media_url: str = "") -> None:
    logger.info("media fetch not implemented yet", extra={"message_id": message_id})


@job(
    queue="outbound",
    max_attempts=8,
    backoff_base=4,
    backoff_max=900,
    stale_after=timedelta(minutes=2),
)
def message_deliver(*, message_id: int) -> None:
    from chatdesk.messaging.outbound import DeliverOutcome, message_deliver_once

    run = current_job()
    outcome, wait = message_deliver_once(
        message_id=message_id, last_attempt=bool(run and run.is_last_attempt)
    )
    if outcome == DeliverOutcome.DEFERRED:
        # Our shared send limits are full: come back when the window frees, same attempt.
        message_deliver.using(run_after=timezone.now() + timedelta(seconds=wait)).enqueue(
            message_id=message_id, _attempt=run.attempt if run else 1
        )
    elif outcome == DeliverOutcome.RETRY:
        # A provider limit or outage: retry after its hint, else the policy's backoff.
        if wait:
            raise RetryJobLater("provider asked to retry later", delay_seconds=wait)
        raise RuntimeError("provider refused the send for now; retrying with backoff")
