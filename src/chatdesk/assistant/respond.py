"""The assistant in the message pipeline: one decision per inbound message, then act on it.

    inbound message -> assistant_respond job -> assistant_decide -> draft row ->
        escalate:          needs human, assign (round-robin agents), pause, holding message
        answer, reviewed:  pending_review draft (+ typing indicator, or the after-hours
                           message at once outside business hours; the holding message after
                           `review_timeout_minutes`: assistant/holding.py)
        answer, unreviewed (autonomous, or sampled and not picked): sent as the assistant
                           (at night too: answering grounded questions then is the point)

One `AssistantDraft` per inbound message (unique), created before anything is sent, so a job
that runs twice decides and sends once. Only guarded drafts are ever sent (the guard's verdicts
are stored on the draft); a reviewer's edit is trusted and stored beside the original.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from chatdesk.assistant.configuration import assistant_config_current
from chatdesk.assistant.decide import ANSWER, Decision, assistant_decide
from chatdesk.assistant.hours import after_hours_text, hours_is_open
from chatdesk.assistant.models import (
    AssistantConfig,
    AssistantDraft,
    AssistantMode,
    DraftStatus,
    KnowledgeEntry,
)
from chatdesk.assistant.selectors import knowledge_entries
from chatdesk.crm.models import Author, Conversation, Direction, Message
from chatdesk.reports.services import daily_rollups_invalidate
from chatdesk.tenancy.models import Membership, Role

logger = logging.getLogger(__name__)

CONTEXT_TURNS = 3
# WhatsApp's limit for a text message (messaging.outbound refuses longer ones too).
MAX_REPLY_LENGTH = 4096
COMPLAINT_NOTE_MAX = 1000


class ReviewError(Exception):
    """A review action that cannot apply (already reviewed, not a member); safe to show."""


def assistant_should_respond(*, message: Message) -> bool:
    """Cheap checks the inbound job makes before enqueueing `assistant_respond`."""
    if (
        message.direction != Direction.INBOUND
        or message.author != Author.CUSTOMER
        or message.is_private_note
        or message.unsupported
        or not (message.text or "").strip()
        or (message.payload or {}).get("test_event")
    ):
        return False
    conversation = message.conversation
    if conversation.assistant_paused or conversation.needs_human:
        return False
    # A workspace that never set up knowledge has no assistant yet: escalating (and sending the
    # holding message for) every message would only get in its team's way.
    has_knowledge = (
        KnowledgeEntry.objects.for_workspace(message.workspace).filter(enabled=True).exists()
    )
    return has_knowledge and assistant_config_current(workspace=message.workspace).is_active


def _recent_turns(message: Message) -> list[str]:
    """The customer's earlier messages in this conversation only, most recent first."""
    earlier = (
        Message.objects.for_workspace(message.workspace)
        .filter(
            conversation_id=message.conversation_id,
            direction=Direction.INBOUND,
            is_private_note=False,
            provider_timestamp__lte=message.provider_timestamp,
        )
        .exclude(pk=message.pk)
        .exclude(text="")
        .order_by("-provider_timestamp", "-id")
        .values_list("text", flat=True)[:CONTEXT_TURNS]
    )
    return list(earlier)


def _needs_review(config: AssistantConfig, message: Message) -> bool:
    if config.mode == AssistantMode.REVIEW_ALL:
        return True
    if config.mode == AssistantMode.SAMPLED:
        # Deterministic 1-in-N over message ids: a re-run picks the same way.
        return message.pk % config.sample_every == 0
    return False


def assistant_respond_to(
    *, message_id: int, composer=None, now: datetime | None = None
) -> AssistantDraft | None:
    """The job's body: decide and act on one inbound message; None when there is nothing to do.

    `now` (tests) is the moment business hours are judged at."""
    from chatdesk.assistant.llm import composer_from_settings

    message = (
        Message.dangerously_unscoped_objects.select_related("conversation__contact", "workspace")
        .filter(pk=message_id)
        .first()
    )
    if (
        message is None
        or AssistantDraft.objects.for_workspace(message.workspace)
        .filter(inbound_message=message)
        .exists()
    ):
        return None  # deleted, or already decided (a re-run)
    if not assistant_should_respond(message=message):
        return None
    workspace = message.workspace
    config = assistant_config_current(workspace=workspace)
    composer = composer or composer_from_settings()
    # Outside any transaction: a slow LLM must not hold locks.
    decision = assistant_decide(
        message.text,
        context_turns=_recent_turns(message),
        entries=knowledge_entries(workspace=workspace, enabled_only=True),
        config=config.to_settings(),
        composer=composer,
        retriever=settings.ENV.ASSISTANT_RETRIEVER,
        customer_name=message.conversation.contact.name,
    )
    with transaction.atomic():
        conversation = (
            Conversation.objects.for_workspace(workspace)
            .select_for_update()
            .get(pk=message.conversation_id)
        )
        # Re-checked under the lock: an agent may have taken over, or the kill switch flipped,
        # while the model was thinking.
        latest = assistant_config_current(workspace=workspace)
        if conversation.assistant_paused or conversation.needs_human or not latest.is_active:
            return None
        try:
            with transaction.atomic():
                draft = AssistantDraft.objects.for_workspace(workspace).create(
                    workspace=workspace,
                    conversation=conversation,
                    inbound_message=message,
                    config=config,
                    decision=decision.action,
                    draft_text=decision.reply or decision.draft or "",
                    sources=list(decision.sources),
                    score=decision.score,
                    verdicts=[asdict(v) for v in decision.verdicts],
                    reasons=list(decision.reasons),
                    composer=getattr(composer, "name", "")[:40],
                    status=DraftStatus.PENDING_REVIEW,
                )
        except IntegrityError:
            return None  # a concurrent run decided first
        now = now or timezone.now()
        if decision.action != ANSWER:
            _escalate(draft, conversation, config, now=now)
        elif _needs_review(config, message):
            _queue_for_review(draft, conversation, message, now)
        else:
            _send(draft, conversation, decision)
    return draft


def _send(draft: AssistantDraft, conversation: Conversation, decision: Decision) -> None:
    from chatdesk.messaging.outbound import SendRefusedError, message_send_text

    try:
        outbound = message_send_text(
            conversation=conversation, text=decision.reply, author=Author.ASSISTANT
        )
    except SendRefusedError as exc:
        draft.reasons = [*draft.reasons, f"send refused: {exc}"]
        _escalate(draft, conversation, draft.config, holding=False)
        return
    draft.status = DraftStatus.SENT
    draft.outbound_message = outbound
    draft.sent_text = outbound.text
    draft.save(update_fields=["status", "outbound_message", "sent_text"])


def holding_text(config: AssistantConfig, now: datetime) -> str:
    """What a waiting customer gets: the after-hours message (with the next opening time)
    outside business hours when there is one, else the holding message."""
    if config.after_hours_message and not hours_is_open(hours=config.business_hours, at=now):
        return after_hours_text(
            template=config.after_hours_message, hours=config.business_hours, at=now
        )
    return config.holding_message


def holding_send(
    draft: AssistantDraft, conversation: Conversation, text: str, now: datetime
) -> Message | None:
    """Send a holding/after-hours message for `draft` and record it on the draft (the caller
    saves `holding_sent_at` and `holding_message` in this same transaction). None if refused."""
    from chatdesk.messaging.outbound import SendRefusedError, message_send_text

    if not text.strip() or not conversation.window_open(now):
        return None
    try:
        message = message_send_text(conversation=conversation, text=text, author=Author.ASSISTANT)
    except SendRefusedError as exc:
        draft.reasons = [*draft.reasons, f"holding message not sent: {exc}"]
        return None
    draft.holding_sent_at = now
    draft.holding_message = message
    return message


def _queue_for_review(
    draft: AssistantDraft, conversation: Conversation, message: Message, now: datetime
) -> None:
    from chatdesk.messaging.tasks import message_mark_read
    from chatdesk.notifications.services import notifications_review_waiting

    config = draft.config
    after_hours = bool(config.after_hours_message) and not hours_is_open(
        hours=config.business_hours, at=now
    )
    # Outside business hours nobody will review soon: say so at once rather than after the
    # review timeout. (The draft stays reviewable; approved in the morning, it still goes.)
    sent = None
    if after_hours:
        sent = holding_send(draft, conversation, holding_text(config, now), now)
        draft.save(update_fields=["holding_sent_at", "holding_message", "reasons"])
    if sent is None and message.provider_message_id:
        # The customer sees "typing..." while a human reviews the draft.
        message_mark_read.enqueue(message_id=message.pk, typing=True)
    notifications_review_waiting(conversation=conversation)


def _next_agent(workspace):
    """Round-robin over the workspace's agents: the one after the last escalation's assignee."""
    agents = list(
        Membership.objects.for_workspace(workspace)
        .filter(role=Role.AGENT, user__is_active=True)
        .order_by("user_id")
        .values_list("user_id", flat=True)
    )
    if not agents:
        return None
    last = (
        AssistantDraft.objects.for_workspace(workspace)
        .filter(assigned_to__isnull=False)
        .order_by("-created_at", "-id")
        .values_list("assigned_to_id", flat=True)
        .first()
    )
    later = [a for a in agents if last is not None and a > last]
    return (later or agents)[0]


def _escalate(
    draft: AssistantDraft,
    conversation: Conversation,
    config: AssistantConfig,
    holding=True,
    now: datetime | None = None,
) -> None:
    from chatdesk.notifications.services import notifications_escalated

    draft.status = DraftStatus.ESCALATED
    fields = ["status", "reasons"]
    conversation.needs_human = True
    conversation.assistant_paused = True
    conv_fields = ["needs_human", "assistant_paused"]
    if conversation.assignee_id is None:
        agent_id = _next_agent(conversation.workspace)
        if agent_id is not None:
            conversation.assignee_id = agent_id
            draft.assigned_to_id = agent_id
            conv_fields.append("assignee")
            fields.append("assigned_to")
    conversation.save(update_fields=conv_fields)
    now = now or timezone.now()
    if holding and (sent := holding_send(draft, conversation, holding_text(config, now), now)):
        draft.outbound_message = sent
        fields += ["outbound_message", "holding_sent_at", "holding_message"]
    draft.save(update_fields=fields)
    notifications_escalated(conversation=conversation, reason="; ".join(draft.reasons[:2]))
    logger.info(
        "assistant escalated a conversation",
        extra={"conversation_id": conversation.pk, "draft_id": draft.pk},
    )


def _already_handled(draft: AssistantDraft) -> str:
    status = draft.get_status_display().lower()
    if draft.reviewer_id:
        who = draft.reviewer.get_full_name() or draft.reviewer.email
        when = timezone.localtime(draft.reviewed_at).strftime("%H:%M") if draft.reviewed_at else ""
        return (
            f"Already reviewed by {who}{f' at {when}' if when else ''} ({status}): "
            "this draft was already handled, so nothing was sent again."
        )
    return f"This draft was already handled ({status}): nothing was sent."


def _claim(draft: AssistantDraft, reviewer, status: str) -> AssistantDraft:
    """Move a pending draft to `status` for `reviewer`, or raise `ReviewError`.

    A conditional UPDATE is the lock: of two reviewers acting at once exactly one matches
    `pending_review` (PostgreSQL re-checks the row after the first commits; SQLite has one
    writer), and being the transaction's first statement it works on both engines. Whatever
    fails after it (not a member, send refused) raises and rolls the claim back.
    """
    scoped = AssistantDraft.objects.for_workspace(draft.workspace)
    claimed = scoped.filter(pk=draft.pk, status=DraftStatus.PENDING_REVIEW).update(
        status=status, reviewer=reviewer, reviewed_at=timezone.now()
    )
    current = scoped.select_related("reviewer", "config", "conversation__workspace").get(
        pk=draft.pk
    )
    if not claimed:
        raise ReviewError(_already_handled(current))
    if not Membership.objects.for_workspace(draft.workspace).filter(user=reviewer).exists():
        raise ReviewError("Only a member of this workspace can review its drafts.")
    return current


def _review_send(draft: AssistantDraft, reviewer, text: str, status: str) -> AssistantDraft:
    from chatdesk.messaging.outbound import SendRefusedError, message_send_text

    draft = _claim(draft, reviewer, status)
    try:
        outbound = message_send_text(
            conversation=draft.conversation, text=text, author=Author.ASSISTANT, sent_by=reviewer
        )
    except SendRefusedError as exc:
        raise ReviewError(f"Not sent: {exc}") from exc  # rolls the claim back: still pending
    draft.sent_text = outbound.text
    draft.outbound_message = outbound
    draft.save(update_fields=["sent_text", "outbound_message"])
    return draft


@transaction.atomic
def assistant_draft_approve(*, draft: AssistantDraft, reviewer) -> AssistantDraft:
    """Send the guarded draft as it is; a second approval raises `ReviewError`."""
    return _review_send(draft, reviewer, draft.draft_text, DraftStatus.SENT)


@transaction.atomic
def assistant_draft_edit_and_send(*, draft: AssistantDraft, reviewer, text: str) -> AssistantDraft:
    """Send the reviewer's text instead.

    A human's edit is the human's reply: it is not guarded (the guard exists for what the model
    writes), but it must be sendable. Both texts are kept on the draft, so metrics and audits
    can compare them; an "edit" that changes nothing counts as an approval.
    """
    text = (text or "").strip()
    if not text:
        raise ReviewError("The edited reply cannot be empty.")
    if len(text) > MAX_REPLY_LENGTH:
        raise ReviewError(
            f"WhatsApp text messages are limited to {MAX_REPLY_LENGTH} characters; "
            f"this one has {len(text)}."
        )
    unchanged = text == (draft.draft_text or "").strip()
    return _review_send(
        draft, reviewer, text, DraftStatus.SENT if unchanged else DraftStatus.EDITED_SENT
    )


@transaction.atomic
def assistant_draft_reject(*, draft: AssistantDraft, reviewer) -> AssistantDraft:
    """Discard the draft and take over: the reviewer is assigned and the assistant stops here."""
    draft = _claim(draft, reviewer, DraftStatus.REJECTED)
    Conversation.objects.for_workspace(draft.workspace).filter(pk=draft.conversation_id).update(
        assistant_paused=True, needs_human=True, assignee=reviewer
    )
    return draft


REPLIED_STATUSES = (DraftStatus.SENT, DraftStatus.EDITED_SENT)


@transaction.atomic
def assistant_draft_complaint_flag(
    *, draft: AssistantDraft, user, note: str = ""
) -> AssistantDraft:
    """An agent marks a reply the customer got as a complaint or a wrong answer (metrics count
    `complaint_flagged_at`). Flagging again updates the note and who flagged it."""
    note = (note or "").strip()
    if len(note) > COMPLAINT_NOTE_MAX:
        raise ReviewError(f"Keep the note to {COMPLAINT_NOTE_MAX} characters ({len(note)} now).")
    if draft.status not in REPLIED_STATUSES:
        raise ReviewError("Only a reply the customer received can be flagged as a complaint.")
    if not Membership.objects.for_workspace(draft.workspace).filter(user=user).exists():
        raise ReviewError("Only a member of this workspace can flag its replies.")
    draft.complaint_flagged_at = draft.complaint_flagged_at or timezone.now()
    draft.complaint_flagged_by = user
    draft.complaint_note = note
    draft.save(update_fields=["complaint_flagged_at", "complaint_flagged_by", "complaint_note"])
    daily_rollups_invalidate(workspace=draft.workspace, at=draft.created_at)  # recount its day
    return draft


@transaction.atomic
def assistant_draft_complaint_unflag(*, draft: AssistantDraft, user) -> AssistantDraft:
    if not Membership.objects.for_workspace(draft.workspace).filter(user=user).exists():
        raise ReviewError("Only a member of this workspace can change its replies' flags.")
    draft.complaint_flagged_at = None
    draft.complaint_flagged_by = None
    draft.complaint_note = ""
    draft.save(update_fields=["complaint_flagged_at", "complaint_flagged_by", "complaint_note"])
    daily_rollups_invalidate(workspace=draft.workspace, at=draft.created_at)  # recount its day
    return draft
