"""Outbound replies: recorded before the provider call, sent at most once, statuses follow.

Flow: `message_send_text` checks the 24-hour window (`message_send_template`, an approved
template, needs no window), stores the message as `queued` and enqueues `message_deliver` in the
same transaction. The job moves the row `queued -> sending` and commits
BEFORE calling the provider, so a re-run (retry, reaper after a crash) that finds `sending` knows
a call may have gone out and does not repeat it.

At most once, by design: WhatsApp's send API takes no idempotency key, so when a run dies after
the call and before recording its answer (or the answer never arrives: a read timeout), nobody can
tell whether the customer got the message. Such a message is marked failed with an "outcome
unknown" reason for an agent to check, never re-sent. Everything that certainly did not reach the
provider (connection failures, throughput and pair-rate refusals, 5xx) is retried with backoff.
"""

from __future__ import annotations

import logging
from functools import partial

from django.db import transaction
from django.db.models import Q
from django.tasks import TaskResultStatus
from django.utils import timezone

from chatdesk.crm.models import (
    Author,
    Conversation,
    Direction,
    Message,
    MessageStatus,
)
from chatdesk.jobs.retry import with_database_retries
from chatdesk.messaging.models import MessageTemplate, template_parameter_errors
from chatdesk.messaging.providers import (
    OutsideWindowError,
    ProviderError,
    SendResult,
    provider_for,
)
from chatdesk.messaging.ratelimits import send_slot_acquire
from chatdesk.messaging.services import status_reports_apply
from chatdesk.reports.services import conversation_days_record_reply

logger = logging.getLogger(__name__)

OUTCOME_UNKNOWN = "Delivery outcome unknown"
# A provider's Retry-After beyond this is not trusted blindly (the job's backoff stops there too).
MAX_RETRY_AFTER_SECONDS = 900.0


class SendRefusedError(Exception):
    """A send refused before reaching the provider; the message is safe to show to the agent."""


@transaction.atomic
def message_send_text(
    *,
    conversation: Conversation,
    text: str,
    author: str = Author.AGENT,
    sent_by=None,
    reply_to_provider_id: str = "",
) -> Message:
    from chatdesk.messaging.tasks import message_deliver

    text = (text or "").strip()
    if not text:
        raise SendRefusedError("A reply cannot be empty.")
    if len(text) > 4096:
        raise SendRefusedError("WhatsApp text messages are limited to 4096 characters.")
    conversation = (
        Conversation.objects.for_workspace(conversation.workspace)
        .select_for_update()
        .get(pk=conversation.pk)
    )
    if not conversation.window_open():
        raise SendRefusedError(
            "The 24-hour window is closed: the customer has not written in the last 24 hours. "
            "Send an approved template instead."
        )
    now = timezone.now()
    message = Message.objects.for_workspace(conversation.workspace).create(
        workspace=conversation.workspace,
        conversation=conversation,
        channel_id=conversation.channel_id,
        direction=Direction.OUTBOUND,
        author=author,
        sent_by=sent_by,
        type="text",
        text=text,
        payload={"body": text},
        provider_timestamp=now,
        reply_to_provider_id=reply_to_provider_id,
        status=MessageStatus.QUEUED,
    )
    Conversation.objects.for_workspace(conversation.workspace).filter(pk=conversation.pk).update(
        last_message_at=now
    )
    conversation_days_record_reply(conversation=conversation, author=author, at=now)
    message_deliver.enqueue(message_id=message.pk)
    return message


class TemplateParametersError(SendRefusedError):
    """Template parameters the agent must fix: `errors` maps each placeholder number to why."""

    def __init__(self, errors: dict[int, str]):
        super().__init__(" ".join(errors[n] for n in sorted(errors)))
        self.errors = errors


@transaction.atomic
def message_send_template(
    *,
    conversation: Conversation,
    template_id: int,
    parameters: list[str],
    author: str = Author.AGENT,
    sent_by=None,
) -> Message:
    """Record an approved template (open or closed window alike) and queue its delivery.

    The stored text is the body with the parameters filled in, as the customer will read it;
    the payload keeps what the provider needs (name, language, parameters). Clears the
    conversation's "needs a template" flag: the agent has done what it asked for.
    """
    from chatdesk.messaging.tasks import message_deliver

    workspace = conversation.workspace
    conversation = (
        Conversation.objects.for_workspace(workspace).select_for_update().get(pk=conversation.pk)
    )
    template = (
        MessageTemplate.objects.for_workspace(workspace)
        .filter(Q(channel__isnull=True) | Q(channel_id=conversation.channel_id))
        .filter(pk=template_id, is_enabled=True)
        .first()
    )
    if template is None:
        raise SendRefusedError(
            "That template is not available for this channel any more (disabled or deleted). "
            "Choose another one."
        )
    parameters = [p.strip() for p in parameters[: template.parameter_count]]
    if errors := template_parameter_errors(template, parameters):
        raise TemplateParametersError(errors)
    now = timezone.now()
    message = Message.objects.for_workspace(workspace).create(
        workspace=workspace,
        conversation=conversation,
        channel_id=conversation.channel_id,
        direction=Direction.OUTBOUND,
        author=author,
        sent_by=sent_by,
        type="template",
        text=template.render(parameters),
        payload={
            "template": {
                "id": template.pk,
                "name": template.name,
                "language": template.language,
                "parameters": parameters,
            }
        },
        provider_timestamp=now,
        status=MessageStatus.QUEUED,
    )
    Conversation.objects.for_workspace(workspace).filter(pk=conversation.pk).update(
        last_message_at=now, needs_template=False
    )
    conversation_days_record_reply(conversation=conversation, author=author, at=now)
    message_deliver.enqueue(message_id=message.pk)
    return message


class DeliverOutcome:
    SENT = "sent"
    SKIPPED = "skipped"
    FAILED = "failed"
    RETRY = "retry"  # the provider refused for now: counts as an attempt
    DEFERRED = "deferred"  # our own send limits: try again later, not an attempt


def message_deliver_once(
    *,
    message_id: int,
    last_attempt: bool = False,
    task_id: str | None = None,
    client=None,
) -> tuple[str, float]:
    """One delivery attempt. Returns (outcome, seconds to wait before the next one).

    `task_id` is the job row running this attempt (so it does not count itself as a concurrent
    delivery of the same message).
    """
    with transaction.atomic():
        message = (
            Message.dangerously_unscoped_objects.select_for_update()
            .select_related("channel", "conversation__contact")
            .filter(pk=message_id, direction=Direction.OUTBOUND)
            .first()
        )
        if message is None:
            return DeliverOutcome.SKIPPED, 0.0
        if message.status == MessageStatus.SENDING:
            if _delivery_in_flight(message_id=message_id, exclude_task_id=task_id):
                # A duplicate job while another run is calling the provider: that run records
                # the answer. (If its worker dies, the reaper's re-run lands in the branch below.)
                return DeliverOutcome.SKIPPED, 0.0
            # A previous run died between committing `sending` and recording the result: the
            # provider may have the message. Never risk sending it twice.
            _fail(
                message,
                "",
                f"{OUTCOME_UNKNOWN}: the send was interrupted after reaching out to the "
                "provider; not re-sent. Check with the customer before sending it again.",
            )
            return DeliverOutcome.FAILED, 0.0
        if message.status != MessageStatus.QUEUED:
            return DeliverOutcome.SKIPPED, 0.0  # already sent or failed: a duplicate job run
        if not message.channel.is_active:
            _fail(message, "", "The channel is inactive.")
            return DeliverOutcome.FAILED, 0.0
        if message.type == "text" and not message.conversation.window_open():
            _fail(message, "131047", "Outside the 24-hour window: send a template.")
            _needs_template(message)
            return DeliverOutcome.FAILED, 0.0
        wait = send_slot_acquire(
            phone_number_id=message.channel.phone_number_id,
            wa_id=message.conversation.contact.wa_id,
        )
        if wait:
            return DeliverOutcome.DEFERRED, wait
        message.status = MessageStatus.SENDING
        message.send_attempts += 1
        message.save(update_fields=["status", "send_attempts"])

    # The row is committed as `sending`: if this run dies before recording the answer, a re-run
    # reports "outcome unknown" instead of sending again. Recording rides out a short database
    # outage, so a message the provider accepted is not reported unknown because of a blip.
    with provider_for(message.channel, client=client) as provider:
        try:
            result = _provider_send(provider, message)
        except OutsideWindowError as error:
            with_database_retries(partial(_fail_outside_window, message, error))
            return DeliverOutcome.FAILED, 0.0
        except ProviderError as error:
            if error.retryable and not last_attempt:
                with_database_retries(partial(_requeue, message, error))
                wait = min(error.retry_after or 0.0, MAX_RETRY_AFTER_SECONDS)
                return DeliverOutcome.RETRY, wait
            reason = error.reason
            if error.outcome_unknown:
                reason = f"{OUTCOME_UNKNOWN} ({error.reason}); not re-sent."
            with_database_retries(partial(_fail, message, error.code, reason))
            return DeliverOutcome.FAILED, 0.0
    with_database_retries(partial(_record_sent, message, result.provider_message_id))
    return DeliverOutcome.SENT, 0.0


def _provider_send(provider, message: Message) -> SendResult:
    to = message.conversation.contact.wa_id
    if message.type == "template":
        template = message.payload["template"]
        parameters = template.get("parameters") or []
        components = (
            [{"type": "body", "parameters": [{"type": "text", "text": p} for p in parameters]}]
            if parameters
            else None
        )
        return provider.send_template(
            to=to, name=template["name"], language=template["language"], components=components
        )
    return provider.send_text(to=to, body=message.text, reply_to=message.reply_to_provider_id)


def _delivery_in_flight(*, message_id: int, exclude_task_id: str | None) -> bool:
    """Another job row is RUNNING a delivery of this message right now."""
    from django_tasks_db.models import DBTaskResult

    from chatdesk.messaging.tasks import message_deliver

    running = DBTaskResult.objects.filter(
        task_path=message_deliver.module_path,
        status=TaskResultStatus.RUNNING,
        args_kwargs__kwargs__message_id=message_id,
    )
    if exclude_task_id:
        running = running.exclude(id=exclude_task_id)
    return running.exists()


@transaction.atomic
def _record_sent(message: Message, provider_message_id: str) -> None:
    Message.dangerously_unscoped_objects.filter(pk=message.pk).update(
        provider_message_id=provider_message_id,
        status=MessageStatus.SENT,
        status_at=timezone.now(),
        error_code="",
        error_reason="",
    )
    # A status report may have arrived before we learnt the id: apply it now.
    status_reports_apply(channel=message.channel, provider_message_id=provider_message_id)


@transaction.atomic
def _requeue(message: Message, error: ProviderError) -> None:
    # The provider refused it: nothing was sent, so going back to `queued` is safe.
    Message.dangerously_unscoped_objects.filter(pk=message.pk, status=MessageStatus.SENDING).update(
        status=MessageStatus.QUEUED, error_code=error.code, error_reason=error.reason
    )


@transaction.atomic
def _fail_outside_window(message: Message, error: ProviderError) -> None:
    _fail(message, error.code, error.reason)
    _needs_template(message)


def _fail(message: Message, code: str, reason: str) -> None:
    Message.dangerously_unscoped_objects.filter(pk=message.pk).update(
        status=MessageStatus.FAILED, error_code=code, error_reason=reason, status_at=timezone.now()
    )
    logger.warning(
        "outbound message failed",
        extra={"message_id": message.pk, "error_code": code, "reason": reason},
    )


def _needs_template(message: Message) -> None:
    Conversation.dangerously_unscoped_objects.filter(pk=message.conversation_id).update(
        needs_template=True
    )
