"""What the Meta endpoint refuses, with which status, and the one security log line per refusal."""

import json
import logging

import pytest

from chatdesk.crm.models import Message
from chatdesk.integrations.whatsapp_cloud.provider import MetaCloudProvider
from chatdesk.messaging.models import Channel, ChannelKind, WebhookEvent
from chatdesk.messaging.signatures import hmac_sha256_hex
from tests.factories import APP_SECRET, make_channel
from tests.integrations.whatsapp_cloud.helpers import (
    fixture_bytes,
    meta_signature,
    post_signed,
)

SECURITY = "chatdesk.security"
SOURCE_IP = "203.0.113.7"  # helpers.post_signed's REMOTE_ADDR
NEW_SECRET = "meta-app-secret-after-rotation-0002"


def _stored(channel) -> int:
    return Message.objects.for_workspace(channel.workspace).count()


def _security_lines(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == SECURITY]


def _assert_one_safe_line(caplog, *, reason: str, body: bytes, secrets=(APP_SECRET,)):
    lines = _security_lines(caplog)
    assert len(lines) == 1
    record = lines[0]
    assert record.reason == reason
    assert record.source_ip == SOURCE_IP
    everything = record.getMessage() + " " + json.dumps(record.__dict__, default=str)
    assert reason in everything and SOURCE_IP in everything
    for secret in secrets:
        assert secret not in everything
        assert hmac_sha256_hex(secret, body) not in everything
    if len(body) > 20:
        assert body.decode("utf-8", "replace")[:40] not in everything


@pytest.mark.django_db
def test_unsigned_delivery_is_refused_and_recorded_on_the_channel(client, channel, caplog):
    body = fixture_bytes("messages__text")

    response = post_signed(client, channel, body, signature="")

    assert response.status_code == 401
    assert _stored(channel) == 0
    assert not WebhookEvent.objects.for_workspace(channel.workspace).exists()
    channel.refresh_from_db()
    assert channel.last_signature_failure_at is not None
    _assert_one_safe_line(caplog, reason="missing signature", body=body)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "signature",
    [
        pytest.param(meta_signature(b"{}"), id="signature-of-another-body"),
        pytest.param("sha256=" + "0" * 64, id="zeros"),
        pytest.param("sha256=not-hex", id="not-hex"),
        pytest.param("sha1=" + "a" * 40, id="legacy-sha1-header-format"),
    ],
)
def test_bad_signature_is_refused(client, channel, caplog, signature):
    body = fixture_bytes("messages__text")

    response = post_signed(client, channel, body, signature=signature)

    assert response.status_code == 401
    assert _stored(channel) == 0
    _assert_one_safe_line(caplog, reason="invalid signature", body=body)


@pytest.mark.django_db
def test_signature_with_the_wrong_secret_is_refused(client, channel, caplog):
    body = fixture_bytes("messages__text")

    response = post_signed(client, channel, body, secret="someone-elses-app-secret")

    assert response.status_code == 401
    _assert_one_safe_line(caplog, reason="invalid signature", body=body)


@pytest.mark.django_db
def test_correct_digest_without_the_sha256_prefix_is_refused(client, channel, caplog):
    body = fixture_bytes("messages__text")
    bare_digest = hmac_sha256_hex(APP_SECRET, body)

    response = post_signed(client, channel, body, signature=bare_digest)

    assert response.status_code == 401
    _assert_one_safe_line(caplog, reason="invalid signature", body=body)


@pytest.mark.django_db
def test_signature_over_re_serialised_json_is_refused_while_the_raw_bytes_one_passes(
    client, channel
):
    # Meta signs the bytes it sends, with non-ASCII text as \u escapes. A receiver that parses
    # and re-serialises before checking computes a different digest.
    raw = fixture_bytes("messages__text_non_ascii")
    assert b"\\ud83d" in raw
    reserialised = json.dumps(json.loads(raw), ensure_ascii=False).encode()
    assert reserialised != raw

    refused = post_signed(client, channel, raw, signature=meta_signature(reserialised))
    accepted = post_signed(client, channel, raw, signature=meta_signature(raw))

    assert (refused.status_code, accepted.status_code) == (401, 200)
    assert _stored(channel) == 1


@pytest.mark.django_db
def test_unknown_channel_key_is_404(client, channel, caplog):
    body = fixture_bytes("messages__text")

    response = post_signed(client, "no-such-channel-key", body)

    assert response.status_code == 404
    _assert_one_safe_line(caplog, reason="unknown channel", body=body)


@pytest.mark.django_db
def test_kapso_channel_key_on_the_meta_url_is_404(client, channel):
    kapso = make_channel(channel.workspace, kind=ChannelKind.KAPSO)

    response = post_signed(client, kapso, fixture_bytes("messages__text"))

    assert response.status_code == 404


@pytest.mark.django_db
def test_inactive_channel_is_404_even_with_a_valid_signature(client, caplog):
    inactive = make_channel(is_active=False)
    body = fixture_bytes("messages__text")

    response = post_signed(client, inactive, body)

    assert response.status_code == 404
    assert _stored(inactive) == 0
    _assert_one_safe_line(caplog, reason="inactive channel", body=body)


@pytest.mark.django_db
def test_during_rotation_both_secrets_verify_until_the_old_one_is_removed(client, channel):
    channel.previous_signing_secret = APP_SECRET
    channel.signing_secret = NEW_SECRET
    channel.save()
    text = fixture_bytes("messages__text")
    image = fixture_bytes("messages__image")
    sticker = fixture_bytes("messages__sticker")

    with_old = post_signed(client, channel, text, secret=APP_SECRET)
    with_new = post_signed(client, channel, image, secret=NEW_SECRET)
    channel = Channel.objects.for_workspace(channel.workspace).get(pk=channel.pk)
    channel.previous_signing_secret = None
    channel.save()
    old_after_rotation = post_signed(client, channel, sticker, secret=APP_SECRET)
    new_after_rotation = post_signed(client, channel, sticker, secret=NEW_SECRET)

    assert (with_old.status_code, with_new.status_code) == (200, 200)
    assert (old_after_rotation.status_code, new_after_rotation.status_code) == (401, 200)
    assert _stored(channel) == 3


NOT_JSON = "body is not valid JSON"
NOT_OBJECT = "body is not a JSON object"
ENVELOPE = b'{"object": "whatsapp_business_account"'


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(b"{not json", NOT_JSON, id="malformed"),
        pytest.param(b"", NOT_JSON, id="empty"),
        pytest.param(ENVELOPE + b', "entry": [', NOT_JSON, id="truncated"),
        pytest.param(b"\xff\xfe{}", "body is not UTF-8", id="not-utf8"),
        pytest.param(b'{"a": NaN}', NOT_JSON, id="nan"),
        pytest.param(b'{"a": 1e999}', NOT_JSON, id="float-overflow"),
        pytest.param(b"[]", NOT_OBJECT, id="list"),
        pytest.param(b'"whatsapp_business_account"', NOT_OBJECT, id="string"),
        pytest.param(b"42", NOT_OBJECT, id="number"),
        pytest.param(
            b'{"object": "page", "entry": []}',
            "object is not whatsapp_business_account",
            id="wrong-object",
        ),
        pytest.param(ENVELOPE + b"}", "entry is not a list", id="no-entry"),
        pytest.param(b"[" * 5000 + b"]" * 5000, "body is nested too deeply", id="deep-nesting"),
        pytest.param(
            ENVELOPE + b', "entry": [], "n": ' + b"9" * 40 + b"}",
            "number out of range",
            id="huge-number",
        ),
    ],
)
def test_unreadable_body_is_400_with_a_short_reason(client, channel, caplog, body, reason):
    response = post_signed(client, channel, body)

    assert response.status_code == 400
    assert response.json() == {"error": reason}
    assert not WebhookEvent.objects.for_workspace(channel.workspace).exists()
    _assert_one_safe_line(caplog, reason=reason, body=body)


@pytest.mark.django_db
def test_body_over_the_patched_limit_is_413(client, channel, caplog, monkeypatch):
    body = fixture_bytes("messages__text")
    monkeypatch.setattr(MetaCloudProvider, "max_body_bytes", len(body) - 1)

    response = post_signed(client, channel, body)

    assert response.status_code == 413
    assert _stored(channel) == 0
    _assert_one_safe_line(caplog, reason="body too large", body=body)


@pytest.mark.django_db
def test_body_at_the_patched_limit_is_accepted(client, channel, monkeypatch):
    body = fixture_bytes("messages__text")
    monkeypatch.setattr(MetaCloudProvider, "max_body_bytes", len(body))

    assert post_signed(client, channel, body).status_code == 200


def _padded(size: int) -> bytes:
    """The text fixture padded with JSON whitespace to exactly `size` bytes."""
    body = fixture_bytes("messages__text").rstrip()
    return body[:-1] + b" " * (size - len(body)) + b"}"


@pytest.mark.django_db
def test_body_over_meta_s_3_mb_is_413(client, channel):
    body = _padded(3 * 1024 * 1024 + 1)
    assert len(body) == 3 * 1024 * 1024 + 1

    response = post_signed(client, channel, body)

    assert response.status_code == 413
    assert _stored(channel) == 0


@pytest.mark.django_db
def test_body_of_exactly_3_mb_is_accepted(client, channel):
    # Above Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB): Meta's own limit must still pass.
    body = _padded(3 * 1024 * 1024)

    response = post_signed(client, channel, body)

    assert response.status_code == 200
    assert _stored(channel) == 1


@pytest.mark.django_db
def test_declared_content_length_over_the_limit_is_refused_before_reading(client, channel):
    body = fixture_bytes("messages__text")

    response = post_signed(client, channel, body, CONTENT_LENGTH=str(3 * 1024 * 1024 + 1))

    assert response.status_code == 413
