"""Outbound replies: recorded before the provider call, sent at most once, statuses follow.

Flow: `message_send_text` checks the 24-hour window, stores the message as `queued` and enqueues
`message_deliver` in the same transaction. The job moves the row `queued -> sending` and commits
BEFORE calling the provider, so a re-run (retry, reaper after a crash) that finds `sending` knows
a call may have gone out and does not repeat it.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from chatdesk.crm.models import (
    Author,
    Conversation,
    Direction,
    Message,
    MessageStatus,
)
from chatdesk.messaging.providers import OutsideWindowError, ProviderError, provider_for
from chatdesk.messaging.ratelimits import send_slot_acquire
from chatdesk.messaging.services import status_reports_apply

logger = logging.getLogger(__name__)


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
    message_deliver.enqueue(message_id=message.pk)
    return message


class DeliverOutcome:
    SENT = "sent"
    SKIPPED = "skipped"
    FAILED = "failed"
    RETRY = "retry"  # the provider refused for now: counts as an attempt
    DEFERRED = "deferred"  # our own send limits: try again later, not an attempt


def message_deliver_once(*, message_id: int, last_attempt: bool = False, client=None):
    """One delivery attempt. Returns (outcome, retry_after_seconds)."""
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
            # A previous run crashed between committing `sending` and recording the result: the
            # provider may have the message. Never risk sending it twice.
            _fail(message, "", "Delivery outcome unknown after an interrupted send; not re-sent.")
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

    provider = provider_for(message.channel, client=client)
    try:
        result = provider.send_text(
            to=message.conversation.contact.wa_id,
            body=message.text,
            reply_to=message.reply_to_provider_id,
        )
    except OutsideWindowError as error:
        with transaction.atomic():
            _fail(message, error.code, error.reason)
            _needs_template(message)
        return DeliverOutcome.FAILED, 0.0
    except ProviderError as error:
        with transaction.atomic():
            if error.retryable and not last_attempt:
                # The provider refused it: nothing was sent, so going back to `queued` is safe.
                Message.dangerously_unscoped_objects.filter(pk=message.pk).update(
                    status=MessageStatus.QUEUED, error_code=error.code, error_reason=error.reason
                )
                return DeliverOutcome.RETRY, error.retry_after or 0.0
            _fail(message, error.code, error.reason)
        return DeliverOutcome.FAILED, 0.0
    with transaction.atomic():
        Message.dangerously_unscoped_objects.filter(pk=message.pk).update(
            provider_message_id=result.provider_message_id,
            status=MessageStatus.SENT,
            status_at=timezone.now(),
            error_code="",
            error_reason="",
        )
        # A status report may have arrived before we learnt the id: apply it now.
        status_reports_apply(
            channel=message.channel, provider_message_id=result.provider_message_id
        )
    return DeliverOutcome.SENT, 0.0


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
