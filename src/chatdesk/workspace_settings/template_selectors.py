"""Reads behind Settings > Templates (always scoped to the workspace)."""

from __future__ import annotations

from django.db.models import QuerySet

from chatdesk.messaging.models import MessageTemplate
from chatdesk.tenancy.models import Workspace


def message_template_list(*, workspace: Workspace) -> QuerySet[MessageTemplate]:
    return (
        MessageTemplate.objects.for_workspace(workspace)
        .select_related("channel")
        .defer(
            "channel__signing_secret",
            "channel__previous_signing_secret",
            "channel__api_token",
            "channel__verify_token",
        )
        .order_by("name", "language")
    )


def message_template_get(*, workspace: Workspace, template_id: int) -> MessageTemplate | None:
    """Another workspace's id finds nothing."""
    return MessageTemplate.objects.for_workspace(workspace).filter(pk=template_id).first()
