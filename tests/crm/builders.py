"""Builders for CRM tests: contacts, conversations and messages with chosen timestamps."""

from __future__ import annotations

import itertools
from datetime import datetime

from chatdesk.crm.models import (
    Author,
    Contact,
    Conversation,
    Direction,
    Message,
    MessageStatus,
)
from chatdesk.messaging.models import Channel
from tests.factories import make_channel

_numbers = itertools.count(1)


def contact_make(workspace, *, created_at: datetime | None = None, **fields) -> Contact:
    n = next(_numbers)
    phone = fields.pop("phone", f"+62812{n:08d}")
    values = {"name": f"Contact {n}", "wa_id": phone.lstrip("+"), "phone": phone, **fields}
    labels = values.pop("labels", [])
    contact = Contact.objects.for_workspace(workspace).create(workspace=workspace, **values)
    if labels:
        contact.labels.set(labels)
    if created_at is not None:
        # created_at is auto_now_add; tests that need a given time set it afterwards.
        Contact.objects.for_workspace(workspace).filter(pk=contact.pk).update(created_at=created_at)
        contact.created_at = created_at
    return contact


def conversation_make(
    workspace, contact: Contact, *, channel: Channel | None = None, **fields
) -> Conversation:
    channel = channel or make_channel(workspace)
    return Conversation.objects.for_workspace(workspace).create(
        workspace=workspace, channel=channel, contact=contact, **fields
    )


def message_make(
    conversation: Conversation,
    *,
    at: datetime,
    direction: str = Direction.INBOUND,
    author: str | None = None,
    is_private_note: bool = False,
    text: str = "hello",
) -> Message:
    if author is None:
        author = Author.CUSTOMER if direction == Direction.INBOUND else Author.AGENT
    return Message.objects.for_workspace(conversation.workspace).create(
        workspace=conversation.workspace,
        conversation=conversation,
        channel=conversation.channel,
        direction=direction,
        author=author,
        is_private_note=is_private_note,
        type="text",
        text=text,
        provider_timestamp=at,
        status=MessageStatus.RECEIVED if direction == Direction.INBOUND else MessageStatus.SENT,
    )
