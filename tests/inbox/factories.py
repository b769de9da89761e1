"""Builders for inbox tests: conversations and messages with explicit times and states."""

from __future__ import annotations

import itertools
from datetime import timedelta

from django.utils import timezone

from chatdesk.crm.models import (
    Author,
    Contact,
    Conversation,
    Direction,
    Label,
    Message,
    MessageStatus,
)
from tests.factories import make_channel

_numbers = itertools.count(1)


def conversation_make(
    workspace,
    *,
    channel=None,
    name: str = "Siti Rahma",
    wa_id: str | None = None,
    last_message_at=None,
    inbound_minutes_ago: float | None = 5,
    **fields,
) -> Conversation:
    """A conversation whose customer last wrote `inbound_minutes_ago` (None: never)."""
    channel = channel or make_channel(workspace)
    n = next(_numbers)
    wa_id = wa_id or f"62812{n:07d}"
    contact = Contact.objects.for_workspace(workspace).create(
        workspace=workspace, wa_id=wa_id, phone=f"+{wa_id}", name=name
    )
    now = timezone.now()
    last_inbound_at = (
        now - timedelta(minutes=inbound_minutes_ago) if inbound_minutes_ago is not None else None
    )
    return Conversation.objects.for_workspace(workspace).create(
        workspace=workspace,
        channel=channel,
        contact=contact,
        last_message_at=last_message_at or last_inbound_at or now,
        last_inbound_at=last_inbound_at,
        **fields,
    )


def message_make(
    conversation: Conversation,
    *,
    text: str = "Halo",
    direction: str = Direction.INBOUND,
    at=None,
    **fields,
) -> Message:
    inbound = direction == Direction.INBOUND
    values = {
        "author": Author.CUSTOMER if inbound else Author.AGENT,
        "type": "text",
        "status": MessageStatus.RECEIVED if inbound else MessageStatus.SENT,
        "provider_timestamp": at or timezone.now(),
        **fields,
    }
    return Message.objects.for_workspace(conversation.workspace).create(
        workspace=conversation.workspace,
        conversation=conversation,
        channel_id=conversation.channel_id,
        direction=direction,
        text=text,
        **values,
    )


def label_make(workspace, name: str = "Scholarship", color: str = "#7c3aed") -> Label:
    return Label.objects.for_workspace(workspace).create(
        workspace=workspace, name=name, color=color
    )
