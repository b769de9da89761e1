"""Meta's GET verification handshake when the callback URL is saved in the app dashboard."""

import pytest

from tests.factories import VERIFY_TOKEN, make_channel
from tests.integrations.whatsapp_cloud.helpers import webhook_url


def _handshake(client, channel, **params):
    query = {"hub.mode": "subscribe", "hub.challenge": "1158201444", **params}
    return client.get(webhook_url(channel), query, REMOTE_ADDR="203.0.113.7")


@pytest.mark.django_db
def test_matching_verify_token_answers_the_challenge_as_plain_text(client, channel):
    response = _handshake(client, channel, **{"hub.verify_token": VERIFY_TOKEN})

    assert response.status_code == 200
    assert response.content == b"1158201444"
    assert response["Content-Type"].startswith("text/plain")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"hub.verify_token": "wrong-token"}, id="wrong-token"),
        pytest.param({"hub.verify_token": VERIFY_TOKEN[:-1]}, id="prefix-of-token"),
        pytest.param({"hub.verify_token": ""}, id="empty-token"),
        pytest.param({}, id="no-token"),
        pytest.param({"hub.verify_token": "tökén-ünïcode"}, id="non-ascii-token"),
        pytest.param({"hub.verify_token": VERIFY_TOKEN, "hub.mode": "unsubscribe"}, id="mode"),
    ],
)
def test_anything_but_the_channel_s_token_is_403(client, channel, caplog, params):
    response = _handshake(client, channel, **params)

    assert response.status_code == 403
    lines = [r for r in caplog.records if r.name == "chatdesk.security"]
    assert [r.reason for r in lines] == ["verify token mismatch"]
    assert VERIFY_TOKEN not in lines[0].getMessage()


@pytest.mark.django_db
def test_channel_without_a_verify_token_never_verifies(client, channel):
    channel.verify_token = None
    channel.save()

    assert _handshake(client, channel, **{"hub.verify_token": ""}).status_code == 403


@pytest.mark.django_db
def test_matching_token_without_a_challenge_is_400(client, channel):
    response = _handshake(
        client, channel, **{"hub.verify_token": VERIFY_TOKEN, "hub.challenge": ""}
    )

    assert response.status_code == 400


@pytest.mark.django_db
def test_handshake_for_unknown_channel_is_404(client):
    response = _handshake(client, "no-such-channel", **{"hub.verify_token": VERIFY_TOKEN})

    assert response.status_code == 404


@pytest.mark.django_db
def test_handshake_for_inactive_channel_is_404(client):
    inactive = make_channel(is_active=False)

    response = _handshake(client, inactive, **{"hub.verify_token": VERIFY_TOKEN})

    assert response.status_code == 404


@pytest.mark.django_db
def test_other_methods_are_not_allowed(client, channel):
    assert client.put(webhook_url(channel), b"{}").status_code == 405
