"""Builders for the review, thread panel and holding tests: drafts made directly (fast), and
signed-in clients."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from chatdesk.assistant.configuration import assistant_config_current
from chatdesk.assistant.models import AssistantDraft, DraftStatus
from chatdesk.crm.models import Author, Direction, Message
from tests.inbox.factories import conversation_make, message_make

PASSED = [
    {"check": "forbidden_topic", "passed": True, "reason": ""},
    {"check": "unsupported_facts", "passed": True, "reason": ""},
]


def draft_make(
    workspace,
    *,
    conversation=None,
    status: str = DraftStatus.PENDING_REVIEW,
    inbound_text: str = "When does your office open?",
    draft_text: str = "Hi Siti! Our office is open Monday to Friday, 09:00-17:00.",
    sources=("office-hours",),
    verdicts=None,
    minutes_ago: float = 0,
    config=None,
    decision: str = "answer",
    **fields,
) -> AssistantDraft:
    """A draft for a new customer message (in `conversation`, or a new one with the 24-hour
    window open), made `minutes_ago`."""
    now = timezone.now()
    conversation = conversation or conversation_make(workspace, inbound_minutes_ago=1)
    inbound = message_make(conversation, text=inbound_text, at=now - timedelta(minutes=minutes_ago))
    draft = AssistantDraft.objects.for_workspace(workspace).create(
        workspace=workspace,
        conversation=conversation,
        inbound_message=inbound,
        config=config or assistant_config_current(workspace=workspace),
        decision=decision,
        draft_text=draft_text,
        sources=list(sources),
        score=0.83,
        verdicts=PASSED if verdicts is None else verdicts,
        status=status,
        **fields,
    )
    if minutes_ago:
        created = now - timedelta(minutes=minutes_ago)
        AssistantDraft.objects.for_workspace(workspace).filter(pk=draft.pk).update(
            created_at=created
        )
        Message.objects.for_workspace(workspace).filter(pk=inbound.pk).update(created_at=created)
        draft.created_at = created
    return draft


def outbound(conversation) -> list[Message]:
    """What was sent (or queued) to the customer, oldest first; private notes excluded."""
    return list(
        Message.objects.for_workspace(conversation.workspace)
        .filter(conversation=conversation, direction=Direction.OUTBOUND, is_private_note=False)
        .order_by("id")
    )


def assistant_message(conversation, text: str = "Our office opens at 09:00.") -> Message:
    return message_make(
        conversation, text=text, direction=Direction.OUTBOUND, author=Author.ASSISTANT
    )
