"""Reads behind Settings > Integrations (`<entity>_<action>`, keyword-only, always scoped)."""

from __future__ import annotations

from django.db.models import QuerySet

from chatdesk.messaging.models import Channel
from chatdesk.tenancy.models import Workspace


def channel_list(*, workspace: Workspace) -> QuerySet[Channel]:
    return Channel.objects.for_workspace(workspace).order_by("created_at", "pk")


def channel_get(*, workspace: Workspace, channel_id: int) -> Channel | None:
    """The channel with this id in this workspace; another workspace's id finds nothing."""
    return Channel.objects.for_workspace(workspace).filter(pk=channel_id).first()
