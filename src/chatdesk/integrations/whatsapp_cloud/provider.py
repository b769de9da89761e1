"""How chatdesk reads a Meta WhatsApp Cloud API webhook request (see messaging/webhooks.py for
everything providers share: lookup, size limit, signature check, storage, security log)."""

from __future__ import annotations

import logging

from django.http import HttpRequest

from chatdesk.integrations.whatsapp_cloud.parser import MetaDelivery, parse_body
from chatdesk.messaging.models import ChannelKind
from chatdesk.messaging.services import body_idempotency_key
from chatdesk.messaging.webhooks import WebhookProvider

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hub-Signature-256"
SIGNATURE_PREFIX = "sha256="
# Never equal to a hex digest, so a header without its prefix is refused as an *invalid*
# signature (a bare digest must not pass: Meta always sends the prefix).
_UNMATCHABLE = "not-a-sha256-signature"


class MetaCloudProvider(WebhookProvider):
    kind = ChannelKind.META
    # Meta: "up to 1,000 updates ... and up to 3 MB" per POST.
    max_body_bytes = 3 * 1024 * 1024

    def signature(self, request: HttpRequest) -> str:
        header = request.headers.get(SIGNATURE_HEADER, "").strip()
        if not header:
            return ""
        if header[: len(SIGNATURE_PREFIX)].lower() != SIGNATURE_PREFIX:
            return _UNMATCHABLE
        return header[len(SIGNATURE_PREFIX) :]

    def idempotency_key(self, request: HttpRequest, body: bytes) -> str:
        # Meta has no delivery id; a retry re-sends the same bytes. A wamid seen again in a
        # different body is still stored once (unique per channel).
        return body_idempotency_key(body)

    def parse(self, request: HttpRequest, body: bytes) -> MetaDelivery:
        delivery = parse_body(body)
        for event in delivery.ignored:
            # Account-level errors (rate limits, ...) are worth an operator's attention.
            level = logging.WARNING if event.reason.startswith("messages.errors") else logging.DEBUG
            logger.log(level, "meta webhook event ignored: %s", event.reason)
        return delivery


META_PROVIDER = MetaCloudProvider()
