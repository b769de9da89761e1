"""Settings > Integrations: webhook URLs, the verify token reveal, the active switch, write-only
credentials with secret rotation. (Test events: test_test_event.py.)"""

import json

import pytest

from chatdesk.audit.models import AuditAction, AuditEvent
from chatdesk.messaging.models import Channel
from chatdesk.messaging.signatures import hmac_sha256_hex
from chatdesk.workspace_settings.webhook_probe import probe_event_build
from tests.factories import APP_SECRET, KAPSO_SECRET, VERIFY_TOKEN, make_channel
from tests.workspace_settings.helpers import CLIENT_IP, audit_events, url

pytestmark = pytest.mark.django_db

NEW_APP_SECRET = "new-meta-app-secret-0123456789abcdef"
NEW_ACCESS_TOKEN = "EAAG-new-access-token-0123456789"


def stored_secrets(channel: Channel) -> list[str]:
    channel.refresh_from_db()
    values = [
        channel.signing_secret,
        channel.previous_signing_secret,
        channel.api_token,
        channel.verify_token,
    ]
    return [v for v in values if v]


def post_credentials(client, world, channel, **values):
    data = {f"channel-{channel.pk}-{name}": value for name, value in values.items()}
    return client.post(
        url("channel-credentials", world, channel_id=channel.pk), data, REMOTE_ADDR=CLIENT_IP
    )


def deliver(client, channel: Channel, *, secret: str):
    """A Meta delivery for the channel signed with `secret`, posted to its webhook path."""
    event = probe_event_build(channel=channel)
    signature = "sha256=" + hmac_sha256_hex(secret, event.body)
    return client.post(
        f"/webhooks/whatsapp/{channel.channel_key}",
        data=event.body,
        content_type="application/json",
        headers={"X-Hub-Signature-256": signature},
    )


def test_page_shows_each_webhook_url_from_app_base_url_and_never_a_secret(
    client, world_a, meta_channel, kapso_channel, settings
):
    settings.APP_BASE_URL = "https://desk.example.org"
    client.force_login(world_a.admin)
    html = client.get(url("integrations", world_a)).content.decode()
    assert f"https://desk.example.org/webhooks/whatsapp/{meta_channel.channel_key}" in html
    assert f"https://desk.example.org/webhooks/kapso/{kapso_channel.channel_key}" in html
    for secret in [*stored_secrets(meta_channel), *stored_secrets(kapso_channel)]:
        assert secret not in html
    assert VERIFY_TOKEN not in html
    assert "Reveal verify token" in html


def test_an_http_base_url_is_flagged_because_providers_need_https(
    client, world_a, meta_channel, settings
):
    settings.APP_BASE_URL = "http://localhost:8000"
    client.force_login(world_a.admin)
    assert (
        "Providers only call https URLs"
        in client.get(url("integrations", world_a)).content.decode()
    )


def test_page_shows_last_webhook_outcome_and_recent_signature_failures(
    client, world_a, meta_channel
):
    client.force_login(world_a.admin)
    html = client.get(url("integrations", world_a)).content.decode()
    assert "None received yet." in html and "None recorded." in html

    assert deliver(client, meta_channel, secret=APP_SECRET).status_code == 200
    assert deliver(client, meta_channel, secret="wrong-secret-000000000").status_code == 401
    client.force_login(world_a.admin)
    html = client.get(url("integrations", world_a)).content.decode()
    assert "signature failure" in html  # the last outcome
    assert "recent: check the signing secret" in html


def test_verify_token_appears_only_in_the_reveal_response_which_is_audited(
    client, world_a, meta_channel
):
    client.force_login(world_a.admin)
    assert VERIFY_TOKEN not in client.get(url("integrations", world_a)).content.decode()
    response = client.post(
        url("channel-verify-token", world_a, channel_id=meta_channel.pk), REMOTE_ADDR=CLIENT_IP
    )
    assert response.status_code == 200
    assert VERIFY_TOKEN in response.content.decode()
    assert response["Cache-Control"] == "no-store"
    [event] = audit_events(world_a)
    assert event.action == AuditAction.CHANNEL_VERIFY_TOKEN_REVEALED
    assert event.target_id == str(meta_channel.pk) and event.ip_address == CLIENT_IP
    # Not kept anywhere that outlives the response: the next page view hides it again.
    assert VERIFY_TOKEN not in client.get(url("integrations", world_a)).content.decode()


def test_htmx_reveal_returns_only_the_channels_card(client, world_a, meta_channel):
    client.force_login(world_a.admin)
    response = client.post(
        url("channel-verify-token", world_a, channel_id=meta_channel.pk),
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert response.status_code == 200 and VERIFY_TOKEN in html
    assert html.lstrip().startswith(f'<section class="channel-card" id="channel-{meta_channel.pk}"')
    assert "<html" not in html


def test_kapso_channels_have_no_verify_token_to_reveal(client, world_a, kapso_channel):
    client.force_login(world_a.admin)
    response = client.post(url("channel-verify-token", world_a, channel_id=kapso_channel.pk))
    assert response.status_code == 404
    assert audit_events(world_a) == []


def test_deactivating_a_channel_refuses_its_webhooks_and_is_audited(client, world_a, meta_channel):
    client.force_login(world_a.admin)
    switch = url("channel-active", world_a, channel_id=meta_channel.pk)
    assert client.post(switch, {"active": "false"}).status_code == 302
    meta_channel.refresh_from_db()
    assert not meta_channel.is_active
    assert deliver(client, meta_channel, secret=APP_SECRET).status_code == 404

    client.force_login(world_a.admin)
    client.post(switch, {"active": "false"})  # already off: nothing new to record
    client.post(switch, {"active": "true"})
    meta_channel.refresh_from_db()
    assert meta_channel.is_active
    assert [e.action for e in audit_events(world_a)] == [
        AuditAction.CHANNEL_DEACTIVATED,
        AuditAction.CHANNEL_ACTIVATED,
    ]


def test_a_bad_active_value_is_refused(client, world_a, meta_channel):
    client.force_login(world_a.admin)
    response = client.post(
        url("channel-active", world_a, channel_id=meta_channel.pk), {"active": "maybe"}
    )
    assert response.status_code == 400
    assert "Choose active or inactive." in response.content.decode()
    meta_channel.refresh_from_db()
    assert meta_channel.is_active


def test_credential_update_keeps_blank_fields_and_never_echoes_a_value(
    client, world_a, meta_channel
):
    client.force_login(world_a.admin)
    response = post_credentials(
        client,
        world_a,
        meta_channel,
        api_token=NEW_ACCESS_TOKEN,
        signing_secret="",
        verify_token="",
    )
    assert response.status_code == 302
    meta_channel.refresh_from_db()
    assert meta_channel.api_token == NEW_ACCESS_TOKEN
    assert meta_channel.signing_secret == APP_SECRET  # blank: kept
    assert meta_channel.verify_token == VERIFY_TOKEN  # blank: kept
    assert meta_channel.previous_signing_secret is None  # no rotation started
    html = client.get(response["Location"]).content.decode()
    assert "Updated: access token." in html
    for secret in stored_secrets(meta_channel):
        assert secret not in html
    [event] = audit_events(world_a)
    assert event.action == AuditAction.CHANNEL_CREDENTIALS_UPDATED
    assert event.details == {"fields": ["api_token"], "rotation_started": False}
    assert event.ip_address == CLIENT_IP


def test_a_refused_credential_form_does_not_echo_what_was_typed(client, world_a, meta_channel):
    client.force_login(world_a.admin)
    response = post_credentials(
        client, world_a, meta_channel, api_token=NEW_ACCESS_TOKEN, signing_secret="short"
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "too short for a signing secret" in html
    assert NEW_ACCESS_TOKEN not in html and 'value="short"' not in html
    for secret in stored_secrets(meta_channel):
        assert secret not in html
    meta_channel.refresh_from_db()
    assert meta_channel.api_token != NEW_ACCESS_TOKEN  # nothing saved
    assert audit_events(world_a) == []


@pytest.mark.parametrize(
    ("values", "error"),
    [
        ({}, "Enter at least one new value"),
        ({"api_token": "two words"}, "without spaces or line breaks"),
        ({"api_token": "x" * 4097}, "at most 4096 characters"),
    ],
)
def test_bad_credential_input_gets_a_clear_error(client, world_a, meta_channel, values, error):
    client.force_login(world_a.admin)
    response = post_credentials(client, world_a, meta_channel, **values)
    assert response.status_code == 400
    assert error in response.content.decode()
    assert audit_events(world_a) == []


def test_rotation_keeps_the_old_secret_valid_until_finished(client, world_a, meta_channel):
    client.force_login(world_a.admin)
    response = post_credentials(client, world_a, meta_channel, signing_secret=NEW_APP_SECRET)
    assert "are still accepted until you finish the rotation" in (
        client.get(response["Location"]).content.decode()
    )
    meta_channel.refresh_from_db()
    assert meta_channel.signing_secret == NEW_APP_SECRET
    assert meta_channel.previous_signing_secret == APP_SECRET

    assert deliver(client, meta_channel, secret=APP_SECRET).status_code == 200
    assert deliver(client, meta_channel, secret=NEW_APP_SECRET).status_code == 200

    client.force_login(world_a.admin)
    html = client.get(url("integrations", world_a)).content.decode()
    assert "Rotation in progress" in html
    assert APP_SECRET not in html and NEW_APP_SECRET not in html
    response = client.post(url("channel-rotation-finish", world_a, channel_id=meta_channel.pk))
    assert "Rotation finished" in client.get(response["Location"]).content.decode()

    assert deliver(client, meta_channel, secret=APP_SECRET).status_code == 401
    assert deliver(client, meta_channel, secret=NEW_APP_SECRET).status_code == 200
    assert [(e.action, e.details) for e in audit_events(world_a)] == [
        (
            AuditAction.CHANNEL_CREDENTIALS_UPDATED,
            {"fields": ["signing_secret"], "rotation_started": True},
        ),
        (AuditAction.CHANNEL_ROTATION_FINISHED, {}),
    ]


def test_kapso_channels_offer_their_own_credentials(client, world_a, kapso_channel):
    client.force_login(world_a.admin)
    html = client.get(url("integrations", world_a)).content.decode()
    assert f'name="channel-{kapso_channel.pk}-signing_secret"' in html
    assert f'name="channel-{kapso_channel.pk}-api_key"' not in html
    assert "New webhook secret" in html and "New API key" in html
    assert f'name="channel-{kapso_channel.pk}-verify_token"' not in html
    response = post_credentials(client, world_a, kapso_channel, verify_token="sneaky-token-1")
    assert response.status_code == 400  # not a field of this kind: nothing to save
    kapso_channel.refresh_from_db()
    assert kapso_channel.verify_token is None
    assert kapso_channel.signing_secret == KAPSO_SECRET


def test_audit_entries_never_contain_a_secret(client, world_a, meta_channel, kapso_channel):
    old = stored_secrets(meta_channel) + stored_secrets(kapso_channel)
    client.force_login(world_a.owner)
    post_credentials(
        client,
        world_a,
        meta_channel,
        signing_secret=NEW_APP_SECRET,
        api_token=NEW_ACCESS_TOKEN,
        verify_token="new-verify-token-42",
    )
    post_credentials(client, world_a, kapso_channel, signing_secret="new-kapso-secret-00000001")
    client.post(url("channel-verify-token", world_a, channel_id=meta_channel.pk))
    client.post(url("channel-rotation-finish", world_a, channel_id=meta_channel.pk))
    client.post(url("channel-active", world_a, channel_id=kapso_channel.pk), {"active": "false"})
    new = stored_secrets(meta_channel) + stored_secrets(kapso_channel)
    rows = list(AuditEvent.objects.for_workspace(world_a.workspace).values())
    assert len(rows) == 5
    dump = json.dumps(rows, default=str)
    for secret in {*old, *new, NEW_APP_SECRET, NEW_ACCESS_TOKEN, "new-verify-token-42"}:
        assert secret not in dump


def test_integrations_page_runs_a_fixed_number_of_queries(
    client, world_a, django_assert_max_num_queries
):
    for _ in range(6):
        make_channel(world_a.workspace)
    client.force_login(world_a.admin)
    with django_assert_max_num_queries(10):
        assert client.get(url("integrations", world_a)).status_code == 200
