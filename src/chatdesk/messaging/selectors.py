"""Reads on channels (`<entity>_<action>`, keyword-only)."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from chatdesk.messaging.models import Channel, ChannelKind


def channel_webhook_url(*, channel: Channel) -> str:
    """The URL to paste into the provider's console, always derived from APP_BASE_URL."""
    name = "webhook-whatsapp" if channel.kind == ChannelKind.META else "webhook-kapso"
    return f"{settings.APP_BASE_URL}{reverse(name, kwargs={'channel_key': channel.channel_key})}"
