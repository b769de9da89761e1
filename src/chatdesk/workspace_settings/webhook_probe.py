"""Settings > Integrations > "Send test event": a signed, provider-correct delivery posted to the
channel's real webhook URL (APP_BASE_URL + path), exactly as the provider would send it.

It proves what an admin needs to know before going live: the URL in the provider's console
reaches this installation (DNS, TLS, proxy, ALLOWED_HOSTS), the channel is active, the stored
signing secret verifies, and a message is parsed and stored.

Keeping the inbox clean (the choice, and why). The test is a text message from the test number
`TEST_WA_ID` ("0000…": no real WhatsApp number starts with 0, E.164 country codes start at 1)
carrying `"test_event": true` in its payload, with a `wamid.chatdesk-test-…` id. It goes through
the same path as a customer's message, so "stored" means the real path works; right after the
answer, the test message, its raw webhook event, and the test contact's conversation and contact
(once empty) are deleted. Processing jobs enqueued for it find no message and do nothing. An
ignored event type would have kept the inbox clean without a delete, but would not prove that a
message is stored. The channel's "last webhook" does show the test: it was a real delivery.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass

import httpx
from django.db import transaction
from django.utils import timezone

from chatdesk.audit.models import AuditAction
from chatdesk.audit.services import AuditActor, audit_record
from chatdesk.crm.models import Contact, Conversation, Message
from chatdesk.messaging.models import Channel, ChannelKind, WebhookEvent
from chatdesk.messaging.selectors import channel_webhook_url
from chatdesk.messaging.services import body_idempotency_key
from chatdesk.messaging.signatures import hmac_sha256_hex
from chatdesk.ops.request_id import REQUEST_ID_HEADER, get_request_id

logger = logging.getLogger(__name__)

TEST_WA_ID = "00005550100"
TEST_CONTACT_NAME = "chatdesk test event"
TEST_MESSAGE_ID_PREFIX = "wamid.chatdesk-test-"
TIMEOUT_SECONDS = 10.0
USER_AGENT = "chatdesk-test-event/1"


@dataclass(frozen=True)
class ProbeEvent:
    """One test delivery: the bytes, the headers that sign and describe them, and its ids."""

    body: bytes
    headers: dict[str, str]
    message_id: str
    idempotency_key: str


@dataclass(frozen=True)
class ProbeResult:
    url: str
    status_code: int | None = None
    latency_ms: int | None = None
    stored: bool = False
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status_code == 200 and self.stored


def probe_event_build(*, channel: Channel) -> ProbeEvent:
    """A test text message in the channel's provider format, signed with its current secret."""
    message_id = f"{TEST_MESSAGE_ID_PREFIX}{uuid.uuid4().hex}"
    now = timezone.now()
    text = {
        "body": f"chatdesk test event, sent from Settings at {now:%Y-%m-%d %H:%M:%S} UTC",
        "test_event": True,
    }
    message = {
        "from": TEST_WA_ID,
        "id": message_id,
        "timestamp": str(int(now.timestamp())),
        "type": "text",
        "text": text,
    }
    if channel.kind == ChannelKind.META:
        document = {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "0",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": channel.display_number,
                                    "phone_number_id": channel.phone_number_id,
                                },
                                "contacts": [
                                    {"profile": {"name": TEST_CONTACT_NAME}, "wa_id": TEST_WA_ID}
                                ],
                                "messages": [message],
                            },
                        }
                    ],
                }
            ],
            "test_event": True,
        }
        body = _json_bytes(document)
        headers = {"X-Hub-Signature-256": "sha256=" + hmac_sha256_hex(channel.signing_secret, body)}
        idempotency_key = body_idempotency_key(body)
    else:
        document = {
            "message": {
                **message,
                "kapso": {
                    "direction": "inbound",
                    "status": "received",
                    "origin": "cloud_api",
                    "has_media": False,
                    "content": text["body"],
                },
            },
            "conversation": {
                "phone_number": f"+{TEST_WA_ID}",
                "phone_number_id": channel.phone_number_id,
                "kapso": {"contact_name": TEST_CONTACT_NAME},
            },
            "is_new_conversation": False,
            "phone_number_id": channel.phone_number_id,
            "test_event": True,
        }
        body = _json_bytes(document)
        idempotency_key = f"chatdesk-test-{uuid.uuid4()}"
        headers = {
            "X-Webhook-Signature": hmac_sha256_hex(channel.signing_secret, body),
            "X-Idempotency-Key": idempotency_key,
            "X-Webhook-Event": "whatsapp.message.received",
            "X-Webhook-Payload-Version": "v2",
        }
    headers |= {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    request_id = get_request_id()
    if request_id:
        headers[REQUEST_ID_HEADER] = request_id  # one id across the click and the delivery
    return ProbeEvent(
        body=body, headers=headers, message_id=message_id, idempotency_key=idempotency_key
    )


def channel_test_event_send(
    *, channel: Channel, actor: AuditActor, timeout: float = TIMEOUT_SECONDS
) -> ProbeResult:
    """Post a test event to the channel's webhook URL, report the round trip, clean up, audit.

    Runs outside any transaction: the webhook is served by another request (possibly another
    process) that must see the channel and commit its own rows before we look for them.
    """
    url = channel_webhook_url(channel=channel)
    event = probe_event_build(channel=channel)
    started = time.perf_counter()
    try:
        # No redirects: a redirect (http -> https, a missing trailing slash) is a misconfigured
        # URL that the provider would not follow either.
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            response = client.post(url, content=event.body, headers=event.headers)
    except httpx.TimeoutException:
        result = ProbeResult(
            url=url,
            error=(
                f"No answer within {timeout:g} s. Check that APP_BASE_URL points at this "
                "installation and that the web server runs more than one worker or thread."
            ),
        )
    except httpx.HTTPError as error:
        result = ProbeResult(
            url=url,
            error=f"Could not reach the webhook URL ({type(error).__name__}). Check APP_BASE_URL, "
            "DNS and the reverse proxy.",
        )
    else:
        latency_ms = round((time.perf_counter() - started) * 1000)
        stored = _probe_cleanup(channel=channel, event=event)
        result = ProbeResult(
            url=url,
            status_code=response.status_code,
            latency_ms=latency_ms,
            stored=stored,
            error="" if response.status_code == 200 else _explain(response),
        )
    with transaction.atomic():
        audit_record(
            workspace=channel.workspace,
            action=AuditAction.CHANNEL_TEST_EVENT_SENT,
            actor=actor,
            target=channel,
            details={
                "status_code": result.status_code,
                "latency_ms": result.latency_ms,
                "stored": result.stored,
                "outcome": "ok" if result.ok else (result.error[:200] or "not stored"),
            },
        )
    logger.info(
        "test event sent",
        extra={
            "channel_id": channel.pk,
            "workspace_id": channel.workspace_id,
            "status": result.status_code,
            "latency_ms": result.latency_ms,
            "stored": result.stored,
        },
    )
    return result


@transaction.atomic
def _probe_cleanup(*, channel: Channel, event: ProbeEvent) -> bool:
    """Delete what the test stored; True when its message had been stored."""
    workspace = channel.workspace
    messages = Message.objects.for_workspace(workspace).filter(
        channel=channel, provider_message_id=event.message_id
    )
    stored = messages.exists()
    messages.delete()
    WebhookEvent.objects.for_workspace(workspace).filter(
        channel=channel, idempotency_key=event.idempotency_key
    ).delete()
    # The test contact and its conversations, once nothing else is in them (another admin's
    # test may be in flight at the same moment).
    Conversation.objects.for_workspace(workspace).filter(
        contact__wa_id=TEST_WA_ID, messages__isnull=True
    ).delete()
    Contact.objects.for_workspace(workspace).filter(
        wa_id=TEST_WA_ID, conversations__isnull=True
    ).delete()
    return stored


def _explain(response: httpx.Response) -> str:
    status = response.status_code
    reason = ""
    if response.headers.get("content-type", "").startswith("application/json"):
        try:
            reason = str(response.json().get("error", ""))[:200]
        except (ValueError, AttributeError):
            reason = ""
    hints = {
        401: "The signature did not verify with the stored signing secret.",
        404: "The endpoint does not know this channel or the channel is inactive.",
        400: "The endpoint refused the event.",
        413: "The event was too large.",
    }
    hint = hints.get(status, "")
    if 300 <= status < 400:
        hint = "The URL redirects: APP_BASE_URL should be the final https address."
    elif status >= 500:
        hint = "The server failed while storing the event; see the server logs."
    parts = [f"HTTP {status}", reason, hint]
    return ". ".join(p.rstrip(".") for p in parts if p) + "."


def _json_bytes(document: dict) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
