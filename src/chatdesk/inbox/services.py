"""Writes from the team inbox: read marks, notes, assignment, labels, status, assistant controls.

Replies go through `chatdesk.messaging.outbound.message_send_text` (the 24-hour window and the
delivery job live there). Every function takes a conversation loaded through a workspace-scoped
selector and writes through `for_workspace(conversation.workspace)`; ids coming from a browser
(assignee, labels) are validated by the forms against the same workspace before reaching here.

Permission model: every member (agents included) may do every thread action; settings and team
management are where roles differ.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from chatdesk.crm.models import (
    Author,
    Conversation,
    ConversationStatus,
    Direction,
    Label,
    Message,
    MessageStatus,
)


class NoteRefusedError(Exception):
    """A private note that cannot be saved; the message is safe to show to the agent."""


NOTE_MAX_LENGTH = 4096


def _scoped(conversation: Conversation):
    return Conversation.objects.for_workspace(conversation.workspace).filter(pk=conversation.pk)


def conversation_mark_read(*, conversation: Conversation) -> None:
    """An agent opened the thread (or saw new messages arrive in it): nothing is unread."""
    # Conditional, so viewing an already-read thread writes nothing.
    _scoped(conversation).filter(unread_count__gt=0).update(unread_count=0)
    conversation.unread_count = 0


@transaction.atomic
def conversation_note_add(*, conversation: Conversation, text: str, author_user) -> Message:
    """A private note: stored in the thread for the team, never sent and never queued."""
    text = (text or "").strip()
    if not text:
        raise NoteRefusedError("A note cannot be empty.")
    if len(text) > NOTE_MAX_LENGTH:
        raise NoteRefusedError(f"Notes are limited to {NOTE_MAX_LENGTH} characters.")
    now = timezone.now()
    # `received` is the one status no delivery code acts on (the sender only picks up `queued`),
    # and `processed_at` keeps the inbound reconciler away: a note can never reach a customer.
    # It does not move `last_message_at`: the list orders by activity with the customer.
    return Message.objects.for_workspace(conversation.workspace).create(
        workspace=conversation.workspace,
        conversation=conversation,
        channel_id=conversation.channel_id,
        direction=Direction.OUTBOUND,
        is_private_note=True,
        author=Author.AGENT,
        sent_by=author_user,
        type="note",
        text=text,
        provider_timestamp=now,
        status=MessageStatus.RECEIVED,
        processed_at=now,
    )


@transaction.atomic
def conversation_assign(*, conversation: Conversation, assignee) -> None:
    """Assign to a member (validated by the caller's form) or to nobody (None)."""
    _scoped(conversation).update(assignee=assignee)
    conversation.assignee = assignee


@transaction.atomic
def conversation_labels_set(*, conversation: Conversation, labels: Iterable[Label]) -> None:
    labels = list(labels)
    foreign = [label for label in labels if label.workspace_id != conversation.workspace_id]
    if foreign:
        # The form already refuses these; a second guard because labels cross into the M2M.
        raise ValueError("Labels must belong to the conversation's workspace.")
    conversation.labels.set(labels)


@transaction.atomic
def conversation_status_set(*, conversation: Conversation, status: str) -> None:
    status = ConversationStatus(status)
    changes = {"status": status}
    if status == ConversationStatus.RESOLVED:
        # Resolved means nobody has to act: the "needs human" flag would otherwise linger.
        changes["needs_human"] = False
    _scoped(conversation).update(**changes)
    for name, value in changes.items():
        setattr(conversation, name, value)


@transaction.atomic
def conversation_take_over(*, conversation: Conversation) -> None:
    """A human answers from now on: the assistant does not reply in this conversation."""
    _scoped(conversation).update(assistant_paused=True)
    conversation.assistant_paused = True


@transaction.atomic
def conversation_hand_back(*, conversation: Conversation) -> None:
    """The assistant may answer again; the human is done, so the escalation is cleared too."""
    _scoped(conversation).update(assistant_paused=False, needs_human=False)
    conversation.assistant_paused = False
    conversation.needs_human = False


@transaction.atomic
def conversation_escalate(*, conversation: Conversation, by) -> None:
    """Flag for a human, and make it the escalating agent's when nobody has it yet."""
    _scoped(conversation).update(needs_human=True)
    # Conditional in SQL: two agents escalating at once do not take it from each other.
    claimed = _scoped(conversation).filter(assignee__isnull=True).update(assignee=by)
    conversation.needs_human = True
    if claimed:
        conversation.assignee = by
    else:
        conversation.refresh_from_db(fields=["assignee"])
