"""Messages for dashboard tests, with the conversation clock the ingest code keeps.

messaging.services moves `last_inbound_at` forward to each customer message it stores (never
back); the dashboard relies on that, so hand-built data must keep it too.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q

from chatdesk.crm.models import Author, Conversation, Direction, Message
from tests.crm.builders import message_make


def inbound(conversation: Conversation, when: datetime, **kwargs) -> Message:
    message = message_make(conversation, at=when, direction=Direction.INBOUND, **kwargs)
    Conversation.objects.for_workspace(conversation.workspace).filter(
        Q(last_inbound_at__isnull=True) | Q(last_inbound_at__lt=when), pk=conversation.pk
    ).update(last_inbound_at=when)
    return message


def reply(conversation: Conversation, when: datetime, author=Author.AGENT, **kwargs) -> Message:
    return message_make(
        conversation, at=when, direction=Direction.OUTBOUND, author=author, **kwargs
    )


def draft_make(
    conversation: Conversation,
    when: datetime,
    *,
    status: str,
    decision: str = "answer",
    reasons=(),
    verdicts=(),
    reviewed: bool = False,
    complaint: bool = False,
):
    """An assistant draft for a new customer message at `when`, made at `when`."""
    from chatdesk.assistant.configuration import assistant_config_current
    from chatdesk.assistant.models import AssistantDraft

    workspace = conversation.workspace
    message = inbound(conversation, when)
    draft = AssistantDraft.objects.for_workspace(workspace).create(
        workspace=workspace,
        conversation=conversation,
        inbound_message=message,
        config=assistant_config_current(workspace=workspace),
        decision=decision,
        draft_text="Our office opens at 09:00.",
        reasons=list(reasons),
        verdicts=list(verdicts),
        status=status,
        reviewed_at=when if reviewed else None,
        complaint_flagged_at=when if complaint else None,
    )
    # created_at is auto_now_add: set the moment the test needs.
    AssistantDraft.objects.for_workspace(workspace).filter(pk=draft.pk).update(created_at=when)
    return draft
