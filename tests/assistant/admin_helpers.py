"""Shared by the tests of the assistant's admin pages (settings, knowledge, sandbox)."""

from __future__ import annotations

from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from chatdesk.assistant.forms import AssistantSettingsForm
from chatdesk.assistant.models import AssistantConfig, AssistantDraft, KnowledgeEntry
from chatdesk.assistant.urls import admin_patterns
from chatdesk.audit.models import AuditEvent
from chatdesk.crm.models import Message

ADMIN_URL_NAMES = sorted(f"assistant:{p.name}" for p in admin_patterns)


def url(name: str, world, **kwargs) -> str:
    return reverse(f"assistant:{name}", kwargs={"workspace_slug": world.workspace.slug, **kwargs})


def settings_form_data(config: AssistantConfig, **overrides) -> dict:
    """What the browser posts for the settings form as it is shown, with `overrides` typed in."""
    initial = AssistantSettingsForm.initial_from(config)
    initial.update(overrides)
    data = {}
    for name, value in initial.items():
        if value is True:
            data[name] = "on"
        elif value is False or value is None:
            continue  # an unticked checkbox is not sent
        elif isinstance(value, list):
            data[name] = [str(v) for v in value]
        else:
            data[name] = str(value)
    return data


def audit_events(world) -> list[AuditEvent]:
    return list(AuditEvent.objects.for_workspace(world.workspace).order_by("created_at", "id"))


def entries(world) -> dict[str, KnowledgeEntry]:
    return {e.key: e for e in KnowledgeEntry.objects.for_workspace(world.workspace)}


def stored_rows(world) -> dict[str, int]:
    """What sending or queueing anything would have created."""
    return {
        "messages": Message.objects.for_workspace(world.workspace).count(),
        "drafts": AssistantDraft.objects.for_workspace(world.workspace).count(),
        "jobs": DBTaskResult.objects.count(),
    }
