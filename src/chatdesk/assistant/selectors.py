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
