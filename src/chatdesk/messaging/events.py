"""Provider-neutral events. Each provider's parser turns a webhook body into these; the ingest
service (`messaging.services.webhook_delivery_store`) stores them without knowing the provider."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class InboundMessage:
    provider_message_id: str  # wamid: the deduplication key
    wa_id: str  # customer's WhatsApp id (digits)
    contact_name: str
    type: str  # text, image, audio, video, document, sticker, interactive, button, reaction,
    # location, contacts, order, system, unsupported, ...
    text: str  # body / caption / title shown in the inbox and searched
    payload: dict[str, Any]  # the type's own sub-object as received
    timestamp: datetime  # provider's time (UTC, aware)
    reply_to_provider_id: str = ""
    media_id: str = ""
    media_mime_type: str = ""
    media_url: str = ""  # Kapso gives a URL directly
    unsupported: bool = False  # stored and flagged for a human, never dropped


@dataclass(frozen=True)
class StatusUpdate:
    provider_message_id: str  # wamid of OUR outbound message
    status: str  # sent | delivered | read | failed | played
    timestamp: datetime
    recipient_wa_id: str = ""
    error_code: str = ""
    error_reason: str = ""


@dataclass(frozen=True)
class IgnoredEvent:
    """Something we receive on purpose and do not act on (declared, tested, logged at debug)."""

    reason: str


@dataclass
class ParsedDelivery:
    """Everything one webhook request carried."""

    messages: list[InboundMessage] = field(default_factory=list)
    statuses: list[StatusUpdate] = field(default_factory=list)
    ignored: list[IgnoredEvent] = field(default_factory=list)
    event_type: str = ""
    # Every provider phone number id the payload names. `handle_webhook` rejects (400) a delivery
    # naming any other number than its channel's; a parser that cannot tell leaves it empty.
    phone_number_ids: set[str] = field(default_factory=set)


class PayloadError(ValueError):
    """The body is not a payload we can read (-> 400). The message is safe to log."""
