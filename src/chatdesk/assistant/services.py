"""Writes on the assistant's data (`<entity>_<action>`, keyword-only)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from chatdesk.assistant.knowledge import dump_knowledge_yaml, parse_knowledge_yaml
from chatdesk.assistant.models import KnowledgeEntry
from chatdesk.assistant.selectors import knowledge_entries
from chatdesk.tenancy.models import Workspace


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int


@transaction.atomic
def knowledge_import_yaml(*, workspace: Workspace, text: str) -> ImportResult:
    """Create or update the document's entries (matched on `id`); all or nothing.

    The whole document is validated before anything is written, so a file with one bad entry
    imports nothing and `KnowledgeFormatError.errors` names every problem. Entries of the
    workspace that the file does not mention are left as they are.
    """
    document = parse_knowledge_yaml(text)
    existing = {
        row.key: row
        for row in KnowledgeEntry.objects.for_workspace(workspace)
        .select_for_update()
        .filter(key__in=[e.key for e in document.entries])
    }
    created = updated = 0
    for entry in document.entries:
        values = {
            "topic": entry.topic,
            "answer": entry.answer,
            "questions": list(entry.questions),
            "enabled": entry.enabled,
        }
        row = existing.get(entry.key)
        if row is None:
            KnowledgeEntry.objects.for_workspace(workspace).create(
                workspace=workspace, key=entry.key, **values
            )
            created += 1
        elif any(getattr(row, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(row, name, value)
            row.save()
            updated += 1
    return ImportResult(created=created, updated=updated)


def knowledge_export_yaml(*, workspace: Workspace) -> str:
    """The workspace's entries (enabled or not) in the import format."""
    return dump_knowledge_yaml(knowledge_entries(workspace=workspace), workspace=workspace.slug)
