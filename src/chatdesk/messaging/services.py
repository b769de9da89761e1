"""Inbound storage: one webhook delivery -> raw event + contact/conversation/message rows + jobs,
in the caller's single transaction. Idempotent at every level, enforced by unique constraints."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from chatdesk.crm.models import (
    STATUS_RANK,
    Author,
    Contact,
    Conversation,
    ConversationStatus,
    Direction,
    MediaState,
    Message,
    MessageStatus,
)
from chatdesk.messaging.events import InboundMessage, ParsedDelivery, StatusUpdate
from chatdesk.messaging.models import Channel, StatusReport, WebhookEvent

logger = logging.getLogger(__name__)

# Meta error code for a free-text send outside the 24-hour window: needs a template instead.
OUTSIDE_WINDOW_ERROR = "131047"


@dataclass
class IngestResult:
    duplicate_delivery: bool = False
    messages_created: int = 0
    messages_duplicate: int = 0
    statuses_created: int = 0
    statuses_applied: int = 0


def body_idempotency_key(body: bytes) -> str:
    """Meta has no delivery id; its retries re-send the same bytes, so the body hash is one."""
    return "sha256:" + hashlib.sha256(body).hexdigest()


@transaction.atomic
def webhook_delivery_store(
    *,
    channel: Channel,
    idempotency_key: str,
    body: bytes,
    delivery: ParsedDelivery,
    request_id: str = "",
) -> IngestResult:
    """Store one verified delivery and enqueue its processing, all or nothing."""
    result = IngestResult()
    try:
        with transaction.atomic():
            WebhookEvent.objects.for_workspace(channel.workspace).create(
                workspace=channel.workspace,
                channel=channel,
                idempotency_key=idempotency_key[:128],
                event_type=delivery.event_type[:64],
                body=body,
                request_id=request_id[:64],
            )
    except IntegrityError:
        result.duplicate_delivery = True
        channel_touch_webhook(channel=channel, outcome="duplicate")
        return result
    for message in delivery.messages:
        if message_store_inbound(channel=channel, event=message) is None:
            result.messages_duplicate += 1
        else:
            result.messages_created += 1
    for status in delivery.statuses:
        created, applied = status_report_store(channel=channel, event=status)
        result.statuses_created += int(created)
        result.statuses_applied += int(applied)
    channel_touch_webhook(channel=channel, outcome="ok")
    return result


def channel_touch_webhook(*, channel: Channel, outcome: str) -> None:
    Channel.objects.for_workspace(channel.workspace).filter(pk=channel.pk).update(
        last_webhook_at=timezone.now(), last_webhook_outcome=outcome[:64]
    )


def contact_upsert(*, channel: Channel, wa_id: str, name: str) -> Contact:
    contact, created = Contact.objects.for_workspace(channel.workspace).get_or_create(
        wa_id=wa_id,
        defaults={"workspace": channel.workspace, "phone": f"+{wa_id}", "name": name[:200]},
    )
    if not created and name and not contact.name:
        contact.name = name[:200]
        contact.save(update_fields=["name", "updated_at"])
    return contact


def conversation_for_contact(*, channel: Channel, contact: Contact) -> Conversation:
    conversation, _ = Conversation.objects.for_workspace(channel.workspace).get_or_create(
        channel=channel, contact=contact, defaults={"workspace": channel.workspace}
    )
    return conversation


def message_store_inbound(*, channel: Channel, event: InboundMessage) -> Message | None:
    """Create the inbound message and enqueue its jobs; None when it was already stored."""
    from chatdesk.messaging import tasks

    contact = contact_upsert(channel=channel, wa_id=event.wa_id, name=event.contact_name)
    conversation = conversation_for_contact(channel=channel, contact=contact)
    has_media = bool(event.media_id or event.media_url)
    try:
        with transaction.atomic():
            message = Message.objects.for_workspace(channel.workspace).create(
                workspace=channel.workspace,
                conversation=conversation,
                channel=channel,
                direction=Direction.INBOUND,
                author=Author.CUSTOMER,
                type=event.type[:32],
                text=event.text,
                payload=event.payload,
                provider_message_id=event.provider_message_id,
                provider_timestamp=event.timestamp,
                reply_to_provider_id=event.reply_to_provider_id[:128],
                status=MessageStatus.RECEIVED,
                unsupported=event.unsupported,
                media_id=event.media_id[:128],
                media_mime_type=event.media_mime_type[:128],
                media_state=MediaState.PENDING if has_media else MediaState.NONE,
            )
    except IntegrityError:
        return None  # this wamid is already stored: a duplicate delivery
    _conversation_record_inbound(conversation=conversation, message=message)
    tasks.message_process_inbound.enqueue(message_id=message.pk)
    if has_media:
        tasks.message_fetch_media.enqueue(message_id=message.pk, media_url=event.media_url)
    return message


def _conversation_record_inbound(*, conversation: Conversation, message: Message) -> None:
    """Move the thread's clocks forward (never back: deliveries may arrive out of order)."""
    at = message.provider_timestamp
    updates = Conversation.objects.for_workspace(conversation.workspace).filter(pk=conversation.pk)
    updates.filter(Q(last_message_at__isnull=True) | Q(last_message_at__lt=at)).update(
        last_message_at=at
    )
    updates.filter(Q(last_inbound_at__isnull=True) | Q(last_inbound_at__lt=at)).update(
        last_inbound_at=at, needs_template=False
    )
    updates.filter(status=ConversationStatus.RESOLVED).update(status=ConversationStatus.OPEN)
    updates.update(unread_count=F("unread_count") + 1)  # in SQL: concurrent inbounds all count
    if message.unsupported:
        updates.update(needs_human=True)


def status_report_store(*, channel: Channel, event: StatusUpdate) -> tuple[bool, bool]:
    """Keep the report (even before its message exists) and apply it. Returns (created, applied)."""
    try:
        with transaction.atomic():
            report = StatusReport.objects.for_workspace(channel.workspace).create(
                workspace=channel.workspace,
                channel=channel,
                provider_message_id=event.provider_message_id[:128],
                status=event.status[:16],
                provider_timestamp=event.timestamp,
                error_code=event.error_code[:32],
                error_reason=event.error_reason,
            )
    except IntegrityError:
        return False, False
    return True, status_reports_apply(
        channel=channel, provider_message_id=report.provider_message_id
    )


def status_reports_apply(*, channel: Channel, provider_message_id: str) -> bool:
    """Apply every unapplied report of one message, in rank order. True if any changed it.

    Called when a report arrives and when an outbound message learns its provider id, so a
    status that arrived before its message is applied as soon as the message appears.
    """
    message = (
        Message.objects.for_workspace(channel.workspace)
        .select_for_update()
        .filter(channel=channel, provider_message_id=provider_message_id)
        .first()
    )
    if message is None:
        return False
    reports = list(
        StatusReport.objects.for_workspace(channel.workspace).filter(
            channel=channel, provider_message_id=provider_message_id, applied_at__isnull=True
        )
    )
    changed = False
    for report in sorted(reports, key=lambda r: _rank(r.status)):
        if _rank(report.status) > _rank(message.status):
            message.status = report.status
            message.status_at = report.provider_timestamp
            if report.status == MessageStatus.FAILED:
                message.error_code = report.error_code
                message.error_reason = report.error_reason
                if report.error_code == OUTSIDE_WINDOW_ERROR:
                    Conversation.objects.for_workspace(channel.workspace).filter(
                        pk=message.conversation_id
                    ).update(needs_template=True)
            changed = True
    if changed:
        message.save(update_fields=["status", "status_at", "error_code", "error_reason"])
    if reports:
        StatusReport.objects.for_workspace(channel.workspace).filter(
            pk__in=[r.pk for r in reports]
        ).update(applied_at=timezone.now())
    return changed


def _rank(status: str) -> int:
    try:
        return STATUS_RANK[MessageStatus(status)]
    except ValueError:
        return -1  # unknown status names never move a message


@transaction.atomic
def channel_create(
    *,
    workspace,
    kind: str,
    phone_number_id: str,
    display_number: str,
    signing_secret: str,
    api_token: str,
    verify_token: str | None = None,
    name: str = "",
) -> Channel:
    return Channel.objects.for_workspace(workspace).create(
        workspace=workspace,
        kind=kind,
        name=name,
        phone_number_id=phone_number_id,
        display_number=display_number,
        signing_secret=signing_secret,
        api_token=api_token,
        verify_token=verify_token,
    )
