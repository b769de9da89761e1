"""Webhook bodies and error answers in the providers' real shapes, signed like the providers sign.

Meta (developers.facebook.com, whatsapp/webhooks/reference/messages and .../status): one
`whatsapp_business_account` envelope, `X-Hub-Signature-256: sha256=<hex>` over the raw bytes.
Meta serialises with non-ASCII characters escaped (`\\u00e9`), so the bytes we sign are those.
Kapso (docs.kapso.ai, platform/webhooks): a v2 event per request or a `{type, batch, data}`
batch, `X-Webhook-Signature: <hex>` (no prefix), `X-Idempotency-Key` per delivery (repeated on
retries), `X-Webhook-Event`, `X-Webhook-Payload-Version: v2`. Kapso sends UTF-8 as is.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field

from chatdesk.devtools.simulator.channels import SimChannel

META_ERRORS_HREF = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"


@dataclass(frozen=True)
class Outgoing:
    """One webhook request, exactly as it will be sent (re-sent byte for byte as duplicates)."""

    body: bytes
    headers: dict[str, str]
    label: str  # for the log and the page: "message wamid.SIM…", "status read wamid.SIM…"
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class CustomerText:
    wamid: str
    wa_id: str
    name: str
    text: str
    timestamp: int
    reply_to: str = ""


def new_wamid() -> str:
    # Identifier characters both parsers accept (Kapso's allows [A-Za-z0-9._:=+/-]).
    return f"wamid.SIM{secrets.token_hex(12).upper()}"


def now() -> int:
    return int(time.time())


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# --- Meta ---------------------------------------------------------------------------------


def _meta_envelope(channel: SimChannel, value: dict) -> bytes:
    document = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": channel.waba_id,
                "changes": [
                    {
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": channel.display_number,
                                "phone_number_id": channel.phone_number_id,
                            },
                            **value,
                        },
                        "field": "messages",
                    }
                ],
            }
        ],
    }
    return json.dumps(document, ensure_ascii=True, separators=(",", ":")).encode()


def _meta_headers(channel: SimChannel, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": f"sha256={sign(channel.signing_secret, body)}",
    }


def meta_customer_messages(channel: SimChannel, texts: list[CustomerText]) -> Outgoing:
    contacts = {t.wa_id: {"profile": {"name": t.name}, "wa_id": t.wa_id} for t in texts}
    messages = []
    for t in texts:
        message = {
            "from": t.wa_id,
            "id": t.wamid,
            "timestamp": str(t.timestamp),
            "type": "text",
            "text": {"body": t.text},
        }
        if t.reply_to:
            message["context"] = {"from": channel.display_number, "id": t.reply_to}
        messages.append(message)
    body = _meta_envelope(channel, {"contacts": list(contacts.values()), "messages": messages})
    label = "message " + ", ".join(t.wamid for t in texts)
    return Outgoing(body=body, headers=_meta_headers(channel, body), label=label)


def _meta_status_item(status: str, wamid: str, wa_id: str, error: dict | None) -> dict:
    item: dict = {"id": wamid, "status": status, "timestamp": str(now()), "recipient_id": wa_id}
    if status == "failed":
        item["errors"] = [error or {}]
        return item
    conversation: dict = {"id": f"SIMCONV{wa_id}", "origin": {"type": "service"}}
    if status == "sent":
        conversation["expiration_timestamp"] = str(now() + 24 * 3600)
    item["conversation"] = conversation
    item["pricing"] = {
        "billable": False,
        "pricing_model": "PMP",
        "category": "service",
        "type": "free_customer_service",
    }
    return item


def meta_status(
    channel: SimChannel, *, status: str, wamid: str, wa_id: str, error: dict | None = None
) -> Outgoing:
    body = _meta_envelope(channel, {"statuses": [_meta_status_item(status, wamid, wa_id, error)]})
    return Outgoing(
        body=body, headers=_meta_headers(channel, body), label=f"status {status} {wamid}"
    )


# --- Kapso --------------------------------------------------------------------------------


def _kapso_conversation(channel: SimChannel, wa_id: str, name: str) -> dict:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"sim:{channel.phone_number_id}:{wa_id}")),
        "phone_number": f"+{wa_id}",
        "status": "active",
        "last_active_at": stamp,
        "created_at": stamp,
        "updated_at": stamp,
        "metadata": {},
        "phone_number_id": channel.phone_number_id,
        "kapso": {"contact_name": name},
    }


def _kapso_outgoing(channel: SimChannel, event: str, items: list[dict], label: str) -> Outgoing:
    if len(items) == 1:
        document: dict = items[0]
    else:
        document = {"type": event, "batch": True, "data": items}
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Webhook-Event": event,
        "X-Webhook-Signature": sign(channel.signing_secret, body),
        "X-Idempotency-Key": str(uuid.uuid4()),
        "X-Webhook-Payload-Version": "v2",
    }
    if len(items) > 1:
        headers["X-Webhook-Batch"] = "true"
        headers["X-Batch-Size"] = str(len(items))
    return Outgoing(body=body, headers=headers, label=label)


def kapso_customer_messages(channel: SimChannel, texts: list[CustomerText]) -> Outgoing:
    items = []
    for t in texts:
        message: dict = {
            "from": t.wa_id,
            "id": t.wamid,
            "timestamp": str(t.timestamp),
            "type": "text",
            "text": {"body": t.text},
            "kapso": {
                "direction": "inbound",
                "status": "received",
                "processing_status": "pending",
                "origin": "cloud_api",
                "has_media": False,
                "content": t.text,
            },
        }
        if t.reply_to:
            message["context"] = {"from": channel.display_number, "id": t.reply_to}
        items.append(
            {
                "message": message,
                "conversation": _kapso_conversation(channel, t.wa_id, t.name),
                "is_new_conversation": False,
                "phone_number_id": channel.phone_number_id,
            }
        )
    label = "message " + ", ".join(t.wamid for t in texts)
    return _kapso_outgoing(channel, "whatsapp.message.received", items, label)


def kapso_status(
    channel: SimChannel,
    *,
    status: str,
    wamid: str,
    wa_id: str,
    text: str,
    history: list[str],
    error: dict | None = None,
) -> Outgoing:
    """`history`: the statuses already reported before this one (Kapso lists them all)."""
    statuses = [_meta_status_item(s, wamid, wa_id, error) for s in [*history, status]]
    message = {
        "id": wamid,
        "timestamp": str(now()),
        "type": "text",
        "text": {"body": text},
        "kapso": {
            "direction": "outbound",
            "status": status,
            "processing_status": "completed",
            "origin": "cloud_api",
            "has_media": False,
            "statuses": statuses,
        },
    }
    item = {
        "message": message,
        "conversation": _kapso_conversation(channel, wa_id, ""),
        "is_new_conversation": False,
        "phone_number_id": channel.phone_number_id,
    }
    return _kapso_outgoing(
        channel, f"whatsapp.message.{status}", [item], f"status {status} {wamid}"
    )


# --- Graph API answers --------------------------------------------------------------------


@dataclass(frozen=True)
class ProviderCode:
    code: int
    title: str
    details: str
    http_status: int = 400


# Meta's codes (developers.facebook.com, whatsapp/support/error-codes). Branch on `code`, never on
# the HTTP status: Meta answers most of them with 400.
PROVIDER_CODES: dict[str, ProviderCode] = {
    "4": ProviderCode(4, "Application request limit reached", "Too many API calls."),
    "80007": ProviderCode(
        80007, "Rate limit issues", "The WhatsApp Business Account has reached its rate limit."
    ),
    "130429": ProviderCode(
        130429,
        "Rate limit hit",
        "Cloud API message throughput has been reached.",
    ),
    "131056": ProviderCode(
        131056,
        "(Business Account, Consumer Account) pair rate limit hit",
        "Too many messages sent from the sender phone number to the same recipient phone number "
        "in a short period of time.",
    ),
    "131057": ProviderCode(
        131057, "Account in maintenance mode", "Business Account is in maintenance mode."
    ),
    "131047": ProviderCode(
        131047,
        "Re-engagement message",
        "Message failed to send because more than 24 hours have passed since the customer last "
        "replied to this number.",
    ),
    "131026": ProviderCode(131026, "Message undeliverable", "Unable to deliver message."),
}


def graph_error(code: int, message: str, details: str = "", type_: str = "OAuthException") -> dict:
    error: dict = {
        "message": f"(#{code}) {message}",
        "type": type_,
        "code": code,
        "fbtrace_id": f"SIM{secrets.token_hex(8)}",
    }
    if details:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    return {"error": error}


def webhook_error(code: ProviderCode) -> dict:
    """The `errors[]` item of a failed status webhook."""
    return {
        "code": code.code,
        "title": code.title,
        "message": code.title,
        "error_data": {"details": code.details},
        "href": META_ERRORS_HREF,
    }


def send_accepted(wa_id: str, to: str, wamid: str) -> dict:
    return {
        "messaging_product": "whatsapp",
        "contacts": [{"input": to, "wa_id": wa_id}],
        "messages": [{"id": wamid}],
    }
