"""Kapso's side of the shared inbound webhook flow (`chatdesk.messaging.webhooks`).

Headers (docs.kapso.ai/docs/platform/webhooks/overview, .../security):
- `X-Webhook-Signature`: hex HMAC-SHA256 of the raw body with the webhook's secret key (no
  prefix, no timestamp: replays are stopped by the idempotency store and message-id dedupe);
- `X-Idempotency-Key`: a UUID per delivery, repeated on Kapso's retries (+10 s, +40 s, +90 s);
- `X-Webhook-Event`, `X-Webhook-Payload-Version: v2`, and for buffered deliveries
  `X-Webhook-Batch: true` with `X-Batch-Size`.
"""

from __future__ import annotations

import re

from django.http import HttpRequest

from chatdesk.integrations.kapso.parser import parse_delivery
from chatdesk.messaging.events import ParsedDelivery, PayloadError
from chatdesk.messaging.models import ChannelKind
from chatdesk.messaging.webhooks import WebhookProvider

# Kapso sends a UUID; any short token of URL-safe characters is accepted, nothing else is
# stored (the key lands in a 128-character column and in logs).
_IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


class KapsoProvider(WebhookProvider):
    kind = ChannelKind.KAPSO
    # A buffered batch holds up to 100 messages. Each item repeats the text up to three times
    # (message, kapso.content, conversation.kapso.last_message_text); 100 items of 4,096-character
    # texts in 4-byte UTF-8 come to about 5 MB. 8 MiB leaves room for that worst case while
    # bounding what one request can make us hold in memory.
    max_body_bytes = 8 * 1024 * 1024

    def signature(self, request: HttpRequest) -> str:
        return request.headers.get("X-Webhook-Signature", "")

    def idempotency_key(self, request: HttpRequest, body: bytes) -> str:
        return _idempotency_key(request)

    def parse(self, request: HttpRequest, body: bytes) -> ParsedDelivery:
        # Checked here, before anything is stored: handle_webhook turns PayloadError into a 400.
        _idempotency_key(request)
        return parse_delivery(
            body=body,
            event_type=request.headers.get("X-Webhook-Event", ""),
            batch=request.headers.get("X-Webhook-Batch", "").strip().lower() == "true",
            payload_version=request.headers.get("X-Webhook-Payload-Version", ""),
        )


def _idempotency_key(request: HttpRequest) -> str:
    key = request.headers.get("X-Idempotency-Key", "").strip()
    if not key:
        raise PayloadError("missing X-Idempotency-Key header")
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        raise PayloadError(
            "X-Idempotency-Key is not a valid token (up to 128 of A-Z a-z 0-9 . _ : -)"
        )
    return key
