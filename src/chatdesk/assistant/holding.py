"""Slow review: a customer whose draft waits longer than `review_timeout_minutes` gets the
holding message (or, outside business hours, the after-hours message), once per draft.

The periodic job scans every workspace (it has no tenant of its own): candidates come from the
partial index on waiting drafts, then each draft is claimed with a conditional UPDATE of
`holding_sent_at` in the same transaction that stores the outbound message. A re-run, or two
workers racing, match the row once; a refused send rolls the claim back. The draft itself stays
pending: approved later, the real reply still goes.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from chatdesk.assistant.models import AssistantDraft, DraftStatus
from chatdesk.assistant.respond import holding_send, holding_text
from chatdesk.crm.models import SERVICE_WINDOW, Conversation, Direction, Message

logger = logging.getLogger(__name__)

BATCH = 500
MIN_TIMEOUT = timedelta(minutes=1)  # the smallest review_timeout_minutes allowed


def assistant_holding_due(*, now: datetime) -> list[AssistantDraft]:
    """Drafts waiting past their configuration's review timeout, oldest first."""
    # Cross-workspace maintenance: each draft row names its workspace, and every write below
    # goes through for_workspace(draft.workspace).
    candidates = (
        AssistantDraft.dangerously_unscoped_objects.filter(
            status=DraftStatus.PENDING_REVIEW,
            holding_sent_at__isnull=True,
            created_at__lte=now - MIN_TIMEOUT,
            # Outside the 24-hour window nothing can be sent; a paused conversation is a human's.
            conversation__last_inbound_at__gt=now - SERVICE_WINDOW,
            conversation__assistant_paused=False,
        )
        .select_related("config", "workspace")
        .order_by("created_at", "id")[:BATCH]
    )
    return [
        draft
        for draft in candidates
        if draft.created_at <= now - timedelta(minutes=draft.config.review_timeout_minutes)
    ]


@transaction.atomic
def assistant_draft_holding_send(*, draft: AssistantDraft, now: datetime) -> bool:
    """Send the holding message for one waiting draft; False when it was not (or not now)."""
    scoped = AssistantDraft.objects.for_workspace(draft.workspace)
    claimed = scoped.filter(
        pk=draft.pk, status=DraftStatus.PENDING_REVIEW, holding_sent_at__isnull=True
    ).update(holding_sent_at=now)
    if not claimed:
        return False  # reviewed meanwhile, or another run got here first
    draft = scoped.select_related("config", "inbound_message").get(pk=draft.pk)
    conversation = (
        Conversation.objects.for_workspace(draft.workspace)
        .select_for_update()
        .get(pk=draft.conversation_id)
    )
    heard_from_us = (
        Message.objects.for_workspace(draft.workspace)
        .filter(
            conversation=conversation,
            direction=Direction.OUTBOUND,
            is_private_note=False,
            created_at__gt=draft.inbound_message.created_at,
        )
        .exists()
    )
    # An agent answered, or an earlier draft's holding message already went out: once is enough.
    if heard_from_us or conversation.assistant_paused:
        transaction.set_rollback(True)
        return False
    if holding_send(draft, conversation, holding_text(draft.config, now), now) is None:
        transaction.set_rollback(True)  # nothing to send (empty text, window closed)
        return False
    draft.save(update_fields=["holding_sent_at", "holding_message"])
    logger.info(
        "holding message sent for a draft waiting for review",
        extra={"draft_id": draft.pk, "conversation_id": conversation.pk},
    )
    return True


def assistant_holding_send_due(*, now: datetime | None = None) -> int:
    """The periodic job's body: returns how many holding messages went out."""
    now = now or timezone.now()
    sent = 0
    for draft in assistant_holding_due(now=now):
        try:
            sent += assistant_draft_holding_send(draft=draft, now=now)
        except Exception:  # one bad row must not stop the others' holding messages
            logger.exception("holding message failed", extra={"draft_id": draft.pk})
    return sent
