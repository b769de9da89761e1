"""Inbound storage: one webhook delivery -> raw event + contact/conversation/message rows + jobs,
in one transaction. Idempotent at every level, enforced by unique constraints.

Every delivery first takes the fast path: plain INSERTs without savepoints, one read each for
the contact and its conversation, one UPDATE of the thread's clocks. A unique-constraint
conflict aborts that transaction as a whole: on the raw event it means a re-delivery (nothing is
stored); on any other row (a wamid re-sent in another body, a contact or status a concurrent
delivery created first) the delivery is stored again on the careful path, which puts a
savepoint around each INSERT that may collide and skips duplicates row by row. Both paths store
the same rows (tests/messaging/test_ingest_paths.py runs every case both ways).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
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

# A channel's "last webhook" time and outcome are written at most this often per process while
# the outcome stays the same. The Integrations page shows them to the second, but every
# concurrent delivery of a number would otherwise update (and, on PostgreSQL, lock until commit)
# the same channel row.
WEBHOOK_TOUCH_INTERVAL_SECONDS = 10.0
_WEBHOOK_TOUCHES_MAX = 4096
# channel_key (unique and never reused, unlike a pk on SQLite) -> (outcome, time.monotonic()).
_webhook_touches: dict[str, tuple[str, float]] = {}

# SQLite has one writer at a time. The threads of a process that wait on this lock take turns
# as soon as the previous one commits; left to SQLite's busy handler they poll with sleeps of up
# to 100 ms each, which made the latency tail under concurrent webhooks (bench/README.md).
_sqlite_writer = threading.Lock()


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


def webhook_delivery_store(
    *,
    channel: Channel,
    idempotency_key: str,
    body: bytes,
    delivery: ParsedDelivery,
    request_id: str = "",
) -> IngestResult:
    """Store one verified delivery and enqueue its processing, all or nothing."""
    event = {"idempotency_key": idempotency_key, "body": body, "request_id": request_id}
    with _sqlite_writer_turn():
        event_stored = False
        try:
            with transaction.atomic():
                _webhook_event_create(channel=channel, delivery=delivery, **event)
                event_stored = True
                result = _delivery_rows_store(channel=channel, delivery=delivery, careful=False)
                channel_touch_webhook(channel=channel, outcome="ok")
                return result
        except IntegrityError:
            if not event_stored:
                # The first statement of the transaction: nothing else was written.
                channel_touch_webhook(channel=channel, outcome="duplicate")
                return IngestResult(duplicate_delivery=True)
        return _webhook_delivery_store_careful(channel=channel, delivery=delivery, **event)


@transaction.atomic
def _webhook_delivery_store_careful(
    *,
    channel: Channel,
    idempotency_key: str,
    body: bytes,
    delivery: ParsedDelivery,
    request_id: str,
) -> IngestResult:
    try:
        with transaction.atomic():
            _webhook_event_create(
                channel=channel,
                idempotency_key=idempotency_key,
                body=body,
                delivery=delivery,
                request_id=request_id,
            )
    except IntegrityError:  # an identical delivery committed in the meantime
        channel_touch_webhook(channel=channel, outcome="duplicate")
        return IngestResult(duplicate_delivery=True)
    result = _delivery_rows_store(channel=channel, delivery=delivery, careful=True)
    channel_touch_webhook(channel=channel, outcome="ok")
    return result


@contextlib.contextmanager
def _sqlite_writer_turn() -> Iterator[None]:
    # Inside a caller's transaction the write lock (BEGIN IMMEDIATE) is held already.
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        yield
        return
    with _sqlite_writer:
        yield


def _webhook_event_create(
    *,
    channel: Channel,
    idempotency_key: str,
    body: bytes,
    delivery: ParsedDelivery,
    request_id: str,
) -> None:
    WebhookEvent.objects.for_workspace(channel.workspace).create(
        workspace=channel.workspace,
        channel=channel,
        idempotency_key=idempotency_key[:128],
        event_type=delivery.event_type[:64],
        body=body,
        request_id=request_id[:64],
    )


def _delivery_rows_store(
    *, channel: Channel, delivery: ParsedDelivery, careful: bool
) -> IngestResult:
    result = IngestResult()
    for message in delivery.messages:
        if careful:
            stored = message_store_inbound(channel=channel, event=message)
        else:
            stored = _message_store_inbound_fast(channel=channel, event=message)
        if stored is None:
            result.messages_duplicate += 1
        else:
            result.messages_created += 1
    for status in delivery.statuses:
        if careful:
            created, applied = status_report_store(channel=channel, event=status)
        else:
            report = _status_report_create(channel=channel, event=status)
            created = True
            applied = status_reports_apply(
                channel=channel, provider_message_id=report.provider_message_id
            )
        result.statuses_created += int(created)
        result.statuses_applied += int(applied)
    return result


def channel_touch_webhook(*, channel: Channel, outcome: str) -> None:
    """Record when the channel last received a webhook and how it ended (throttled, see above)."""
    outcome = outcome[:64]
    key = channel.channel_key
    now = time.monotonic()
    last = _webhook_touches.get(key)
    if last is not None and last[0] == outcome and now - last[1] < WEBHOOK_TOUCH_INTERVAL_SECONDS:
        return
    Channel.objects.for_workspace(channel.workspace).filter(pk=channel.pk).update(
        last_webhook_at=timezone.now(), last_webhook_outcome=outcome
    )

    def remember() -> None:
        if len(_webhook_touches) >= _WEBHOOK_TOUCHES_MAX:
            _webhook_touches.clear()
        _webhook_touches[key] = (outcome, now)

    # Only once the row is written for good: a rolled-back touch must not silence the next one.
    transaction.on_commit(remember)


def channel_touch_webhook_forget(*, channel: Channel) -> None:
    """The outcome was changed by another write (a signature failure): the next touch writes."""
    _webhook_touches.pop(channel.channel_key, None)


def contact_upsert(*, channel: Channel, wa_id: str, name: str) -> Contact:
    contact, created = Contact.objects.for_workspace(channel.workspace).get_or_create(
        wa_id=wa_id,
        defaults={"workspace": channel.workspace, "phone": f"+{wa_id}", "name": name[:200]},
    )
    if not created:
        _contact_name_fill(contact=contact, name=name)
    return contact


def conversation_for_contact(*, channel: Channel, contact: Contact) -> Conversation:
    conversation, _ = Conversation.objects.for_workspace(channel.workspace).get_or_create(
        channel=channel, contact=contact, defaults={"workspace": channel.workspace}
    )
    return conversation


@transaction.atomic(savepoint=False)  # for the row lock; a caller's transaction is enough
def message_store_inbound(*, channel: Channel, event: InboundMessage) -> Message | None:
    """Create the inbound message and enqueue its jobs; None when it was already stored."""
    contact = contact_upsert(channel=channel, wa_id=event.wa_id, name=event.contact_name)
    conversation = conversation_for_contact(channel=channel, contact=contact)
    try:
        with transaction.atomic():
            message = Message.objects.for_workspace(channel.workspace).create(
                **_inbound_message_fields(channel=channel, conversation=conversation, event=event)
            )
    except IntegrityError:
        return None  # this wamid is already stored: a duplicate delivery
    conversation = (
        Conversation.objects.for_workspace(channel.workspace)
        .select_for_update()
        .get(pk=conversation.pk)
    )
    _conversation_record_inbound(conversation=conversation, message=message)
    _inbound_jobs_enqueue(message=message, event=event)
    return message


def _message_store_inbound_fast(*, channel: Channel, event: InboundMessage) -> Message:
    """`message_store_inbound` without savepoints: a conflict raises IntegrityError, which
    aborts the delivery's transaction (see the module docstring)."""
    workspace = channel.workspace
    # Two lookups, each on a unique index, rather than one join: a join's plan depends on
    # statistics, and with none yet (a new database) PostgreSQL nested-looped over every
    # conversation of the channel.
    contact = _one_or_none(Contact.objects.for_workspace(workspace).filter(wa_id=event.wa_id))
    conversation = None
    if contact is None:
        contact = Contact.objects.for_workspace(workspace).create(
            workspace=workspace,
            wa_id=event.wa_id,
            phone=f"+{event.wa_id}",
            name=event.contact_name[:200],
        )
    else:
        _contact_name_fill(contact=contact, name=event.contact_name)
        conversation = _one_or_none(
            Conversation.objects.for_workspace(workspace)
            .select_for_update()
            .filter(channel=channel, contact=contact)
        )
    opened = conversation is None
    if opened:
        # Born with the clocks this message sets: no UPDATE after the INSERT.
        conversation = Conversation.objects.for_workspace(workspace).create(
            workspace=workspace,
            channel=channel,
            contact=contact,
            last_message_at=event.timestamp,
            last_inbound_at=event.timestamp,
            unread_count=1,
            needs_human=event.unsupported,
        )
    message = Message.objects.for_workspace(workspace).create(
        **_inbound_message_fields(channel=channel, conversation=conversation, event=event)
    )
    if not opened:
        _conversation_record_inbound(conversation=conversation, message=message)
    _inbound_jobs_enqueue(message=message, event=event)
    return message


def _one_or_none(queryset):
    """The row a unique constraint allows at most one of (unlike `.first()`, no ORDER BY)."""
    return next(iter(queryset[:1]), None)


def _inbound_message_fields(
    *, channel: Channel, conversation: Conversation, event: InboundMessage
) -> dict:
    return {
        "workspace": channel.workspace,
        "conversation": conversation,
        "channel": channel,
        "direction": Direction.INBOUND,
        "author": Author.CUSTOMER,
        "type": event.type[:32],
        "text": event.text,
        "payload": event.payload,
        "provider_message_id": event.provider_message_id,
        "provider_timestamp": event.timestamp,
        "reply_to_provider_id": event.reply_to_provider_id[:128],
        "status": MessageStatus.RECEIVED,
        "unsupported": event.unsupported,
        "media_id": event.media_id[:128],
        "media_mime_type": event.media_mime_type[:128],
        "media_state": MediaState.PENDING if _has_media(event) else MediaState.NONE,
    }


def _has_media(event: InboundMessage) -> bool:
    return bool(event.media_id or event.media_url)


def _inbound_jobs_enqueue(*, message: Message, event: InboundMessage) -> None:
    from chatdesk.messaging import tasks

    tasks.message_process_inbound.enqueue(message_id=message.pk)
    if _has_media(event):
        tasks.message_fetch_media.enqueue(message_id=message.pk, media_url=event.media_url)


def _contact_name_fill(*, contact: Contact, name: str) -> None:
    """A name learnt from the provider fills an empty one; a name someone set is kept."""
    if name and not contact.name:
        contact.name = name[:200]
        contact.save(update_fields=["name", "updated_at"])


def _conversation_record_inbound(*, conversation: Conversation, message: Message) -> None:
    """Move the thread's clocks forward (never back: deliveries may arrive out of order), count
    the message as unread and reopen a resolved thread, in one UPDATE.

    `conversation` must have been read in this transaction with `select_for_update()`: the
    changes are computed from it, and the row lock (PostgreSQL; on SQLite the transaction holds
    the database's write lock from BEGIN IMMEDIATE) keeps a concurrent delivery or agent from
    changing it in between."""
    at = message.provider_timestamp
    changes: dict = {"unread_count": conversation.unread_count + 1}
    if conversation.last_message_at is None or conversation.last_message_at < at:
        changes["last_message_at"] = at
    if conversation.last_inbound_at is None or conversation.last_inbound_at < at:
        changes["last_inbound_at"] = at
        changes["needs_template"] = False  # the customer reopened the 24-hour window
    if conversation.status == ConversationStatus.RESOLVED:
        changes["status"] = ConversationStatus.OPEN
    if message.unsupported:
        changes["needs_human"] = True
    Conversation.objects.for_workspace(message.workspace).filter(pk=conversation.pk).update(
        **changes
    )


def status_report_store(*, channel: Channel, event: StatusUpdate) -> tuple[bool, bool]:
    """Keep the report (even before its message exists) and apply it. Returns (created, applied)."""
    try:
        with transaction.atomic():
            report = _status_report_create(channel=channel, event=event)
    except IntegrityError:
        return False, False
    return True, status_reports_apply(
        channel=channel, provider_message_id=report.provider_message_id
    )


def _status_report_create(*, channel: Channel, event: StatusUpdate) -> StatusReport:
    return StatusReport.objects.for_workspace(channel.workspace).create(
        workspace=channel.workspace,
        channel=channel,
        provider_message_id=event.provider_message_id[:128],
        status=event.status[:16],
        provider_timestamp=event.timestamp,
        error_code=event.error_code[:32],
        error_reason=event.error_reason,
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
