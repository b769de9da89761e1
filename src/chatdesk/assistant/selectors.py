"""Reads on the assistant's data (`<entity>_<action>`, keyword-only)."""

from __future__ import annotations

from chatdesk.assistant.knowledge import Entry
from chatdesk.assistant.models import KnowledgeEntry
from chatdesk.tenancy.models import Workspace


def knowledge_entries(*, workspace: Workspace, enabled_only: bool = False) -> list[Entry]:
    queryset = KnowledgeEntry.objects.for_workspace(workspace)
    if enabled_only:
        queryset = queryset.filter(enabled=True)
    return [row.to_entry() for row in queryset.order_by("topic", "key")]


def assistant_drafts_pending(*, workspace: Workspace):
    """The review queue: drafts waiting for a human, oldest first (customers wait longest)."""
    from chatdesk.assistant.models import AssistantDraft, DraftStatus

    return (
        AssistantDraft.objects.for_workspace(workspace)
        .filter(status=DraftStatus.PENDING_REVIEW)
        .select_related("conversation__contact", "inbound_message", "config")
        .order_by("created_at", "id")
    )


def assistant_review_counts(*, workspace: Workspace) -> dict[str, int]:
    """Shown before an admin confirms sampled or autonomous mode: how reviews went so far."""
    from django.db.models import Count, Q

    from chatdesk.assistant.models import AssistantDraft, DraftStatus

    return AssistantDraft.objects.for_workspace(workspace).aggregate(
        reviewed=Count("id", filter=Q(reviewer__isnull=False)),
        approved=Count("id", filter=Q(reviewer__isnull=False, status=DraftStatus.SENT)),
        edited=Count("id", filter=Q(status=DraftStatus.EDITED_SENT)),
        rejected=Count("id", filter=Q(status=DraftStatus.REJECTED)),
    )


def assistant_pending_review_count(*, workspace: Workspace) -> int:
    """The nav badge: one COUNT on the (workspace, status, created_at) index."""
    from chatdesk.assistant.models import AssistantDraft, DraftStatus

    return (
        AssistantDraft.objects.for_workspace(workspace)
        .filter(status=DraftStatus.PENDING_REVIEW)
        .count()
    )


def _draft_details(queryset):
    """Everything a draft card shows, in the same query (reviewer, config, messages)."""
    return queryset.select_related(
        "conversation__contact",
        "inbound_message",
        "outbound_message",
        "holding_message",
        "config",
        "reviewer",
        "assigned_to",
        "complaint_flagged_by",
    )


def assistant_draft_get(*, workspace: Workspace, draft_id: int):
    """One draft of the workspace with its card's details; DoesNotExist otherwise."""
    from chatdesk.assistant.models import AssistantDraft

    return _draft_details(AssistantDraft.objects.for_workspace(workspace)).get(pk=draft_id)


def assistant_draft_for_message(*, workspace: Workspace, message_id: int):
    """The draft behind an assistant message in a thread (its reply or its holding message)."""
    from django.db.models import Q

    from chatdesk.assistant.models import AssistantDraft

    return (
        AssistantDraft.objects.for_workspace(workspace)
        .filter(Q(outbound_message_id=message_id) | Q(holding_message_id=message_id))
        .order_by("-id")
        .values_list("pk", flat=True)
        .first()
    )


def assistant_drafts_for_conversation(*, conversation, limit: int = 20) -> list:
    """The conversation's drafts, newest first (the thread's assistant panel)."""
    from chatdesk.assistant.models import AssistantDraft

    queryset = AssistantDraft.objects.for_workspace(conversation.workspace).filter(
        conversation=conversation
    )
    return list(_draft_details(queryset).order_by("-created_at", "-id")[:limit])


def assistant_drafts_context(*, workspace: Workspace, drafts, turns: int = 2) -> dict[int, list]:
    """For each draft, the `turns` messages just before its customer message (oldest first),
    for every draft in ONE query: a row number per draft over the conversation's earlier
    messages (private notes left out)."""
    from django.db.models import F, Window
    from django.db.models.functions import RowNumber

    from chatdesk.crm.models import Message

    ids = [draft.pk for draft in drafts]
    context: dict[int, list] = {pk: [] for pk in ids}
    if not ids:
        return context
    # Both conditions in one filter() share the join to the drafts: each row is a (message,
    # draft) pair of the same conversation, the message earlier than the draft's.
    rows = (
        Message.objects.for_workspace(workspace)
        .filter(
            conversation__assistant_drafts__in=ids,
            provider_timestamp__lt=F(
                "conversation__assistant_drafts__inbound_message__provider_timestamp"
            ),
            is_private_note=False,
        )
        .select_related("sent_by")
        .annotate(
            for_draft=F("conversation__assistant_drafts__id"),
            turn=Window(
                RowNumber(),
                partition_by=[F("conversation__assistant_drafts__id")],
                order_by=[F("provider_timestamp").desc(), F("id").desc()],
            ),
        )
        .filter(turn__lte=turns)
    )
    for message in rows:
        context[message.for_draft].append(message)
    for messages in context.values():
        messages.sort(key=lambda m: (m.provider_timestamp, m.pk))
    return context


def knowledge_topics(*, workspace: Workspace, keys) -> dict[str, str]:
    """Entry key -> topic, for showing a draft's sources (entries removed since are absent)."""
    keys = sorted({key for key in keys})
    if not keys:
        return {}
    return dict(
        KnowledgeEntry.objects.for_workspace(workspace)
        .filter(key__in=keys)
        .values_list("key", "topic")
    )
