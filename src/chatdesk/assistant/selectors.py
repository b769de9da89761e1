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
