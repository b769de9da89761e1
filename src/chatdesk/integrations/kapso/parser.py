"""Kapso v2 webhook bodies -> provider-neutral events (`chatdesk.messaging.events`).

Shapes (docs.kapso.ai/docs/platform/webhooks/message-events, .../advanced):
- one event per request: `{message: {...Meta message fields..., kapso: {direction, status,
  origin, has_media, media_url, media_data, statuses, ...}}, conversation: {id, phone_number,
  phone_number_id, kapso: {contact_name, ...}}, is_new_conversation, phone_number_id}`;
- buffered deliveries: `{type, batch: true, data: [<one event body>, ...]}`, every item of the
  batch's type.
Kapso warns that `phone_number`, `from`, `to` and `wa_id` are not always present, so the
customer's number is taken from the first of them that is.

Every event type we receive is declared in `EVENT_TYPES`; `tests/integrations/kapso` fails when a
declared type has no fixture or a fixture's type is not declared (Zulip's `ALL_EVENT_TYPES`).
Error messages name fields, never values: they are logged and returned to the caller.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone

from chatdesk.messaging.events import (
    IgnoredEvent,
    InboundMessage,
    ParsedDelivery,
    PayloadError,
    StatusUpdate,
)

logger = logging.getLogger(__name__)

MESSAGE_RECEIVED = "whatsapp.message.received"
# Kapso buffers at most 100 messages per batch; anything far beyond that is not Kapso.
MAX_BATCH_ITEMS = 1000
# Deeper than any WhatsApp message object; bounds the work of cleaning what we store.
MAX_PAYLOAD_DEPTH = 32

_EVENT_TYPE = re.compile(r"[a-z][a-z0-9_.]{0,63}")
_IDENTIFIER = re.compile(r"[A-Za-z0-9._:=+/-]{1,128}")
_PHONE_NUMBER_ID = re.compile(r"[0-9]{1,64}")
_PHONE_PUNCTUATION = re.compile(r"[\s+()\-.]")
_WA_ID = re.compile(r"[0-9]{5,20}")
# NUL and lone surrogates cannot be stored (PostgreSQL rejects both, SQLite's driver the latter).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_EARLIEST = datetime(2009, 1, 1, tzinfo=UTC)  # WhatsApp did not exist before
_FUTURE_TOLERANCE = timedelta(days=1)


Event = InboundMessage | StatusUpdate | IgnoredEvent


def parse_delivery(
    *, body: bytes, event_type: str, batch: bool, payload_version: str = ""
) -> ParsedDelivery:
    """Parse one verified request body. `event_type` is the `X-Webhook-Event` header, `batch`
    whether `X-Webhook-Batch` said true. Raises PayloadError for anything we cannot read."""
    if payload_version and payload_version.strip().lower() != "v2":
        raise PayloadError("only payload version v2 is supported: switch the Kapso webhook to v2")
    document = _load_json(body)
    if not isinstance(document, dict):
        raise PayloadError("body is not a JSON object")
    # Kapso's own sample trusts either signal: the header or the body's `batch: true`.
    is_batch = batch or document.get("batch") is True
    if is_batch:
        items = document.get("data")
        if not isinstance(items, list):
            raise PayloadError("batched delivery without a data list")
        if len(items) > MAX_BATCH_ITEMS:
            raise PayloadError(f"batch has more than {MAX_BATCH_ITEMS} items")
        event_type = _event_type(header=event_type, in_body=document.get("type"))
    else:
        items = [document]
        event_type = _event_type(header=event_type, in_body=None)

    delivery = ParsedDelivery(event_type=event_type)
    handler = EVENT_TYPES.get(event_type)
    if handler is None:
        # Kapso adds event types over time and pauses a webhook that keeps failing, so an
        # undeclared type is acknowledged (its raw body is kept for replay), not refused.
        logger.warning("kapso event type not handled", extra={"event_type": event_type})
        delivery.ignored.append(IgnoredEvent(reason=f"undeclared event type {event_type}"))
        return delivery
    for index, item in enumerate(items):
        where = f"batch item {index}: " if is_batch else ""
        if not isinstance(item, dict):
            raise PayloadError(f"{where}event is not a JSON object")
        try:
            event = handler(item, event_type)
            delivery.phone_number_ids |= _phone_number_ids(item)
        except PayloadError as error:
            raise PayloadError(f"{where}{error}") from None
        if isinstance(event, InboundMessage):
            delivery.messages.append(event)
        elif isinstance(event, StatusUpdate):
            delivery.statuses.append(event)
        else:
            delivery.ignored.append(event)
    return delivery


# --- events -----------------------------------------------------------------------------------


def _message_received(item: dict, event_type: str) -> InboundMessage | IgnoredEvent:
    _require_phone_number_id(item)
    message = _object(item, "message")
    kapso = _optional_object(message, "kapso")
    if kapso.get("direction") == "outbound":
        # Messages sent from the WhatsApp Business App on this number come back as "received"
        # with direction outbound: they are not the customer's words.
        return IgnoredEvent(reason="outbound echo of a message sent from this number")
    provider_message_id = _identifier(message.get("id"), "message.id")
    message_type = message.get("type")
    if not isinstance(message_type, str) or not _EVENT_TYPE.fullmatch(message_type):
        raise PayloadError("message.type is missing or invalid")
    conversation = _optional_object(item, "conversation")
    conversation_kapso = _optional_object(conversation, "kapso")

    content = message.get(message_type)
    extractor = MESSAGE_TYPES.get(message_type)
    if extractor is None:
        # Unknown to us: stored and flagged for a human, never dropped.
        text, payload = "", content if isinstance(content, dict) else {}
        unsupported = True
    else:
        text, payload = extractor(message, content)
        unsupported = message_type == "unsupported"

    media_id = media_mime_type = media_url = ""
    if message_type in MEDIA_TYPES:
        media_data = _optional_object(kapso, "media_data")
        media_id = _optional_identifier(payload.get("id"))
        media_mime_type = _short_text(payload.get("mime_type") or media_data.get("content_type"))
        media_url = _media_url(kapso.get("media_url") or media_data.get("url"))

    context = _optional_object(message, "context")
    reply_to = _optional_identifier(context.get("id"))
    if message_type == "reaction":
        reply_to = _optional_identifier(payload.get("message_id"))

    return InboundMessage(
        provider_message_id=provider_message_id,
        wa_id=_customer_wa_id(message, conversation, kapso),
        contact_name=_short_text(
            conversation_kapso.get("contact_name") or conversation.get("contact_name"), 200
        ),
        type=message_type,
        text=_clean(text),
        payload=_storable(payload),
        timestamp=_unix_time(message.get("timestamp")) or _received_now(provider_message_id),
        reply_to_provider_id=reply_to,
        media_id=media_id,
        media_mime_type=media_mime_type,
        media_url=media_url,
        unsupported=unsupported,
    )


def _status(status: str) -> Callable[[dict, str], StatusUpdate]:
    """The handler of `whatsapp.message.<status>`: the event type, not `kapso.status` (which may
    already be further along), says which status this delivery reports."""

    def handler(item: dict, event_type: str) -> StatusUpdate:
        _require_phone_number_id(item)
        message = _object(item, "message")
        provider_message_id = _identifier(message.get("id"), "message.id")
        kapso = _optional_object(message, "kapso")
        # kapso.statuses is Meta's raw status history, oldest first: take this status's entry.
        history = kapso.get("statuses")
        entry: dict = {}
        if isinstance(history, list):
            for candidate in reversed(history):
                if isinstance(candidate, dict) and candidate.get("status") == status:
                    entry = candidate
                    break
        error_code, error_reason = "", ""
        if status == "failed":
            error_code, error_reason = _first_error(entry.get("errors") or message.get("errors"))
        conversation = _optional_object(item, "conversation")
        recipient = (
            _wa_id(entry.get("recipient_id"))
            or _wa_id(message.get("to"))
            or _wa_id(conversation.get("phone_number"))
        )
        return StatusUpdate(
            provider_message_id=provider_message_id,
            status=status,
            timestamp=_unix_time(entry.get("timestamp"))
            or _unix_time(message.get("timestamp"))
            or timezone.now(),
            recipient_wa_id=recipient,
            error_code=error_code,
            error_reason=error_reason,
        )

    return handler


def _ignored(reason: str) -> Callable[[dict, str], IgnoredEvent]:
    def handler(item: dict, event_type: str) -> IgnoredEvent:
        return IgnoredEvent(reason=f"{event_type}: {reason}")

    return handler


# The declared table: every Kapso event type chatdesk receives on purpose, and what it becomes.
EVENT_TYPES: dict[str, Callable[[dict, str], Event]] = {
    MESSAGE_RECEIVED: _message_received,
    "whatsapp.message.sent": _status("sent"),
    "whatsapp.message.delivered": _status("delivered"),
    "whatsapp.message.read": _status("read"),
    "whatsapp.message.failed": _status("failed"),
    # Conversations are chatdesk's own (one thread per contact and channel, 24-hour window from
    # the customer's last message); Kapso's view of them is not needed.
    "whatsapp.conversation.created": _ignored("conversations are tracked by chatdesk"),
    "whatsapp.conversation.ended": _ignored("conversations are tracked by chatdesk"),
    "whatsapp.conversation.inactive": _ignored("inactivity is tracked by chatdesk"),
}


# --- message types (Meta's message object, which Kapso passes through) -------------------------


def _caption(message: dict, content: Any) -> tuple[str, dict]:
    content = _type_object(content, message)
    return _text_of(content.get("caption")), content


def _document(message: dict, content: Any) -> tuple[str, dict]:
    content = _type_object(content, message)
    return _text_of(content.get("caption") or content.get("filename")), content


def _no_text(message: dict, content: Any) -> tuple[str, dict]:
    return "", _type_object(content, message)


def _field(name: str) -> Callable[[dict, Any], tuple[str, dict]]:
    def extract(message: dict, content: Any) -> tuple[str, dict]:
        content = _type_object(content, message)
        return _text_of(content.get(name)), content

    return extract


def _interactive(message: dict, content: Any) -> tuple[str, dict]:
    content = _type_object(content, message)
    reply_type = content.get("type")
    reply = content.get(reply_type) if isinstance(reply_type, str) else None
    if not isinstance(reply, dict):
        return "", content
    # button_reply and list_reply carry a title; a flow's nfm_reply carries a body.
    return _text_of(reply.get("title") or reply.get("body")), content


def _location(message: dict, content: Any) -> tuple[str, dict]:
    content = _type_object(content, message)
    words = [_text_of(content.get("name")), _text_of(content.get("address"))]
    text = ", ".join(word for word in words if word)
    if not text:
        latitude, longitude = content.get("latitude"), content.get("longitude")
        if _is_number(latitude) and _is_number(longitude):
            text = f"{latitude}, {longitude}"
    return text, content


def _contacts(message: dict, content: Any) -> tuple[str, dict]:
    if not isinstance(content, list):
        raise PayloadError("message.contacts is not a list")
    names = []
    for card in content:
        name = card.get("name") if isinstance(card, dict) else None
        if isinstance(name, dict) and _text_of(name.get("formatted_name")):
            names.append(_text_of(name.get("formatted_name")))
    return ", ".join(names), {"contacts": content}


def _unsupported(message: dict, content: Any) -> tuple[str, dict]:
    # Meta sends no sub-object for it; the reason is in message.errors.
    errors = message.get("errors")
    payload = content if isinstance(content, dict) else {}
    if isinstance(errors, list):
        payload = {**payload, "errors": errors}
    return "", payload


MEDIA_TYPES = frozenset({"image", "audio", "video", "document", "sticker"})

MESSAGE_TYPES: dict[str, Callable[[dict, Any], tuple[str, dict]]] = {
    "text": _field("body"),
    "image": _caption,
    "video": _caption,
    "document": _document,
    "audio": _no_text,
    "sticker": _no_text,
    "interactive": _interactive,
    "button": _field("text"),
    "reaction": _field("emoji"),
    "location": _location,
    "contacts": _contacts,
    "order": _field("text"),
    "system": _field("body"),
    "unsupported": _unsupported,
}


# --- field helpers ------------------------------------------------------------------------------


def _load_json(body: bytes) -> Any:
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise PayloadError("body is not valid UTF-8 JSON") from None


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _event_type(*, header: str, in_body: Any) -> str:
    header = (header or "").strip()
    if in_body is not None and not isinstance(in_body, str):
        raise PayloadError("batch type is not a string")
    if header and in_body and header != in_body:
        raise PayloadError("X-Webhook-Event and the batch type disagree")
    event_type = header or in_body or ""
    if not event_type:
        raise PayloadError("missing X-Webhook-Event header")
    if not _EVENT_TYPE.fullmatch(event_type):
        raise PayloadError("X-Webhook-Event is not an event type")
    return event_type


def _object(parent: dict, key: str) -> dict:
    value = parent.get(key)
    if not isinstance(value, dict):
        raise PayloadError(f"{key} is missing or not an object")
    return value


def _optional_object(parent: dict, key: str) -> dict:
    value = parent.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PayloadError(f"{key} is not an object")
    return value


def _type_object(content: Any, message: dict) -> dict:
    if not isinstance(content, dict):
        raise PayloadError(f"message.{message.get('type')} is missing or not an object")
    return content


def _identifier(value: Any, name: str) -> str:
    if not isinstance(value, str) or not _IDENTIFIER.fullmatch(value):
        raise PayloadError(f"{name} is missing or invalid")
    return value


def _optional_identifier(value: Any) -> str:
    return value if isinstance(value, str) and _IDENTIFIER.fullmatch(value) else ""


def _phone_number_id(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and _PHONE_NUMBER_ID.fullmatch(value):
        return value
    return ""


def _phone_number_ids(item: dict) -> set[str]:
    """Every number the event names: top level, conversation and (in batches) message.kapso."""
    places = [item.get("phone_number_id")]
    for outer, inner in (("conversation", None), ("message", "kapso")):
        node = item.get(outer)
        if inner and isinstance(node, dict):
            node = node.get(inner)
        if isinstance(node, dict):
            places.append(node.get("phone_number_id"))
    found = set()
    for value in places:
        if value is None:
            continue
        number = _phone_number_id(value)
        if not number:
            raise PayloadError("phone_number_id is invalid")
        found.add(number)
    return found


def _require_phone_number_id(item: dict) -> None:
    # The channel check in handle_webhook relies on it: an event that names no number could be
    # any number's. Kapso's v2 payloads always carry it at the top level.
    if not _phone_number_id(item.get("phone_number_id")):
        raise PayloadError("phone_number_id is missing or invalid")


def _wa_id(value: Any) -> str:
    if not isinstance(value, str):
        return ""
    digits = _PHONE_PUNCTUATION.sub("", value)
    return digits if _WA_ID.fullmatch(digits) else ""


def _customer_wa_id(message: dict, conversation: dict, kapso: dict) -> str:
    wa_id = (
        _wa_id(message.get("from"))
        or _wa_id(conversation.get("phone_number"))
        or _wa_id(kapso.get("phone_number"))
    )
    if not wa_id:
        # A customer known only by a business-scoped user id cannot be stored as a contact yet.
        raise PayloadError("message has no sender phone number")
    return wa_id


def _unix_time(value: Any) -> datetime | None:
    """Unix seconds (WhatsApp sends a string) as an aware UTC datetime, or None when absent or
    not plausible (before WhatsApp existed, or more than a day ahead of our clock)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip()) if len(value) <= 32 else None
        except ValueError:
            return None
    if not isinstance(value, int | float) or not math.isfinite(value):
        return None
    try:
        moment = datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    if not _EARLIEST <= moment <= timezone.now() + _FUTURE_TOLERANCE:
        return None
    return moment


def _received_now(provider_message_id: str) -> datetime:
    # The thread is ordered by the provider's time; without one, our receipt time is the best
    # approximation (Kapso delivers within seconds, retries within two minutes).
    logger.warning(
        "kapso message without a usable timestamp; using receipt time",
        extra={"provider_message_id": provider_message_id},
    )
    return timezone.now()


def _first_error(errors: Any) -> tuple[str, str]:
    if not isinstance(errors, list) or not errors or not isinstance(errors[0], dict):
        return "", ""
    error = errors[0]
    code = error.get("code")
    code_text = str(code) if isinstance(code, int | str) and not isinstance(code, bool) else ""
    details = error.get("error_data")
    parts = [
        _text_of(error.get("title")),
        _text_of(error.get("message")),
        _text_of(details.get("details")) if isinstance(details, dict) else "",
    ]
    reason = ": ".join(dict.fromkeys(part for part in parts if part))  # drop repeats, keep order
    return _short_text(code_text, 32), _clean(reason)[:1000]


def _media_url(value: Any) -> str:
    # Only web URLs reach the fetch job; anything else (file:, javascript:, ...) is dropped.
    if isinstance(value, str) and len(value) <= 2048 and value.startswith(("https://", "http://")):
        return _clean(value)
    return ""


def _text_of(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _short_text(value: Any, limit: int = 128) -> str:
    return _clean(_text_of(value)).strip()[:limit]


def _clean(text: str) -> str:
    return _UNSTORABLE.sub("\ufffd", text)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _storable(value: Any, depth: int = 0) -> Any:
    """A copy of a JSON value that both databases accept: strings cleaned, no NaN/Infinity
    (a huge exponent parses as infinity), bounded depth."""
    if depth > MAX_PAYLOAD_DEPTH:
        raise PayloadError("message content is nested too deeply")
    if isinstance(value, str):
        return _clean(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise PayloadError("message content has a number out of range")
    if isinstance(value, dict):
        return {_clean(key): _storable(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [_storable(item, depth + 1) for item in value]
    return value
