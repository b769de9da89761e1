""" "Send test event": a signed provider event posted to the channel's real webhook URL (a live
server here), the round trip reported, and nothing left in the inbox afterwards."""

import pytest

from chatdesk.audit.models import AuditAction
from chatdesk.crm.models import Contact, Conversation, Message
from chatdesk.messaging.models import ChannelKind, WebhookEvent
from chatdesk.messaging.services import contact_upsert, conversation_for_contact
from chatdesk.workspace_settings import webhook_probe
from chatdesk.workspace_settings.webhook_probe import TEST_WA_ID
from tests.factories import make_channel
from tests.workspace_settings.helpers import audit_events, url


def inbox_rows(world) -> tuple[int, int, int, int]:
    workspace = world.workspace
    return (
        Contact.objects.for_workspace(workspace).count(),
        Conversation.objects.for_workspace(workspace).count(),
        Message.objects.for_workspace(workspace).count(),
        WebhookEvent.objects.for_workspace(workspace).count(),
    )


@pytest.fixture
def live_base_url(live_server, settings):
    settings.APP_BASE_URL = live_server.url
    return live_server.url


@pytest.mark.parametrize("kind", [ChannelKind.META, ChannelKind.KAPSO])
def test_test_event_round_trips_through_the_real_endpoint_and_leaves_the_inbox_clean(
    client, world_a, live_base_url, kind
):
    channel = make_channel(world_a.workspace, kind=kind)
    # A real customer's thread exists and must survive the clean-up untouched.
    customer = contact_upsert(channel=channel, wa_id="6281299990000", name="Real customer")
    conversation_for_contact(channel=channel, contact=customer)
    before = inbox_rows(world_a)

    client.force_login(world_a.admin)
    response = client.post(url("channel-test-event", world_a, channel_id=channel.pk))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Test event received and stored." in html
    assert "HTTP status: 200" in html
    assert "Stored: yes" in html
    assert f"{live_base_url}/webhooks/" in html
    assert inbox_rows(world_a) == before
    assert not Contact.objects.for_workspace(world_a.workspace).filter(wa_id=TEST_WA_ID)
    channel.refresh_from_db()
    assert channel.last_webhook_outcome == "ok"  # it went through the real path
    [event] = audit_events(world_a)
    assert event.action == AuditAction.CHANNEL_TEST_EVENT_SENT
    assert event.actor == world_a.admin
    assert event.details["status_code"] == 200 and event.details["stored"] is True
    assert isinstance(event.details["latency_ms"], int)


def test_test_event_with_htmx_returns_the_card_with_the_result(client, world_a, live_base_url):
    channel = make_channel(world_a.workspace)
    client.force_login(world_a.admin)
    response = client.post(
        url("channel-test-event", world_a, channel_id=channel.pk), HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert html.lstrip().startswith(f'<section class="channel-card" id="channel-{channel.pk}"')
    assert "HTTP status: 200" in html and "<html" not in html


def test_a_refused_test_event_reports_the_status_and_the_reason(
    client, world_a, live_base_url, monkeypatch
):
    channel = make_channel(world_a.workspace)
    # As if the endpoint held another secret than the one we sign with.
    monkeypatch.setattr(webhook_probe, "hmac_sha256_hex", lambda secret, body: "0" * 64)
    before = inbox_rows(world_a)
    client.force_login(world_a.admin)
    html = client.post(url("channel-test-event", world_a, channel_id=channel.pk)).content.decode()
    assert "Test event failed." in html
    assert "HTTP status: 401" in html
    assert "The signature did not verify with the stored signing secret." in html
    assert inbox_rows(world_a) == before
    [event] = audit_events(world_a)
    assert event.details["status_code"] == 401 and event.details["stored"] is False


@pytest.mark.django_db
def test_an_unreachable_webhook_url_is_reported_without_a_status(client, world_a, settings):
    settings.APP_BASE_URL = "http://127.0.0.1:9"  # discard port: nothing listens
    channel = make_channel(world_a.workspace)
    client.force_login(world_a.admin)
    html = client.post(url("channel-test-event", world_a, channel_id=channel.pk)).content.decode()
    assert "Test event failed." in html
    assert "HTTP status: no answer" in html
    assert "Could not reach the webhook URL" in html
    [event] = audit_events(world_a)
    assert event.details["status_code"] is None and event.details["stored"] is False


@pytest.mark.django_db
def test_an_inactive_channel_is_not_tested_and_says_why(client, world_a, settings):
    settings.APP_BASE_URL = "http://127.0.0.1:9"
    channel = make_channel(world_a.workspace, is_active=False)
    client.force_login(world_a.admin)
    response = client.post(url("channel-test-event", world_a, channel_id=channel.pk))
    assert response.status_code == 409
    assert "This channel is inactive" in response.content.decode()
    assert audit_events(world_a) == []
