"""Shared helpers for the Meta webhook tests: real fixtures, signatures, posting raw bytes."""

from __future__ import annotations

import json
from pathlib import Path

from django.test import Client

from chatdesk.integrations.whatsapp_cloud import parser
from chatdesk.messaging.models import Channel
from chatdesk.messaging.signatures import hmac_sha256_hex
from tests.factories import APP_SECRET

FIXTURES = Path(parser.__file__).parent / "fixtures"
# The phone number id every fixture is addressed to (Meta's documentation example).
FIXTURE_PHONE_NUMBER_ID = "106540352242922"


def fixture_names() -> list[str]:
    return sorted(path.stem for path in FIXTURES.glob("*.json"))


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def fixture_json(name: str) -> dict:
    return json.loads(fixture_bytes(name))


def meta_signature(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac_sha256_hex(secret, body)


def webhook_url(channel: Channel | str) -> str:
    key = channel if isinstance(channel, str) else channel.channel_key
    return f"/webhooks/whatsapp/{key}"


def post_signed(
    client: Client,
    channel: Channel | str,
    body: bytes,
    *,
    secret: str = APP_SECRET,
    signature: str | None = None,
    **headers: str,
):
    """POST raw bytes as Meta does; `signature` overrides the correct one ('' sends none)."""
    signature = meta_signature(body, secret) if signature is None else signature
    if signature:
        headers["X-Hub-Signature-256"] = signature
    return client.post(
        webhook_url(channel),
        data=body,
        content_type="application/json",
        headers=headers,
        REMOTE_ADDR="203.0.113.7",
    )


def make_outbound_message(channel: Channel, wamid: str, *, wa_id: str = "6281234567890"):
    """An agent's reply already accepted by Meta (status `sent`), as the outbound job leaves it."""
    from django.utils import timezone

    from chatdesk.crm.models import Author, Direction, Message, MessageStatus
    from chatdesk.messaging.services import contact_upsert, conversation_for_contact

    contact = contact_upsert(channel=channel, wa_id=wa_id, name="")
    conversation = conversation_for_contact(channel=channel, contact=contact)
    return Message.objects.for_workspace(channel.workspace).create(
        workspace=channel.workspace,
        conversation=conversation,
        channel=channel,
        direction=Direction.OUTBOUND,
        author=Author.AGENT,
        type="text",
        text="Kamar masih tersedia, kak.",
        provider_message_id=wamid,
        provider_timestamp=timezone.now(),
        status=MessageStatus.SENT,
    )
