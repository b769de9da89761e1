"""Posting Kapso deliveries the way Kapso does: raw bytes, HMAC of those bytes, Kapso's headers."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from django.test import Client

from chatdesk.integrations import kapso
from chatdesk.messaging.models import Channel
from chatdesk.messaging.signatures import hmac_sha256_hex
from tests.factories import KAPSO_SECRET

FIXTURES = Path(kapso.__file__).parent / "fixtures"
# The number every fixture is addressed to (conversation.phone_number_id, phone_number_id).
PHONE_NUMBER_ID = "123456789012345"
CUSTOMER_WA_ID = "6281234567890"
OMIT = object()  # leave a header out entirely


def fixture_names() -> list[str]:
    return sorted(path.stem for path in FIXTURES.glob("*.json"))


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def fixture_json(name: str) -> dict:
    return json.loads(fixture_bytes(name))


def event_type_of(name: str) -> str:
    """`<event>__<variant>`; a batch fixture's event type is the batch's `type`."""
    prefix = name.split("__", 1)[0]
    return fixture_json(name)["type"] if prefix == "batch" else prefix


def url_for(channel: Channel | str) -> str:
    key = channel if isinstance(channel, str) else channel.channel_key
    return f"/webhooks/kapso/{key}"


def post(
    client: Client,
    channel: Channel | str,
    body: bytes,
    *,
    event=OMIT,
    idempotency_key=None,
    signature=None,
    secret: str = KAPSO_SECRET,
    batch: bool = False,
    remote_addr: str = "203.0.113.7",
):
    """POST `body` exactly as given. `signature=None` signs it with `secret`; `OMIT` drops a
    header; `idempotency_key=None` makes a fresh UUID (a new delivery)."""
    headers = {"X-Webhook-Payload-Version": "v2", "X-Webhook-Source": "kapso"}
    if event is not OMIT:
        headers["X-Webhook-Event"] = event
    if idempotency_key is None:
        idempotency_key = str(uuid.uuid4())
    if idempotency_key is not OMIT:
        headers["X-Idempotency-Key"] = idempotency_key
    if signature is None:
        signature = hmac_sha256_hex(secret, body)
    if signature is not OMIT:
        headers["X-Webhook-Signature"] = signature
    if batch:
        headers["X-Webhook-Batch"] = "true"
        headers["X-Batch-Size"] = str(_batch_size(body))
    return client.generic(
        "POST",
        url_for(channel),
        body,
        content_type="application/json",
        headers=headers,
        REMOTE_ADDR=remote_addr,
    )


def _batch_size(body: bytes) -> int:
    try:
        return len(json.loads(body)["data"])
    except (ValueError, KeyError, TypeError):
        return 0  # the body is not a batch: tests that send such bodies do not rely on it


def post_fixture(client: Client, channel: Channel | str, name: str, **kwargs):
    kwargs.setdefault("event", event_type_of(name))
    kwargs.setdefault("batch", name.startswith("batch__"))
    return post(client, channel, fixture_bytes(name), **kwargs)
