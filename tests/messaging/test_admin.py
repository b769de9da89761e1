"""The admin for channels, raw events and messages: secrets stay write-only."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from django.db import connection
from django.urls import reverse

from chatdesk.crm.models import MediaState, Message
from chatdesk.jobs.testing import drain
from chatdesk.messaging.events import InboundMessage, ParsedDelivery
from chatdesk.messaging.models import Channel, ChannelKind, WebhookEvent
from chatdesk.messaging.selectors import channel_webhook_url
from chatdesk.messaging.services import webhook_delivery_store
from tests.factories import APP_SECRET, VERIFY_TOKEN, make_channel, make_workspace

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client, django_user_model):
    user = django_user_model.objects.create_superuser(
        username="ops", email="ops@example.com", password="a-long-operator-password"
    )
    client.force_login(user)
    return client


def change_form(channel: Channel, **changes) -> dict:
    data = {
        "kind": channel.kind,
        "name": channel.name,
        "phone_number_id": channel.phone_number_id,
        "display_number": channel.display_number,
        "signing_secret": "",
        "api_token": "",
        "verify_token": "",
        "is_active": "on" if channel.is_active else "",
        "keep_previous_secret": "on",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def test_channel_page_shows_the_webhook_url_but_never_a_stored_secret(operator):
    channel = make_channel()
    channel.previous_signing_secret = "previous-app-secret-0042"
    channel.save()

    page = operator.get(reverse("admin:messaging_channel_change", args=[channel.pk]))

    html = page.content.decode()
    assert page.status_code == 200
    assert channel_webhook_url(channel=channel) in html
    for secret in (APP_SECRET, channel.api_token, VERIFY_TOKEN, "previous-app-secret-0042"):
        assert secret not in html
    assert "previous signing secret (rotation): set" in html


def test_saving_a_channel_with_empty_secret_fields_keeps_its_credentials(operator):
    channel = make_channel()
    token = channel.api_token

    response = operator.post(
        reverse("admin:messaging_channel_change", args=[channel.pk]),
        change_form(channel, name="Admissions", is_active=""),
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    channel.refresh_from_db()
    assert (channel.name, channel.is_active) == ("Admissions", False)
    assert (channel.signing_secret, channel.api_token) == (APP_SECRET, token)
    assert channel.verify_token == VERIFY_TOKEN


def test_a_new_signing_secret_keeps_the_old_one_valid_until_the_rotation_ends(operator):
    channel = make_channel()
    url = reverse("admin:messaging_channel_change", args=[channel.pk])

    operator.post(url, change_form(channel, signing_secret="rotated-app-secret-0002"))
    channel.refresh_from_db()
    assert channel.signing_secret == "rotated-app-secret-0002"
    assert channel.previous_signing_secret == APP_SECRET

    operator.post(url, change_form(channel, remove_previous_secret="on"))
    channel.refresh_from_db()
    assert channel.previous_signing_secret is None
    assert channel.signing_secret == "rotated-app-secret-0002"


def test_a_channel_created_in_the_admin_stores_its_credentials_encrypted(operator):
    workspace = make_workspace()

    response = operator.post(
        reverse("admin:messaging_channel_add"),
        {
            "workspace": workspace.pk,
            "kind": ChannelKind.KAPSO,
            "name": "",
            "phone_number_id": "647015955153740",
            "display_number": "+62 812 0000 1111",
            "signing_secret": "kapso-webhook-secret-new",
            "api_token": "kapso-api-key-new-0001",
            "verify_token": "",
            "is_active": "on",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    channel = Channel.objects.for_workspace(workspace).get()
    assert channel.api_token == "kapso-api-key-new-0001"
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_token FROM messaging_channel WHERE id = %s", [channel.pk])
        (stored,) = cursor.fetchone()
    assert stored and "kapso-api-key-new-0001" not in stored


def test_a_meta_channel_needs_a_verify_token(operator):
    response = operator.post(
        reverse("admin:messaging_channel_add"),
        {
            "workspace": make_workspace().pk,
            "kind": ChannelKind.META,
            "phone_number_id": "106540352242922",
            "display_number": "+1 555 0100",
            "signing_secret": "meta-app-secret-new-0001",
            "api_token": "EAAG-token-new-0001",
            "verify_token": "",
            "is_active": "on",
        },
    )

    assert response.status_code == 200
    assert "A Meta channel needs a verify token" in response.content.decode()
    assert not Channel.dangerously_unscoped_objects.exists()


def test_raw_webhook_events_are_listed_without_their_bodies_and_cannot_be_edited(operator):
    channel = make_channel()
    webhook_delivery_store(
        channel=channel,
        idempotency_key="sha256:abc",
        body=b'{"marker": "raw-body-marker-77"}',
        delivery=ParsedDelivery(event_type="messages"),
    )
    event = WebhookEvent.objects.for_workspace(channel.workspace).get()

    listing = operator.get(reverse("admin:messaging_webhookevent_changelist"))
    detail = operator.get(reverse("admin:messaging_webhookevent_change", args=[event.pk]))

    assert listing.status_code == 200 and "sha256:abc" in listing.content.decode()
    assert "raw-body-marker-77" not in listing.content.decode()
    assert "raw-body-marker-77" not in detail.content.decode()
    assert "32 bytes" in detail.content.decode()
    assert 'name="_save"' not in detail.content.decode()


def test_an_operator_can_retry_a_failed_attachment_download_from_the_message_list(
    operator, fake_provider
):
    channel = make_channel(kind=ChannelKind.KAPSO)
    url = "https://api.kapso.ai/media/whatsapp/1/abc/photo.jpg"
    event = InboundMessage(
        provider_message_id="wamid.IMG",
        wa_id="6281234567890",
        contact_name="Siti",
        type="image",
        text="",
        payload={"id": "1584"},
        timestamp=datetime(2026, 11, 2, tzinfo=UTC),
        media_id="1584",
        media_mime_type="image/jpeg",
        media_url=url,
    )
    webhook_delivery_store(
        channel=channel, idempotency_key="k", body=b"{}", delivery=ParsedDelivery([event])
    )
    answers = [httpx.Response(404), httpx.Response(200, content=b"\xff\xd8jpeg")]
    fake_provider.media = lambda request: answers.pop(0)
    drain(queues=["inbound"])
    message = Message.objects.for_workspace(channel.workspace).get()
    assert message.media_state == MediaState.FAILED

    response = operator.post(
        reverse("admin:crm_message_changelist"),
        {"action": "retry_media", "_selected_action": [message.pk]},
        follow=True,
    )

    assert "1 attachment download(s) queued again." in response.content.decode()
    drain(queues=["inbound"])
    message.refresh_from_db()
    assert message.media_state == MediaState.STORED


def test_messages_contacts_and_conversations_pages_open_for_an_operator(operator):
    channel = make_channel()
    webhook_delivery_store(
        channel=channel,
        idempotency_key="k",
        body=b"{}",
        delivery=ParsedDelivery(
            [
                InboundMessage(
                    provider_message_id="wamid.TXT",
                    wa_id="6281234567890",
                    contact_name="Siti",
                    type="text",
                    text="Halo",
                    payload={"body": "Halo"},
                    timestamp=datetime(2026, 11, 2, tzinfo=UTC),
                )
            ]
        ),
    )
    message = Message.objects.for_workspace(channel.workspace).get()

    for name, args in [
        ("admin:crm_message_changelist", []),
        ("admin:crm_message_change", [message.pk]),
        ("admin:crm_contact_changelist", []),
        ("admin:crm_conversation_changelist", []),
        ("admin:crm_conversation_change", [message.conversation_id]),
        ("admin:messaging_channel_changelist", []),
        ("admin:messaging_statusreport_changelist", []),
    ]:
        assert operator.get(reverse(name, args=args)).status_code == 200, name
