"""The one interface every WhatsApp provider implements (Chatwoot's providers/base_service.rb).

Meta's Cloud API and Kapso share the Graph message format; they differ in URL and auth header.
Errors are classified by the provider's `error.code`, not the HTTP status (Meta's advice).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings

from chatdesk.ops.redaction import register_secret

logger = logging.getLogger(__name__)

# Throughput, pair-rate and app/account call limits: back off and retry.
RETRYABLE_CODES = frozenset({"4", "80007", "130429", "131056", "131057"})
OUTSIDE_WINDOW_CODE = "131047"
TIMEOUT = httpx.Timeout(connect=3.0, read=10.0, write=10.0, pool=3.0)
REASON_MAX_LENGTH = 500

# Raised before any byte of the request reached the provider: retrying cannot send twice.
NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Our own request or configuration is wrong: retrying cannot help.
REQUEST_ERRORS = (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.InvalidURL)
USER_AGENT = "chatdesk/1.0"


def http_client(*, timeout: httpx.Timeout = TIMEOUT) -> httpx.Client:
    """Every provider HTTP call goes through a client made here (tests replace this function)."""
    # Meta's media links have been seen to refuse clients without a User-Agent.
    return httpx.Client(timeout=timeout, headers={"User-Agent": USER_AGENT})


class ProviderError(Exception):
    """A send the provider refused or that could not reach it.

    `retryable`: back off and try again. `outcome_unknown`: the request may have been accepted
    (a timeout after sending), so re-sending risks a duplicate.
    """

    def __init__(
        self,
        reason: str,
        *,
        code: str = "",
        retryable: bool = False,
        outcome_unknown: bool = False,
        retry_after: float | None = None,
    ):
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.retryable = retryable
        self.outcome_unknown = outcome_unknown
        self.retry_after = retry_after


class OutsideWindowError(ProviderError):
    """Free text outside the 24-hour customer service window (131047): send a template."""


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str


class MessagingProvider(ABC):
    """What a provider must implement. `to` is the customer's wa_id (digits)."""

    def __init__(self, channel, *, client: httpx.Client | None = None):
        self.channel = channel
        self._owns_client = client is None
        self.client = client or http_client()
        register_secret(channel.api_token)  # never let the token reach a log line

    def close(self) -> None:
        """Release the connections of a client this adapter created (not an injected one)."""
        if self._owns_client:
            self.client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @abstractmethod
    def messages_url(self) -> str: ...

    @abstractmethod
    def auth_headers(self) -> dict[str, str]: ...

    def send_text(self, *, to: str, body: str, reply_to: str = "") -> SendResult:
        payload: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": "text",
            "text": {"preview_url": False, "body": body},
        }
        if reply_to:
            payload["context"] = {"message_id": reply_to}
        return self._send(payload)

    def send_template(
        self, *, to: str, name: str, language: str, components: list | None = None
    ) -> SendResult:
        template: dict[str, Any] = {"name": name, "language": {"code": language}}
        if components:
            template["components"] = components
        return self._send(
            {
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": to,
                "type": "template",
                "template": template,
            }
        )

    def mark_read(self, *, message_id: str, typing: bool = False) -> None:
        payload: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "status": "read",
            "message_id": message_id,
        }
        if typing:
            payload["typing_indicator"] = {"type": "text"}
        self._post(payload)

    def typing_indicator(self, *, message_id: str) -> None:
        self.mark_read(message_id=message_id, typing=True)

    def _send(self, payload: dict) -> SendResult:
        data = self._post(payload)
        try:
            return SendResult(provider_message_id=str(data["messages"][0]["id"]))
        except (KeyError, IndexError, TypeError):
            raise ProviderError(
                "provider answered without a message id", outcome_unknown=True
            ) from None

    def _post(self, payload: dict) -> dict:
        try:
            response = self.client.post(
                self.messages_url(), json=payload, headers=self.auth_headers()
            )
        except NOT_SENT_ERRORS as exc:
            raise ProviderError(
                f"cannot reach provider ({type(exc).__name__})", retryable=True
            ) from None
        except REQUEST_ERRORS as exc:
            raise ProviderError(f"invalid provider request ({type(exc).__name__})") from None
        except httpx.HTTPError as exc:
            # ReadTimeout, WriteTimeout, ReadError, RemoteProtocolError, ...: the request may have
            # been accepted, and Meta's API takes no idempotency key, so a retry could send the
            # message twice.
            raise ProviderError(
                f"no answer from provider after sending ({type(exc).__name__})",
                outcome_unknown=True,
            ) from None
        return classify_response(response)


def classify_response(response: httpx.Response) -> dict:
    """The answer's JSON on success; else a ProviderError classified by `error.code`."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if response.is_success and not (isinstance(data, dict) and "error" in data):
        # A 2xx without a JSON object (a proxy's page, say) is still not a refusal: `_send`
        # reports the missing message id as an unknown outcome instead of a failure.
        return data if isinstance(data, dict) else {}
    error = data.get("error") if isinstance(data, dict) else None
    error = error if isinstance(error, dict) else {}
    code = str(error.get("code", ""))[:32]
    details = (
        (error.get("error_data") or {}).get("details")
        if isinstance(error.get("error_data"), dict)
        else None
    )
    reason = str(details or error.get("message") or error.get("title") or response.reason_phrase)
    reason = f"{code}: {reason}" if code else f"HTTP {response.status_code}: {reason}"
    reason = reason[:REASON_MAX_LENGTH]
    retry_after = _retry_after(response)
    if code == OUTSIDE_WINDOW_CODE:
        raise OutsideWindowError(reason, code=code)
    if code in RETRYABLE_CODES or response.status_code == 429 or response.status_code >= 500:
        raise ProviderError(reason, code=code, retryable=True, retry_after=retry_after)
    raise ProviderError(reason, code=code)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    return float(value) if value.isdigit() else None


def provider_for(channel, *, client: httpx.Client | None = None) -> MessagingProvider:
    from chatdesk.messaging.providers.kapso import KapsoProvider
    from chatdesk.messaging.providers.meta import MetaProvider

    adapters = {"meta": MetaProvider, "kapso": KapsoProvider}
    return adapters[channel.kind](channel, client=client)


def graph_base_url() -> str:
    if settings.SIMULATOR_ENABLED:
        return f"{settings.ENV.SIMULATOR_URL}/graph"
    return settings.ENV.WHATSAPP_GRAPH_BASE_URL


def kapso_base_url() -> str:
    if settings.SIMULATOR_ENABLED:
        return f"{settings.ENV.SIMULATOR_URL}/kapso"
    return settings.ENV.KAPSO_API_BASE_URL
