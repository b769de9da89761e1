"""The shared shape of an inbound provider webhook: authenticate, parse, persist, enqueue, 200.

Each provider folder (`integrations/whatsapp_cloud`, `integrations/kapso`) supplies a
`WebhookProvider`: how to read its signature and idempotency key and how to parse its body.
Everything else—channel lookup, size limit, signature check, security logging, the single
transaction—lives here once.
"""

from __future__ import annotations

import copy
import logging
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone

from chatdesk.messaging import signatures
from chatdesk.messaging.events import ParsedDelivery, PayloadError
from chatdesk.messaging.models import Channel
from chatdesk.messaging.services import (
    channel_touch_webhook,
    channel_touch_webhook_forget,
    webhook_delivery_store,
)

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


# Each process keeps the channel behind a webhook URL (row and decrypted secrets) for this long,
# so a delivery costs no channel query and no decryption. Saving or deleting a channel in this
# process empties the cache at once; in other processes a deactivation or a removed secret
# applies within this delay. A cached channel never refuses what the database would accept: a
# delivery it would refuse (inactive, bad signature, another number) is checked again against a
# fresh read, so a new secret or a reactivation works at once everywhere.
CHANNEL_CACHE_SECONDS = 5.0
_CHANNEL_CACHE_MAX = 1024
# (kind, channel_key) -> (expiry on time.monotonic(), channel)
_channel_cache: dict[tuple[str, str], tuple[float, Channel]] = {}


def channel_for_key(*, kind: str, channel_key: str, fresh: bool = False) -> Channel | None:
    """The channel a webhook URL names. The key is the tenant: no workspace comes from outside.

    `fresh`: read the database, not the per-process cache (which it then refreshes)."""
    return _channel_lookup(kind=kind, channel_key=channel_key, fresh=fresh)[0]


def _channel_lookup(*, kind: str, channel_key: str, fresh: bool) -> tuple[Channel | None, bool]:
    """(channel, whether it came from the cache). Each caller gets its own copy: requests on
    other threads never see its changes."""
    if not channel_key or len(channel_key) > 64:
        return None, False
    key = (kind, channel_key)
    now = time.monotonic()
    if not fresh:
        entry = _channel_cache.get(key)
        if entry is not None and entry[0] > now:
            return copy.copy(entry[1]), True
    channel = (
        Channel.dangerously_unscoped_objects.select_related("workspace")
        .filter(channel_key=channel_key, kind=kind)
        .first()
    )
    if channel is None:
        # Unknown keys are not remembered: a new channel must work at once, and guessed keys
        # must not fill the memory.
        _channel_cache.pop(key, None)
        return None, False
    if len(_channel_cache) >= _CHANNEL_CACHE_MAX:
        _channel_cache.clear()
    _channel_cache[key] = (now + CHANNEL_CACHE_SECONDS, copy.copy(channel))
    return channel, False


@receiver(post_save, sender=Channel, dispatch_uid="chatdesk.webhooks.channel_cache_clear_saved")
@receiver(post_delete, sender=Channel, dispatch_uid="chatdesk.webhooks.channel_cache_clear_deleted")
def _channel_cache_clear(**kwargs) -> None:
    _channel_cache.clear()
    # Again after the commit: another thread may have cached the old row in between.
    transaction.on_commit(_channel_cache.clear)


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


@dataclass(frozen=True)
class _Refusal:
    reason: str
    status: int
    outcome: str = ""  # the channel's new "last webhook outcome", if this refusal sets one
    signature_failure: bool = False
    channel_dependent: bool = True  # could a fresh read of the channel change the answer?


def handle_webhook(request: HttpRequest, channel_key: str, provider: WebhookProvider):
    channel, cached = _channel_lookup(kind=provider.kind, channel_key=channel_key, fresh=False)
    if channel is not None and cached and not channel.is_active:
        channel, cached = _channel_lookup(kind=provider.kind, channel_key=channel_key, fresh=True)
    if (refused := _refuse_unusable(request, channel=channel, key=channel_key)) is not None:
        return refused
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
    received = provider.signature(request)
    if not received:
        _record_signature_failure(channel)
        return reject(
            request, channel=channel, key=channel_key, reason="missing signature", status=401
        )
    delivery = _verified_delivery(
        request, channel=channel, body=body, received=received, provider=provider
    )
    if isinstance(delivery, _Refusal) and delivery.channel_dependent and cached:
        channel, cached = _channel_lookup(kind=provider.kind, channel_key=channel_key, fresh=True)
        if (refused := _refuse_unusable(request, channel=channel, key=channel_key)) is not None:
            return refused
        delivery = _verified_delivery(
            request, channel=channel, body=body, received=received, provider=provider
        )
    if isinstance(delivery, _Refusal):
        if delivery.signature_failure:
            _record_signature_failure(channel)
        elif delivery.outcome:
            channel_touch_webhook(channel=channel, outcome=delivery.outcome)
        return reject(
            request,
            channel=channel,
            key=channel_key,
            reason=delivery.reason,
            status=delivery.status,
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


def _refuse_unusable(
    request: HttpRequest, *, channel: Channel | None, key: str
) -> HttpResponse | None:
    if channel is None:
        return reject(request, channel=None, key=key, reason="unknown channel", status=404)
    if not channel.is_active:
        return reject(request, channel=channel, key=key, reason="inactive channel", status=404)
    return None


def _verified_delivery(
    request: HttpRequest, *, channel: Channel, body: bytes, received: str, provider: WebhookProvider
) -> ParsedDelivery | _Refusal:
    """The delivery, if the channel's secrets signed it and it is for the channel's number."""
    if not signatures.signature_matches(
        body=body,
        received=received,
        secrets=(channel.signing_secret, channel.previous_signing_secret),
    ):
        return _Refusal("invalid signature", 401, signature_failure=True)
    try:
        delivery = provider.parse(request, body)
    except PayloadError as error:
        return _Refusal(str(error), 400, outcome="malformed", channel_dependent=False)
    if delivery.phone_number_ids - {channel.phone_number_id}:
        # A channel key must not accept another number's events (a webhook pasted on the wrong
        # channel would otherwise file customers' messages under the wrong number).
        return _Refusal(
            "payload is for another phone number than this channel's",
            400,
            outcome="wrong phone number",
        )
    return delivery


def _record_signature_failure(channel: Channel) -> None:
    # Outside any request transaction on purpose: the failure time must stick (it is shown to
    # admins under Integrations) even though the request is rejected.
    channel_touch_webhook_forget(channel=channel)
    with transaction.atomic():
        Channel.objects.for_workspace(channel.workspace).filter(pk=channel.pk).update(
            last_signature_failure_at=timezone.now(), last_webhook_outcome="signature failure"
        )
