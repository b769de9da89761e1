"""The provider-side view of a channel: what the simulator must know to play Meta or Kapso."""

from __future__ import annotations

import re
from dataclasses import dataclass

KINDS = ("meta", "kapso")
_PHONE_NUMBER_ID = re.compile(r"[0-9]{1,64}")
_CHANNEL_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")


class SimulatorConfigError(ValueError):
    """A channel the simulator cannot play. The message names the field, never a secret."""


@dataclass(frozen=True)
class SimChannel:
    kind: str  # "meta" | "kapso"
    phone_number_id: str
    channel_key: str  # the last segment of the app's webhook URL for this channel
    signing_secret: str = ""  # Meta: app secret; Kapso: webhook secret (signs our webhooks)
    api_token: str = ""  # Meta: access token (Bearer); Kapso: API key (X-API-Key)
    display_number: str = "15550100001"
    waba_id: str = "100000000000001"

    def __post_init__(self):
        if self.kind not in KINDS:
            raise SimulatorConfigError(f"kind must be one of {', '.join(KINDS)}")
        if not _PHONE_NUMBER_ID.fullmatch(self.phone_number_id):
            raise SimulatorConfigError("phone_number_id must be the provider's numeric id")
        if not _CHANNEL_KEY.fullmatch(self.channel_key):
            raise SimulatorConfigError("channel_key must be the key from the channel's webhook URL")
        if not self.signing_secret:
            what = "app secret" if self.kind == "meta" else "webhook secret"
            raise SimulatorConfigError(f"the {what} is missing: webhooks could not be signed")
        if not self.api_token:
            what = "access token" if self.kind == "meta" else "API key"
            raise SimulatorConfigError(f"the {what} is missing: sends could not be checked")

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.phone_number_id)

    def webhook_url(self, app_url: str) -> str:
        path = "whatsapp" if self.kind == "meta" else "kapso"
        return f"{app_url.rstrip('/')}/webhooks/{path}/{self.channel_key}"

    def public(self, app_url: str) -> dict:
        """What the page and /control/state show: no secret, no token."""
        return {
            "kind": self.kind,
            "phone_number_id": self.phone_number_id,
            "display_number": self.display_number,
            "webhook_url": self.webhook_url(app_url),
        }
