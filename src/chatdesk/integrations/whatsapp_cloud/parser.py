"""Meta WhatsApp Cloud API webhook bodies -> provider-neutral events.

Reference: developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/
messages (one page per message type, plus "status" and "errors").

Every event type this parser recognises, including the ones dropped on purpose, is declared in
`EVENT_TYPES`; `tests/integrations/whatsapp_cloud/test_event_types.py` fails when a declared type
has no fixture in `./fixtures` or a fixture produces an undeclared one (Zulip's ALL_EVENT_TYPES).

The body is untrusted even after its signature verified (a leaked app secret, a buggy
simulator): any shape we cannot read raises `PayloadError` with a short message that never
quotes the body, and whatever is stored fits the columns it goes to.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chatdesk.messaging.events import (
    IgnoredEvent,
    InboundMessage,
    ParsedDelivery,
    PayloadError,
    StatusUpdate,
)

MESSAGE = "message"  # stored as an inbound message
UNSUPPORTED = "unsupported"  # stored as an inbound message flagged for a human
STATUS = "status"  # applied to one of our outbound messages
IGNORED = "ignored"  # received on purpose, not acted on (the raw event is still kept)

EVENT_TYPES: dict[str, str] = {
    "messages.text": MESSAGE,
    "messages.image": MESSAGE,
    "messages.audio": MESSAGE,
    "messages.video": MESSAGE,
    "messages.document": MESSAGE,
    "messages.sticker": MESSAGE,
    "messages.interactive.button_reply": MESSAGE,
    "messages.interactive.list_reply": MESSAGE,
    "messages.interactive.nfm_reply": MESSAGE,  # a WhatsApp Flow's answers
    "messages.button": MESSAGE,  # quick-reply button of a template
    "messages.reaction": MESSAGE,
    "messages.location": MESSAGE,
    "messages.contacts": MESSAGE,
    "messages.order": MESSAGE,
    "messages.system": MESSAGE,
    # Any type sent from a click-to-WhatsApp ad; the ad context is kept in payload["referral"].
    "messages.referral": MESSAGE,
    "messages.unsupported": UNSUPPORTED,  # Meta's own "unsupported" (polls, edits, ...)
    "messages.unknown": UNSUPPORTED,  # a type (or interactive kind) this parser does not know
    "messages.incomplete": UNSUPPORTED,  # a known type without its content (Meta sends errors)
    "messages.no_sender": IGNORED,  # no phone number (username-only user, user id changes)
    "messages.errors": IGNORED,  # system/app/account-level errors (logged as a warning)
    "statuses.sent": STATUS,
    "statuses.delivered": STATUS,
    "statuses.read": STATUS,
    "statuses.failed": STATUS,
    "statuses.played": STATUS,
    "statuses.unknown": IGNORED,  # a status name we do not track
    "field.account_update": IGNORED,
    "field.message_template_status_update": IGNORED,
    "field.other": IGNORED,  # any other subscribed webhook field
}

IGNORED_FIELDS = frozenset(
    name.removeprefix("field.") for name in EVENT_TYPES if name.startswith("field.")
) - {"other"}
MEDIA_TYPES = frozenset({"image", "audio", "video", "document", "sticker"})
STATUSES = frozenset({"sent", "delivered", "read", "failed", "played"})
INTERACTIVE_REPLIES = frozenset({"button_reply", "list_reply", "nfm_reply"})

MAX_DEPTH = 32  # Meta's deepest payloads (interactive replies, orders) are about 10 levels
MAX_ID_LENGTH = 128  # Message.provider_message_id, StatusReport.provider_message_id
MAX_INT = 2**63 - 1  # what every database backend stores in a JSON number without loss
# Year 3000: far beyond any real clock, yet leaves room for date arithmetic (windows, retention).
MAX_TIMESTAMP = 32503680000
_WA_ID = re.compile(r"\+?([0-9]{1,20})")  # Contact.wa_id: digits of the number (E.164 <= 15)
_TIMESTAMP = re.compile(r"[0-9]{1,11}")


@dataclass
class MetaDelivery(ParsedDelivery):
    """A parsed delivery that also lists the declared event types it contained, in order."""

    event_types: list[str] = field(default_factory=list)


def parse_body(body: bytes) -> MetaDelivery:
    """Read one webhook body. Every `metadata.phone_number_id` it names is reported in
    `phone_number_ids`; `handle_webhook` refuses a body naming another number than the
    channel's (one Meta app can serve several numbers through one callback URL)."""
    root = _load(body)
    if not isinstance(root, dict):
        raise PayloadError("body is not a JSON object")
    if root.get("object") != "whatsapp_business_account":
        raise PayloadError("object is not whatsapp_business_account")
    delivery = MetaDelivery()
    for entry in _list(root.get("entry"), "entry"):
        for change in _list(_object(entry, "entry item").get("changes"), "entry.changes"):
            change = _object(change, "change")
            name = _string(change.get("field"), "change.field")
            value = _object(change.get("value"), "change.value")
            if name == "messages":
                _read_messages_change(value, delivery)
            else:
                kind = f"field.{name}" if name in IGNORED_FIELDS else "field.other"
                _ignore(delivery, kind, f"webhook field {name[:64]!r} is not handled")
    kinds = set(delivery.event_types)
    delivery.event_type = kinds.pop() if len(kinds) == 1 else ("batch" if kinds else "")
    return delivery


# --- decoding -------------------------------------------------------------------------------


def _load(body: bytes) -> Any:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError("body is not UTF-8") from None
    try:
        document = json.loads(text, parse_float=_finite_float, parse_constant=_no_constant)
    except RecursionError:
        raise PayloadError("body is nested too deeply") from None
    except ValueError:  # JSONDecodeError, NaN/Infinity, integers over Python's digit limit
        raise PayloadError("body is not valid JSON") from None
    return _clean(document, depth=0)


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError("number out of range")
    return number


def _no_constant(name: str) -> float:
    raise ValueError("NaN and Infinity are not JSON")


def _clean(value: Any, *, depth: int) -> Any:
    """Bound the nesting and the numbers, and make every string storable: PostgreSQL refuses
    NUL characters and lone surrogates (JSON allows "\\u0000" and "\\ud800")."""
    if depth > MAX_DEPTH:
        raise PayloadError("body is nested too deeply")
    if isinstance(value, str):
        return _clean_string(value)
    if isinstance(value, dict):
        return {_clean_string(key): _clean(item, depth=depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [_clean(item, depth=depth + 1) for item in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
        raise PayloadError("number out of range")
    return value


def _clean_string(text: str) -> str:
    if "\x00" in text:
        text = text.replace("\x00", "")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)
    return text


# --- typed access (messages name the field, never its value) --------------------------------


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PayloadError(f"{what} is not an object")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise PayloadError(f"{what} is not a list")
    return value


def _string(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise PayloadError(f"{what} is not a string")
    return value


def _optional_string(mapping: dict[str, Any], key: str, what: str) -> str:
    value = mapping.get(key)
    if value is None:
        return ""
    return _string(value, f"{what}.{key}")


def _optional_object(mapping: dict[str, Any], key: str, what: str) -> dict[str, Any] | None:
    value = mapping.get(key)
    if value is None:
        return None
    return _object(value, f"{what}.{key}")


def _optional_list(mapping: dict[str, Any], key: str, what: str) -> list[Any]:
    value = mapping.get(key)
    if value is None:
        return []
    return _list(value, f"{what}.{key}")


def _provider_id(value: Any, what: str) -> str:
    text = _string(value, what)
    if not text or len(text) > MAX_ID_LENGTH:
        raise PayloadError(f"{what} is empty or too long")
    return text


def _timestamp(value: Any, what: str) -> datetime:
    """Meta sends unix seconds as a string; a plain integer is accepted too."""
    if isinstance(value, str) and _TIMESTAMP.fullmatch(value):
        seconds = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    else:
        raise PayloadError(f"{what} is not unix seconds")
    if not 0 < seconds <= MAX_TIMESTAMP:
        raise PayloadError(f"{what} is out of range")
    return datetime.fromtimestamp(seconds, tz=UTC)


def _number(mapping: dict[str, Any], key: str, what: str) -> float | int | None:
    value = mapping.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PayloadError(f"{what}.{key} is not a number")
    return value


def _ignore(delivery: MetaDelivery, kind: str, reason: str) -> None:
    delivery.ignored.append(IgnoredEvent(reason=f"{kind}: {reason}"))
    delivery.event_types.append(kind)


# --- the "messages" field: contacts, messages, statuses, errors -----------------------------


def _read_messages_change(value: dict[str, Any], delivery: MetaDelivery) -> None:
    metadata = _optional_object(value, "metadata", "value")
    addressed_to = _optional_string(metadata or {}, "phone_number_id", "value.metadata")
    if addressed_to:
        delivery.phone_number_ids.add(addressed_to)
    names = _contact_names(_optional_list(value, "contacts", "value"))
    messages = _optional_list(value, "messages", "value")
    statuses = _optional_list(value, "statuses", "value")
    for item in messages:
        _read_message(_object(item, "message"), names, delivery)
    for item in statuses:
        _read_status(_object(item, "status"), delivery)
    errors = _optional_list(value, "errors", "value")
    if errors and not messages and not statuses:
        code, reason = _first_error(errors, "value.errors")
        _ignore(delivery, "messages.errors", f"provider error {code}: {reason}"[:500])


def _contact_names(contacts: list[Any]) -> dict[str, str]:
    names: dict[str, str] = {}
    for item in contacts:
        contact = _object(item, "contact")
        wa_id = _optional_string(contact, "wa_id", "contact")
        profile = _optional_object(contact, "profile", "contact") or {}
        name = _optional_string(profile, "name", "contact.profile")
        if wa_id:
            names[wa_id] = name
    return names


def _read_message(message: dict[str, Any], names: dict[str, str], delivery: MetaDelivery) -> None:
    wamid = _provider_id(message.get("id"), "message.id")
    timestamp = _timestamp(message.get("timestamp"), "message.timestamp")
    kind = _string(message.get("type"), "message.type")
    sender = message.get("from")
    if sender is None:
        # Username-only users (business-scoped user ids) and user-id change notices carry no
        # phone number; contacts are keyed by wa_id, so these wait in the raw event log.
        _ignore(delivery, "messages.no_sender", "message without a phone number")
        return
    match = _WA_ID.fullmatch(_string(sender, "message.from"))
    if match is None:
        raise PayloadError("message.from is not a phone number")
    wa_id = match.group(1)
    context = _optional_object(message, "context", "message") or {}
    reply_to = _optional_string(context, "id", "message.context")
    referral = _optional_object(message, "referral", "message")
    content = _render(kind, message)
    event_type = content.event_type
    payload = dict(content.payload)
    if context:
        payload["context"] = context
    if referral is not None:
        payload["referral"] = referral
        if EVENT_TYPES[event_type] == MESSAGE:
            event_type = "messages.referral"
    errors = message.get("errors")
    if errors is not None:
        payload["errors"] = _list(errors, "message.errors")
    delivery.messages.append(
        InboundMessage(
            provider_message_id=wamid,
            wa_id=wa_id,
            contact_name=names.get(wa_id, "") or names.get(sender, ""),
            type=kind[:32],
            text=content.text,
            payload=payload,
            timestamp=timestamp,
            reply_to_provider_id=(reply_to or content.reply_to)[:MAX_ID_LENGTH],
            media_id=content.media_id,
            media_mime_type=content.media_mime_type,
            unsupported=EVENT_TYPES[event_type] == UNSUPPORTED,
        )
    )
    delivery.event_types.append(event_type)


@dataclass
class _Content:
    event_type: str
    text: str
    payload: dict[str, Any]
    media_id: str = ""
    media_mime_type: str = ""
    reply_to: str = ""


def _render(kind: str, message: dict[str, Any]) -> _Content:
    """The text an agent sees (and search finds) for each message type."""
    if kind == "unsupported":
        detail = _optional_object(message, "unsupported", "message") or {}
        what = _optional_string(detail, "type", "message.unsupported")
        label = f"[unsupported message: {what}]" if what else "[unsupported message]"
        return _Content("messages.unsupported", label, {"unsupported": detail})
    renderer = _RENDERERS.get(kind)
    if renderer is None:
        raw = message.get(kind)
        payload = {kind: raw} if isinstance(raw, dict | list) else {}
        return _Content("messages.unknown", f"[unsupported message type: {kind[:32]}]", payload)
    sub = message.get(kind)
    if sub is None:
        return _Content("messages.incomplete", f"[{kind} message without content]", {})
    return renderer(kind, sub)


def _render_text(kind: str, sub: Any) -> _Content:
    text = _object(sub, "text")
    return _Content("messages.text", _optional_string(text, "body", "text"), text)


def _render_media(kind: str, sub: Any) -> _Content:
    media = _object(sub, kind)
    media_id = _optional_string(media, "id", kind)
    mime = _optional_string(media, "mime_type", kind)
    caption = _optional_string(media, "caption", kind)
    if kind == "document":
        filename = _optional_string(media, "filename", kind)
        label = f"[document: {filename}]" if filename else "[document]"
    elif kind == "audio" and media.get("voice") is True:
        label = "[voice message]"
    else:
        label = f"[{kind}]"
    if not media_id:
        return _Content("messages.incomplete", caption or label, media)
    return _Content(f"messages.{kind}", caption or label, media, media_id, mime)


def _render_interactive(kind: str, sub: Any) -> _Content:
    interactive = _object(sub, "interactive")
    reply_kind = _optional_string(interactive, "type", "interactive")
    if reply_kind not in INTERACTIVE_REPLIES:
        label = f"[interactive: {reply_kind[:32]}]" if reply_kind else "[interactive]"
        return _Content("messages.unknown", label, interactive)
    reply = _optional_object(interactive, reply_kind, "interactive")
    if reply is None:
        return _Content("messages.incomplete", "[interactive reply without content]", interactive)
    what = f"interactive.{reply_kind}"
    if reply_kind == "nfm_reply":
        # A Flow's answers arrive as a JSON string in response_json; kept as received.
        text = _optional_string(reply, "body", what) or _optional_string(reply, "name", what)
        return _Content("messages.interactive.nfm_reply", text or "[form response]", interactive)
    title = _optional_string(reply, "title", what)
    return _Content(f"messages.interactive.{reply_kind}", title, interactive)


def _render_button(kind: str, sub: Any) -> _Content:
    button = _object(sub, "button")
    text = _optional_string(button, "text", "button") or _optional_string(
        button, "payload", "button"
    )
    return _Content("messages.button", text, button)


def _render_reaction(kind: str, sub: Any) -> _Content:
    reaction = _object(sub, "reaction")
    emoji = _optional_string(reaction, "emoji", "reaction")
    reacted_to = _optional_string(reaction, "message_id", "reaction")
    # An empty emoji means the customer removed their reaction.
    text = emoji or "[reaction removed]"
    return _Content("messages.reaction", text, reaction, reply_to=reacted_to)


def _render_location(kind: str, sub: Any) -> _Content:
    location = _object(sub, "location")
    latitude = _number(location, "latitude", "location")
    longitude = _number(location, "longitude", "location")
    parts = [
        part
        for part in (
            _optional_string(location, "name", "location"),
            _optional_string(location, "address", "location"),
        )
        if part
    ]
    shown = ", ".join(parts)
    if latitude is not None and longitude is not None:
        shown = f"{shown} ({latitude}, {longitude})".strip()
    return _Content("messages.location", f"[location] {shown}".strip(), location)


def _render_contacts(kind: str, sub: Any) -> _Content:
    cards = _list(sub, "contacts")
    names = []
    for card in cards:
        name = _optional_object(_object(card, "contacts item"), "name", "contacts item") or {}
        names.append(
            _optional_string(name, "formatted_name", "contacts item.name")
            or _optional_string(name, "first_name", "contacts item.name")
        )
    shown = ", ".join(name for name in names if name) or f"{len(cards)} contact(s)"
    return _Content("messages.contacts", f"[contacts] {shown}", {"contacts": cards})


def _render_order(kind: str, sub: Any) -> _Content:
    order = _object(sub, "order")
    items = _optional_list(order, "product_items", "order")
    for item in items:
        _object(item, "order.product_items item")
    note = _optional_string(order, "text", "order")
    text = f"[order: {len(items)} item(s)]" + (f" {note}" if note else "")
    return _Content("messages.order", text, order)


def _render_system(kind: str, sub: Any) -> _Content:
    system = _object(sub, "system")
    body = _optional_string(system, "body", "system")
    what = _optional_string(system, "type", "system")
    return _Content("messages.system", body or f"[system: {what[:64]}]", system)


_RENDERERS = {
    "text": _render_text,
    **dict.fromkeys(MEDIA_TYPES, _render_media),
    "interactive": _render_interactive,
    "button": _render_button,
    "reaction": _render_reaction,
    "location": _render_location,
    "contacts": _render_contacts,
    "order": _render_order,
    "system": _render_system,
}


# --- statuses of our outbound messages ------------------------------------------------------


def _read_status(status: dict[str, Any], delivery: MetaDelivery) -> None:
    wamid = _provider_id(status.get("id"), "status.id")
    name = _string(status.get("status"), "status.status")
    timestamp = _timestamp(status.get("timestamp"), "status.timestamp")
    recipient = _optional_string(status, "recipient_id", "status")
    errors = _optional_list(status, "errors", "status")
    code, reason = _first_error(errors, "status.errors") if errors else ("", "")
    if name not in STATUSES:
        _ignore(delivery, "statuses.unknown", f"status {name[:16]!r} is not tracked")
        return
    delivery.statuses.append(
        StatusUpdate(
            provider_message_id=wamid,
            status=name,
            timestamp=timestamp,
            recipient_wa_id=recipient[:32],
            error_code=code,
            error_reason=reason,
        )
    )
    delivery.event_types.append(f"statuses.{name}")


def _first_error(errors: list[Any], what: str) -> tuple[str, str]:
    """(code as a string, a readable reason) of the first error; Meta sends one in practice."""
    error = _object(errors[0], f"{what} item")
    code = error.get("code")
    if isinstance(code, bool) or not isinstance(code, int | str | None):
        raise PayloadError(f"{what} item.code is not a number")
    details = _optional_object(error, "error_data", f"{what} item") or {}
    parts: list[str] = []
    for part in (
        _optional_string(error, "title", f"{what} item"),
        _optional_string(error, "message", f"{what} item"),
        _optional_string(details, "details", f"{what} item.error_data"),
    ):
        if part and part not in parts:
            parts.append(part)
    return ("" if code is None else str(code))[:32], ": ".join(parts)
