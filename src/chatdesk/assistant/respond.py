"""The assistant in the message pipeline: one decision per inbound message, then act on it.

    inbound message -> assistant_respond job -> assistant_decide -> draft row ->
        escalate:          needs human, assign (round-robin agents), pause, holding message
        answer, reviewed:  pending_review draft (+ typing indicator)
        answer, unreviewed (autonomous, or sampled and not picked): sent as the assistant

One `AssistantDraft` per inbound message (unique), created before anything is sent, so a job
that runs twice decides and sends once. Only guarded drafts are ever sent (the guard's verdicts
are stored on the draft); a reviewer's edit is trusted and stored beside the original.
"""

from __future__ import annotations

import logging
from dataclasses import asdict

from django.db import IntegrityError, transaction
from django.utils import timezone

from chatdesk.assistant.configuration import assistant_config_current
from chatdesk.assistant.decide import ANSWER, Decision, assistant_decide
from chatdesk.assistant.models import (
    AssistantConfig,
    AssistantDraft,
    AssistantMode,
    DraftStatus,
    KnowledgeEntry,
)
from chatdesk.assistant.selectors import knowledge_entries
from chatdesk.crm.models import Author, Conversation, Direction, Message
from chatdesk.tenancy.models import Membership, Role

logger = logging.getLogger(__name__)

CONTEXT_TURNS = 3


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


def assistant_respond_to(*, message_id: int, composer=None) -> AssistantDraft | None:
    """The job's body: decide and act on one inbound message; None when there is nothing to do."""
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
        if decision.action != ANSWER:
            _escalate(draft, conversation, config)
        elif _needs_review(config, message):
            _queue_for_review(draft, message)
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


def _queue_for_review(draft: AssistantDraft, message: Message) -> None:
    from chatdesk.messaging.tasks import message_mark_read

    if message.provider_message_id:
        # The customer sees "typing..." while a human reviews the draft.
        message_mark_read.enqueue(message_id=message.pk, typing=True)


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
    draft: AssistantDraft, conversation: Conversation, config: AssistantConfig, holding=True
) -> None:
    from chatdesk.messaging.outbound import SendRefusedError, message_send_text

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
    if holding and config.holding_message and conversation.window_open():
        try:
            draft.outbound_message = message_send_text(
                conversation=conversation, text=config.holding_message, author=Author.ASSISTANT
            )
            fields.append("outbound_message")
        except SendRefusedError as exc:
            draft.reasons = [*draft.reasons, f"holding message not sent: {exc}"]
    draft.save(update_fields=fields)
    logger.info(
        "assistant escalated a conversation",
        extra={"conversation_id": conversation.pk, "draft_id": draft.pk},
    )


def _locked_pending(draft: AssistantDraft, reviewer) -> AssistantDraft:
    draft = (
        AssistantDraft.objects.for_workspace(draft.workspace).select_for_update().get(pk=draft.pk)
    )
    if draft.status != DraftStatus.PENDING_REVIEW:
        raise ReviewError(f"This draft was already handled ({draft.get_status_display().lower()}).")
    if not Membership.objects.for_workspace(draft.workspace).filter(user=reviewer).exists():
        raise ReviewError("Only a member of this workspace can review its drafts.")
    return draft


def _review_send(draft: AssistantDraft, reviewer, text: str, status: str) -> AssistantDraft:
    from chatdesk.messaging.outbound import message_send_text

    draft = _locked_pending(draft, reviewer)
    outbound = message_send_text(
        conversation=draft.conversation, text=text, author=Author.ASSISTANT, sent_by=reviewer
    )
    draft.status = status
    draft.sent_text = outbound.text
    draft.outbound_message = outbound
    draft.reviewer = reviewer
    draft.reviewed_at = timezone.now()
    draft.save(update_fields=["status", "sent_text", "outbound_message", "reviewer", "reviewed_at"])
    return draft


@transaction.atomic
def assistant_draft_approve(*, draft: AssistantDraft, reviewer) -> AssistantDraft:
    """Send the guarded draft as it is; a second approval raises `ReviewError`."""
    return _review_send(draft, reviewer, draft.draft_text, DraftStatus.SENT)


@transaction.atomic
def assistant_draft_edit_and_send(*, draft: AssistantDraft, reviewer, text: str) -> AssistantDraft:
    """Send the reviewer's text instead. A human edit is trusted (not guarded); both texts are
    kept on the draft, so metrics and audits can compare them."""
    if not (text or "").strip():
        raise ReviewError("The edited reply cannot be empty.")
    return _review_send(draft, reviewer, text, DraftStatus.EDITED_SENT)


@transaction.atomic
def assistant_draft_reject(*, draft: AssistantDraft, reviewer) -> AssistantDraft:
    """Discard the draft and take over: the reviewer is assigned and the assistant stops here."""
    draft = _locked_pending(draft, reviewer)
    draft.status = DraftStatus.REJECTED
    draft.reviewer = reviewer
    draft.reviewed_at = timezone.now()
    draft.save(update_fields=["status", "reviewer", "reviewed_at"])
    Conversation.objects.for_workspace(draft.workspace).filter(pk=draft.conversation_id).update(
        assistant_paused=True, needs_human=True, assignee=reviewer
    )
    return draft
