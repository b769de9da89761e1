"""`/webhooks/whatsapp/<channel_key>`: Meta's verification handshake (GET) and signed event
deliveries (POST). Thin: the shared `handle_webhook` authenticates, parses, stores, answers."""

from __future__ import annotations

import hmac

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from chatdesk.integrations.whatsapp_cloud.provider import META_PROVIDER
from chatdesk.messaging.models import ChannelKind
from chatdesk.messaging.webhooks import channel_for_key, handle_webhook, reject

MAX_CHALLENGE_LENGTH = 256  # Meta's challenge is a short number


@csrf_exempt  # signed by the provider; there is no session or CSRF cookie
@require_http_methods(["GET", "POST"])
def whatsapp_cloud_webhook(request: HttpRequest, channel_key: str) -> HttpResponse:
    if request.method == "GET":
        return verification_handshake(request, channel_key)
    return handle_webhook(request, channel_key, META_PROVIDER)


def verification_handshake(request: HttpRequest, channel_key: str) -> HttpResponse:
    """Meta calls `GET ?hub.mode=subscribe&hub.challenge=X&hub.verify_token=T` when the callback
    URL is saved; answering X proves we own the URL and know the channel's verify token."""
    # Fresh: the verify token was probably set a moment ago, maybe in another process.
    channel = channel_for_key(kind=ChannelKind.META, channel_key=channel_key, fresh=True)
    if channel is None:
        return reject(request, channel=None, key=channel_key, reason="unknown channel", status=404)
    if not channel.is_active:
        return reject(
            request, channel=channel, key=channel_key, reason="inactive channel", status=404
        )
    mode = request.GET.get("hub.mode", "")
    token = request.GET.get("hub.verify_token", "")
    expected = channel.verify_token or ""
    # Bytes, not str: compare_digest refuses non-ASCII strings, and a token is attacker input.
    if (
        mode != "subscribe"
        or not expected
        or not hmac.compare_digest(token.encode(), expected.encode())
    ):
        return reject(
            request, channel=channel, key=channel_key, reason="verify token mismatch", status=403
        )
    challenge = request.GET.get("hub.challenge", "")
    if not challenge or len(challenge) > MAX_CHALLENGE_LENGTH:
        return reject(
            request, channel=channel, key=channel_key, reason="missing challenge", status=400
        )
    return HttpResponse(challenge, content_type="text/plain; charset=utf-8")
