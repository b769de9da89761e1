"""The shared shape of an inbound provider webhook: authenticate, parse, persist, enqueue, 200.

Each provider folder (`integrations/whatsapp_cloud`, `integrations/kapso`) supplies a
`WebhookProvider`: how to read its signature and idempotency key and how to parse its body.
Everything else—channel lookup, size limit, signature check, security logging, the single
transaction—lives here once.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone

from chatdesk.messaging.events import ParsedDelivery, PayloadError
from chatdesk.messaging.models import Channel
from chatdesk.messaging.services import channel_touch_webhook, webhook_delivery_store

security_logger = logging.getLogger("chatdesk.security")
logger = logging.getLogger(__name__)


class WebhookProvider(ABC):
    kind: str  # ChannelKind value
    max_body_bytes: int

    @abstractmethod
    def signature(self, request: HttpRequest) -> str:
        """The hex digest the provider sent ('' when absent)."""

    @abstractmethod
    def idempotency_key(self, request: HttpRequest, body: bytes) -> str:
        """A key equal for every re-delivery of the same event."""

    @abstractmethod
    def parse(self, request: HttpRequest, body: bytes) -> ParsedDelivery:
        """Turn the verified body into provider-neutral events, or raise PayloadError."""


def client_ip(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "")


def channel_for_key(*, kind: str, channel_key: str) -> Channel | None:
    """The channel a webhook URL names. The key is the tenant: no workspace comes from outside."""
    if not channel_key or len(channel_key) > 64:
        return None
    return (
        Channel.dangerously_unscoped_objects.select_related("workspace")
        .filter(channel_key=channel_key, kind=kind)
        .first()
    )


def reject(
    request: HttpRequest, *, channel: Channel | None, key: str, reason: str, status: int
) -> HttpResponse:
    """One security log line per rejection: channel, source IP, reason. Never the secret, the
    expected signature or the body."""
    security_logger.warning(
        "webhook rejected: %s",
        reason,
        extra={
            "channel_id": channel.pk if channel else None,
            "channel_key_prefix": key[:6],
            "source_ip": client_ip(request),
            "reason": reason,
            "status": status,
        },
    )
    return JsonResponse({"error": reason}, status=status)


def handle_webhook(request: HttpRequest, channel_key: str, provider: WebhookProvider):
    channel = channel_for_key(kind=provider.kind, channel_key=channel_key)
    if channel is None:
        return reject(request, channel=None, key=channel_key, reason="unknown channel", status=404)
    if not channel.is_active:
        return reject(
            request, channel=channel, key=channel_key, reason="inactive channel", status=404
        )
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if declared.isdigit() and int(declared) > provider.max_body_bytes:
        return reject(
            request, channel=channel, key=channel_key, reason="body too large", status=413
        )
    # Read the stream ourselves, at most one byte over the limit: `request.body` would apply
    # DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB, below Meta's 3 MB and Kapso's batches) and answer a
    # generic 400 without our log line, and a body without Content-Length (chunked) stays bounded.
    body = request.read(provider.max_body_bytes + 1)
    if len(body) > provider.max_body_bytes:
        return reject(
            request, channel=channel, key=channel_key, reason="body too large", status=413
        )
    from chatdesk.messaging.signatures import signature_matches

    received = provider.signature(request)
    if not received:
        _record_signature_failure(channel)
        return reject(
            request, channel=channel, key=channel_key, reason="missing signature", status=401
        )
    if not signature_matches(
        body=body,
        received=received,
        secrets=(channel.signing_secret, channel.previous_signing_secret),
    ):
        _record_signature_failure(channel)
        return reject(
            request, channel=channel, key=channel_key, reason="invalid signature", status=401
        )
    try:
        delivery = provider.parse(request, body)
    except PayloadError as error:
        channel_touch_webhook(channel=channel, outcome="malformed")
        return reject(request, channel=channel, key=channel_key, reason=str(error), status=400)
    if delivery.phone_number_ids - {channel.phone_number_id}:
        # A channel key must not accept another number's events (a webhook pasted on the wrong
        # channel would otherwise file customers' messages under the wrong number).
        channel_touch_webhook(channel=channel, outcome="wrong phone number")
        return reject(
            request,
            channel=channel,
            key=channel_key,
            reason="payload is for another phone number than this channel's",
            status=400,
        )
    result = webhook_delivery_store(
        channel=channel,
        idempotency_key=provider.idempotency_key(request, body),
        body=body,
        delivery=delivery,
        request_id=getattr(request, "request_id", ""),
    )
    logger.info(
        "webhook stored",
        extra={
            "channel_id": channel.pk,
            "workspace_id": channel.workspace_id,
            "duplicate_delivery": result.duplicate_delivery,
            "messages_created": result.messages_created,
            "messages_duplicate": result.messages_duplicate,
            "statuses_created": result.statuses_created,
            "ignored": len(delivery.ignored),
        },
    )
    return JsonResponse({"status": "ok", "duplicate": result.duplicate_delivery})


def _record_signature_failure(channel: Channel) -> None:
    # Outside any request transaction on purpose: the failure time must stick (it is shown to
    # admins under Integrations) even though the request is rejected.
    with transaction.atomic():
        Channel.objects.for_workspace(channel.workspace).filter(pk=channel.pk).update(
            last_signature_failure_at=timezone.now(), last_webhook_outcome="signature failure"
        )
