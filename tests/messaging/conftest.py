"""Fixtures for the messaging pipeline: a scripted WhatsApp provider, clean send limits, media
storage in a temporary folder, deterministic retry jitter."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from chatdesk.jobs import retry
from chatdesk.messaging import ratelimits
from chatdesk.messaging.providers import base as providers
from chatdesk.messaging.services import contact_upsert, conversation_for_contact

_wamids = itertools.count(1)


@pytest.fixture(autouse=True)
def _empty_send_limits():
    # The limiter's storage outlives a test: process memory, or Redis on the PostgreSQL pass
    # (where phone number ids repeat from one run to the next).
    ratelimits.limiter().storage.reset()
    yield
    ratelimits.limiter().storage.reset()


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def no_jitter(monkeypatch):
    # rand() == 0.5 makes the jitter factor exactly 1.0.
    monkeypatch.setattr(retry, "jitter_source", lambda: 0.5)


def accepted(wamid: str | None = None) -> httpx.Response:
    return httpx.Response(
        200, json={"messaging_product": "whatsapp", "messages": [{"id": wamid or _new_wamid()}]}
    )


def refused(code: int, status: int = 400, message: str = "error") -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": message}})


def _new_wamid() -> str:
    return f"wamid.OUT{next(_wamids)}"


class AcceptedThenTimeout(Exception):
    """Script item: the provider takes the message, then the answer never comes back."""


@dataclass
class FakeProvider:
    """Meta's Graph API played by httpx.MockTransport.

    `script` answers the sends in order (a Response, an httpx exception class to raise before
    the provider sees anything, or AcceptedThenTimeout); once it is empty every send is accepted.
    `delivered` lists the texts the provider accepted, i.e. what customers received.
    """

    script: list = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)
    delivered: list[str] = field(default_factory=list)
    receipts: list[dict] = field(default_factory=list)
    media: Callable[[httpx.Request], httpx.Response] | None = None

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            assert self.media is not None, f"unexpected GET {request.url}"
            self.requests.append(request)
            return self.media(request)
        body = json.loads(request.content)
        if body.get("status") == "read":
            self.receipts.append(body)
            return httpx.Response(200, json={"success": True})
        self.requests.append(request)
        step = self.script.pop(0) if self.script else None
        if isinstance(step, type) and issubclass(step, httpx.HTTPError):
            raise step("scripted failure", request=request)
        if step is AcceptedThenTimeout:
            self.delivered.append(body["text"]["body"])
            raise httpx.ReadTimeout("scripted timeout after the send", request=request)
        response = step or accepted()
        if response.is_success:
            self.delivered.append(body["text"]["body"])
        return response

    def client(self, **_options) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handler))


@pytest.fixture
def fake_provider(monkeypatch) -> FakeProvider:
    """Every provider HTTP call in the code under test goes to this fake."""
    fake = FakeProvider()
    monkeypatch.setattr(providers, "http_client", fake.client)
    return fake


def open_conversation(channel, *, wa_id="6281234567890", last_inbound_minutes_ago=5):
    contact = contact_upsert(channel=channel, wa_id=wa_id, name="Siti")
    conversation = conversation_for_contact(channel=channel, contact=contact)
    conversation.last_inbound_at = timezone.now() - timedelta(minutes=last_inbound_minutes_ago)
    conversation.save()
    return conversation
