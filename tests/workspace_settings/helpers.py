"""Shared helpers for the settings tests."""

from __future__ import annotations

from django.urls import reverse

from chatdesk.audit.models import AuditEvent
from tests.tenancy.tenant_urls import SAMPLE_KWARGS, tenant_url, tenant_urls

CLIENT_IP = "198.51.100.23"
CLIENT_AGENT = "Mozilla/5.0 (settings test)"


def settings_url_names() -> list[str]:
    """Every URL of the settings area (team, integrations, audit log), from the resolver."""
    names = sorted(
        u.name for u in tenant_urls() if u.name and u.name.startswith("workspace_settings:")
    )
    assert names, "no settings URL found: is chatdesk.workspace_settings mounted?"
    missing = [name for name in names if name not in SAMPLE_KWARGS]
    assert not missing, f"declare sample kwargs for {missing} in tenant_url_samples.py"
    return names


def settings_url(name: str, world) -> str:
    return tenant_url(name, world)


def url(name: str, world, **kwargs) -> str:
    return reverse(
        f"workspace_settings:{name}", kwargs={"workspace_slug": world.workspace.slug, **kwargs}
    )


def audit_events(world):
    return list(AuditEvent.objects.for_workspace(world.workspace).order_by("created_at", "id"))
