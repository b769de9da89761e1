"""The Kapso endpoint as Kapso and an attacker see it: real payloads posted as raw signed bytes."""

import json
import logging
from datetime import UTC, datetime

import pytest

from chatdesk.crm.models import (
    Author,
    Contact,
    Conversation,
    Direction,
    MediaState,
    Message,
    MessageStatus,
)
from chatdesk.integrations.kapso.views import PROVIDER
from chatdesk.messaging.models import Channel, ChannelKind, StatusReport, WebhookEvent
from chatdesk.messaging.services import status_reports_apply
from chatdesk.messaging.signatures import hmac_sha256_hex
from tests.factories import KAPSO_SECRET, make_channel
from tests.integrations.kapso.helpers import (
    CUSTOMER_WA_ID,
    OMIT,
    PHONE_NUMBER_ID,
    fixture_bytes,
    fixture_json,
    post,
    post_fixture,
    url_for,
)

pytestmark = pytest.mark.django_db

OUTBOUND_ID = fixture_json("whatsapp.message.delivered__single")["message"]["id"]


def messages(channel):
    return Message.objects.for_workspace(channel.workspace)


def raw_events(channel):
    return WebhookEvent.objects.for_workspace(channel.workspace)


def conversation_of(message):
    return Conversation.objects.for_workspace(message.workspace).get(pk=message.conversation_id)


def outbound_message(channel, provider_message_id, status=MessageStatus.SENT):
    """An agent's reply that the provider accepted: what status webhooks update."""
    contact = Contact.objects.for_workspace(channel.workspace).create(
        workspace=channel.workspace, wa_id=CUSTOMER_WA_ID, phone=f"+{CUSTOMER_WA_ID}"
    )
    conversation = Conversation.objects.for_workspace(channel.workspace).create(
        workspace=channel.workspace, channel=channel, contact=contact
    )
    return messages(channel).create(
        workspace=channel.workspace,
        conversation=conversation,
        channel=channel,
        direction=Direction.OUTBOUND,
        author=Author.AGENT,
        type="text",
        text="Pendaftaran dibuka sampai 30 November.",
        provider_message_id=provider_message_id,
        provider_timestamp=datetime(2026, 11, 2, 3, 20, tzinfo=UTC),
        status=status,
    )


def security_records(caplog):
    return [r for r in caplog.records if r.name == "chatdesk.security"]


# --- accepted deliveries ------------------------------------------------------------------------


def test_text_message_is_stored_with_its_contact_conversation_and_provider_time(client, channel):
    response = post_fixture(client, channel, "whatsapp.message.received__text")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "duplicate": False}
    message = messages(channel).get()
    assert (message.direction, message.author, message.type) == ("in", "customer", "text")
    assert message.text == "Halo, apakah pendaftaran beasiswa masih dibuka?"
    assert (
        message.provider_message_id
        == fixture_json("whatsapp.message.received__text")["message"]["id"]
    )
    # The thread is ordered by when the customer wrote, not when we stored it.
    assert message.provider_timestamp == datetime.fromtimestamp(1793589247, UTC)
    contact = Contact.objects.for_workspace(channel.workspace).get()
    assert (contact.wa_id, contact.phone, contact.name) == (
        CUSTOMER_WA_ID,
        f"+{CUSTOMER_WA_ID}",
        "Siti Rahma",
    )
    assert conversation_of(message).last_inbound_at == message.provider_timestamp
    event = raw_events(channel).get()
    assert bytes(event.body) == fixture_bytes("whatsapp.message.received__text")
    assert event.event_type == "whatsapp.message.received"


RECEIVED = {
    # fixture variant: (type, text, unsupported, media pending)
    "text": ("text", "Halo, apakah pendaftaran beasiswa masih dibuka?", False, False),
    "reply": ("text", "Yang ini, kak", False, False),
    "image": ("image", "Foto ijazah saya", False, True),
    "audio": ("audio", "", False, True),
    "video": ("video", "Ini videonya", False, True),
    "document": ("document", "transkrip_nilai.pdf", False, True),
    "sticker": ("sticker", "", False, True),
    "interactive_button_reply": ("interactive", "Jadwal tes", False, False),
    "interactive_list_reply": ("interactive", "Teknik Informatika", False, False),
    "button": ("button", "Saya hadir", False, False),
    "reaction": ("reaction", "👍", False, False),
    "location": (
        "location",
        "Universitas Indonesia, Pondok Cina, Beji, Depok, Jawa Barat",
        False,
        False,
    ),
    "contacts": ("contacts", "Budi Santoso", False, False),
    "order": ("order", "Paket bimbel intensif", False, False),
    "system": ("system", "User A changed from 6281234567890 to 6281234567891", False, False),
    "unsupported": ("unsupported", "", True, False),
    "unknown_type": ("request_welcome", "", True, False),
    "without_from": ("text", "Kak, masih ada kuota?", False, False),
}


@pytest.mark.parametrize("variant", sorted(RECEIVED))
def test_every_message_type_is_stored_never_dropped(client, channel, variant):
    name = f"whatsapp.message.received__{variant}"
    message_type, text, unsupported, has_media = RECEIVED[variant]

    assert post_fixture(client, channel, name).status_code == 200

    message = messages(channel).get()
    assert (message.type, message.text, message.unsupported) == (message_type, text, unsupported)
    assert message.media_state == (MediaState.PENDING if has_media else MediaState.NONE)
    assert Contact.objects.for_workspace(channel.workspace).get().wa_id == CUSTOMER_WA_ID
    # Something we cannot read is put in front of a human.
    assert conversation_of(message).needs_human is unsupported


def test_media_message_keeps_the_media_id_and_type_for_the_fetch_job(client, channel):
    post_fixture(client, channel, "whatsapp.message.received__image")

    message = messages(channel).get()
    image = fixture_json("whatsapp.message.received__image")["message"]["image"]
    assert (message.media_id, message.media_mime_type) == (image["id"], "image/jpeg")
    assert message.payload == image


def test_reply_and_reaction_point_at_the_message_they_answer(client, channel):
    post_fixture(client, channel, "whatsapp.message.received__reply")
    post_fixture(client, channel, "whatsapp.message.received__reaction")

    reply, reaction = messages(channel).order_by("provider_timestamp")
    assert (
        reply.reply_to_provider_id
        == (fixture_json("whatsapp.message.received__reply")["message"]["context"]["id"])
    )
    assert (
        reaction.reply_to_provider_id
        == (
            fixture_json("whatsapp.message.received__reaction")["message"]["reaction"]["message_id"]
        )
    )


def test_batched_delivery_stores_every_message_in_it(client, channel):
    response = post_fixture(client, channel, "batch__mixed")

    assert response.status_code == 200
    stored = list(messages(channel).order_by("provider_timestamp"))
    assert [m.text for m in stored] == ["Kak", "Mau tanya biaya kuliah 🙂", "Brosurnya ini kak"]
    assert [m.type for m in stored] == ["text", "text", "image"]
    assert raw_events(channel).count() == 1
    assert Conversation.objects.for_workspace(channel.workspace).count() == 1


def test_batch_flag_in_the_body_alone_is_enough(client, channel):
    # Kapso's own sample code accepts either signal; so do we.
    response = post_fixture(client, channel, "batch__mixed", batch=False)

    assert response.status_code == 200
    assert messages(channel).count() == 3


def test_batch_of_several_megabytes_is_accepted(client, channel):
    # Above Django's 2.5 MB in-memory default, within Kapso's worst case of 100 long messages.
    template = fixture_json("batch__mixed")["data"][0]
    items = []
    for n in range(60):
        item = json.loads(json.dumps(template))
        text = "😀" * 4000
        item["message"]["id"] = f"wamid.big{n:04d}"
        item["message"]["text"]["body"] = text
        item["message"]["kapso"]["content"] = text
        item["conversation"]["kapso"]["last_message_text"] = text
        items.append(item)
    body = json.dumps(
        {"type": "whatsapp.message.received", "batch": True, "data": items}, ensure_ascii=False
    ).encode()
    assert 2_621_440 < len(body) < PROVIDER.max_body_bytes

    response = post(client, channel, body, event="whatsapp.message.received", batch=True)

    assert response.status_code == 200
    assert messages(channel).count() == 60


@pytest.mark.parametrize(
    "name",
    [
        "whatsapp.conversation.created__single",
        "whatsapp.conversation.ended__single",
        "whatsapp.conversation.inactive__single",
        "whatsapp.message.received__outbound_echo",
    ],
)
def test_declared_ignored_events_are_acknowledged_and_kept_raw_only(client, channel, name):
    response = post_fixture(client, channel, name)

    assert response.status_code == 200
    assert raw_events(channel).count() == 1
    assert messages(channel).count() == 0
    assert Contact.objects.for_workspace(channel.workspace).count() == 0


def test_undeclared_event_type_is_acknowledged_and_kept_for_replay(client, channel):
    body = json.dumps({"contact": {"wa_id": CUSTOMER_WA_ID}, "phone_number_id": PHONE_NUMBER_ID})

    response = post(
        client, channel, body.encode(), event="whatsapp.contact.marketing_preference_changed"
    )

    # A 4xx would make Kapso retry and eventually pause the webhook, stopping customer messages.
    assert response.status_code == 200
    assert raw_events(channel).get().event_type == "whatsapp.contact.marketing_preference_changed"
    assert messages(channel).count() == 0


def test_non_ascii_text_survives_raw_utf8_and_escaped_json_alike(client, channel):
    name = "whatsapp.message.received__non_ascii"
    expected = "Terima kasih 🙏 — ¿señor? 日本語もOK ✅"
    post_fixture(client, channel, name)
    # The same event as Meta-style escaped JSON (\\u2014, \\ud83d\\ude4f, ...), signed as sent.
    escaped = fixture_json(name)
    escaped["message"]["id"] += "escaped"
    body = json.dumps(escaped, ensure_ascii=True).encode()
    assert b"\\ud83d\\ude4f" in body
    post(client, channel, body, event="whatsapp.message.received")

    assert [m.text for m in messages(channel)] == [expected, expected]


# --- duplicates and ordering --------------------------------------------------------------------


def test_same_delivery_ten_times_stores_one_raw_event_and_one_message(client, channel):
    name = "whatsapp.message.received__text"

    responses = [
        post_fixture(client, channel, name, idempotency_key="5f0c8e1a-2b3d-4c5e-8f9a-0b1c2d3e4f50")
        for _ in range(10)
    ]

    assert [r.status_code for r in responses] == [200] * 10
    assert [r.json()["duplicate"] for r in responses] == [False] + [True] * 9
    assert raw_events(channel).count() == 1
    assert messages(channel).count() == 1


def test_same_message_under_different_idempotency_keys_is_stored_once(client, channel):
    # A replayed capture with a fresh key, or Kapso re-sending as a new delivery.
    for _ in range(3):
        assert post_fixture(client, channel, "whatsapp.message.received__text").status_code == 200

    assert raw_events(channel).count() == 3
    assert messages(channel).count() == 1


def test_status_for_a_message_not_yet_known_is_kept_and_applied_when_it_appears(client, channel):
    response = post_fixture(client, channel, "whatsapp.message.delivered__single")

    assert response.status_code == 200
    report = StatusReport.objects.for_workspace(channel.workspace).get()
    assert (report.provider_message_id, report.status) == (OUTBOUND_ID, "delivered")
    assert report.provider_timestamp == datetime.fromtimestamp(1793590803, UTC)
    assert report.applied_at is None

    message = outbound_message(channel, OUTBOUND_ID)
    assert status_reports_apply(channel=channel, provider_message_id=OUTBOUND_ID) is True

    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED
    assert message.status_at == datetime.fromtimestamp(1793590803, UTC)


def test_statuses_arriving_out_of_order_never_move_a_message_backwards(client, channel):
    message = outbound_message(channel, OUTBOUND_ID)

    for name in ("read__single", "delivered__single", "sent__single"):
        assert post_fixture(client, channel, f"whatsapp.message.{name}").status_code == 200
        message.refresh_from_db()
        assert message.status == MessageStatus.READ

    assert StatusReport.objects.for_workspace(channel.workspace).count() == 3


def test_send_failed_outside_the_24_hour_window_marks_the_conversation_for_a_template(
    client, channel
):
    failed_id = fixture_json("whatsapp.message.failed__131047")["message"]["id"]
    message = outbound_message(channel, failed_id)

    assert post_fixture(client, channel, "whatsapp.message.failed__131047").status_code == 200

    message.refresh_from_db()
    assert (message.status, message.error_code) == (MessageStatus.FAILED, "131047")
    assert message.error_reason.startswith("Re-engagement message: ")
    assert "24 hours" in message.error_reason
    assert conversation_of(message).needs_template is True


def test_other_send_failures_fail_the_message_without_asking_for_a_template(client, channel):
    failed_id = fixture_json("whatsapp.message.failed__131026")["message"]["id"]
    message = outbound_message(channel, failed_id)

    post_fixture(client, channel, "whatsapp.message.failed__131026")

    message.refresh_from_db()
    assert (message.status, message.error_code) == (MessageStatus.FAILED, "131026")
    assert message.error_reason == "Message undeliverable: Message Undeliverable."
    assert conversation_of(message).needs_template is False


# --- rejections ---------------------------------------------------------------------------------


def test_unsigned_delivery_is_refused_and_stores_nothing(client, channel):
    response = post_fixture(client, channel, "whatsapp.message.received__text", signature=OMIT)

    assert response.status_code == 401
    assert response.json() == {"error": "missing signature"}
    assert raw_events(channel).count() == messages(channel).count() == 0
    channel.refresh_from_db()
    assert channel.last_signature_failure_at is not None


@pytest.mark.parametrize(
    "signature",
    [
        "0" * 64,
        hmac_sha256_hex("some-other-secret", fixture_bytes("whatsapp.message.received__text")),
        "sha256=" + hmac_sha256_hex(KAPSO_SECRET, fixture_bytes("whatsapp.message.received__text")),
        "not hex at all",
    ],
    ids=["zeros", "other-secret", "meta-style-prefix", "garbage"],
)
def test_bad_signature_is_refused(client, channel, signature):
    response = post_fixture(client, channel, "whatsapp.message.received__text", signature=signature)

    assert response.status_code == 401
    assert response.json() == {"error": "invalid signature"}
    assert messages(channel).count() == 0


def test_signature_of_the_reserialised_json_does_not_verify_the_bytes_sent(client, channel):
    original = fixture_bytes("whatsapp.message.received__non_ascii")
    reserialised = json.dumps(json.loads(original)).encode()  # same data, other bytes

    response = post(
        client,
        channel,
        reserialised,
        event="whatsapp.message.received",
        signature=hmac_sha256_hex(KAPSO_SECRET, original),
    )

    assert response.status_code == 401
    assert messages(channel).count() == 0


def test_unknown_channel_key_is_not_found(client, channel):
    response = post_fixture(client, "no-such-channel-key", "whatsapp.message.received__text")

    assert response.status_code == 404


def test_meta_channel_key_is_not_found_on_the_kapso_url(client, channel):
    meta = make_channel(channel.workspace, kind=ChannelKind.META)

    response = post_fixture(client, meta, "whatsapp.message.received__text")

    assert response.status_code == 404
    assert messages(channel).count() == 0


def test_inactive_channel_is_not_found(client, channel):
    Channel.objects.for_workspace(channel.workspace).filter(pk=channel.pk).update(is_active=False)

    response = post_fixture(client, channel, "whatsapp.message.received__text")

    assert response.status_code == 404
    assert raw_events(channel).count() == 0


def test_delivery_without_idempotency_key_is_refused_with_the_reason(client, channel):
    response = post_fixture(
        client, channel, "whatsapp.message.received__text", idempotency_key=OMIT
    )

    assert response.status_code == 400
    assert response.json() == {"error": "missing X-Idempotency-Key header"}
    assert raw_events(channel).count() == 0


@pytest.mark.parametrize(
    "key", ["x" * 129, "two words", "-leading-dash", "käse", "a/b"], ids=str.__len__
)
def test_idempotency_key_must_be_a_short_plain_token(client, channel, key):
    response = post_fixture(client, channel, "whatsapp.message.received__text", idempotency_key=key)

    assert response.status_code == 400
    assert "X-Idempotency-Key" in response.json()["error"]


def test_event_for_another_phone_number_is_refused(client, channel):
    # A Kapso webhook for number B pasted on channel A must not file B's customers under A.
    other = fixture_json("whatsapp.message.received__text")
    other["phone_number_id"] = other["conversation"]["phone_number_id"] = "999999999999999"

    response = post(client, channel, json.dumps(other).encode(), event="whatsapp.message.received")

    assert response.status_code == 400
    assert "another phone number" in response.json()["error"]
    assert raw_events(channel).count() == messages(channel).count() == 0
    channel.refresh_from_db()
    assert channel.last_webhook_outcome == "wrong phone number"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"message": {"id": "wamid.1"', "body is not valid UTF-8 JSON"),
        (b"\xff\xfe{}", "body is not valid UTF-8 JSON"),
        (b"[]", "body is not a JSON object"),
        (b'{"phone_number_id": "123456789012345"}', "message is missing or not an object"),
    ],
    ids=["truncated", "not-utf8", "array", "no-message"],
)
def test_malformed_body_is_refused_with_a_short_reason(client, channel, body, reason):
    response = post(client, channel, body, event="whatsapp.message.received")

    assert response.status_code == 400
    assert response.json() == {"error": reason}
    assert raw_events(channel).count() == 0


def test_delivery_without_event_type_is_refused(client, channel):
    response = post_fixture(client, channel, "whatsapp.message.received__text", event=OMIT)

    assert response.status_code == 400
    assert response.json() == {"error": "missing X-Webhook-Event header"}


def test_legacy_payload_version_is_refused_with_the_fix(client, channel):
    body = fixture_bytes("whatsapp.message.received__text")
    response = client.generic(
        "POST",
        url_for(channel),
        body,
        content_type="application/json",
        headers={
            "X-Webhook-Event": "whatsapp.message.received",
            "X-Webhook-Signature": hmac_sha256_hex(KAPSO_SECRET, body),
            "X-Idempotency-Key": "0d6f4c1e-8a2b-4c3d-9e5f-1a2b3c4d5e6f",
            "X-Webhook-Payload-Version": "v1",
        },
    )

    assert response.status_code == 400
    assert "v2" in response.json()["error"]


def test_body_over_the_limit_is_refused_before_it_is_read(client, channel):
    body = b" " * (PROVIDER.max_body_bytes + 1)

    response = post(client, channel, body, event="whatsapp.message.received")

    assert response.status_code == 413
    assert response.json() == {"error": "body too large"}


def test_get_is_not_allowed(client, channel):
    assert client.get(url_for(channel)).status_code == 405


# --- security log -------------------------------------------------------------------------------


def _unknown_key(client, channel):
    return post_fixture(client, "unknown-key-0000", "whatsapp.message.received__text")


def _inactive(client, channel):
    channel.is_active = False
    channel.save(update_fields=["is_active"])
    return post_fixture(client, channel, "whatsapp.message.received__text")


def _unsigned(client, channel):
    return post_fixture(client, channel, "whatsapp.message.received__text", signature=OMIT)


def _bad_signature(client, channel):
    return post_fixture(client, channel, "whatsapp.message.received__text", signature="ab" * 32)


def _malformed(client, channel):
    return post(client, channel, b'{"message": "Siti', event="whatsapp.message.received")


def _no_idempotency_key(client, channel):
    return post_fixture(client, channel, "whatsapp.message.received__text", idempotency_key=OMIT)


def _oversized(client, channel):
    return post(client, channel, b"x" * (PROVIDER.max_body_bytes + 1), event="x")


def _other_number(client, channel):
    other = fixture_json("whatsapp.message.received__text")
    other["phone_number_id"] = "999999999999999"
    return post(client, channel, json.dumps(other).encode(), event="whatsapp.message.received")


REJECTIONS = {
    "unknown channel": (_unknown_key, 404),
    "inactive channel": (_inactive, 404),
    "missing signature": (_unsigned, 401),
    "invalid signature": (_bad_signature, 401),
    "body is not valid UTF-8 JSON": (_malformed, 400),
    "missing X-Idempotency-Key header": (_no_idempotency_key, 400),
    "body too large": (_oversized, 413),
    "payload is for another phone number than this channel's": (_other_number, 400),
}


@pytest.mark.parametrize("reason", sorted(REJECTIONS))
def test_each_rejection_writes_one_security_line_without_secrets_or_body(
    client, channel, caplog, reason
):
    make_request, status = REJECTIONS[reason]
    caplog.set_level(logging.INFO)

    response = make_request(client, channel)

    assert response.status_code == status
    (record,) = security_records(caplog)
    assert record.reason == reason
    assert record.source_ip == "203.0.113.7"
    logged = " ".join(f"{key}={value}" for key, value in vars(record).items())
    body = fixture_bytes("whatsapp.message.received__text")
    for forbidden in (
        KAPSO_SECRET,
        channel.channel_key,
        hmac_sha256_hex(KAPSO_SECRET, body),
        "ab" * 32,
        "Halo, apakah",
        "Siti",
    ):
        assert forbidden not in logged


# --- secret rotation ----------------------------------------------------------------------------


def test_previous_secret_is_accepted_during_a_rotation_and_refused_once_removed(client, channel):
    new_secret = "kapso-webhook-secret-rotated-0002"
    channel.previous_signing_secret = KAPSO_SECRET
    channel.signing_secret = new_secret
    channel.save(update_fields=["previous_signing_secret", "signing_secret"])

    assert (
        post_fixture(client, channel, "whatsapp.message.received__text", secret=KAPSO_SECRET)
    ).status_code == 200
    assert (
        post_fixture(client, channel, "whatsapp.message.received__image", secret=new_secret)
    ).status_code == 200

    channel.previous_signing_secret = None
    channel.save(update_fields=["previous_signing_secret"])

    old = post_fixture(client, channel, "whatsapp.message.received__video", secret=KAPSO_SECRET)
    new = post_fixture(client, channel, "whatsapp.message.received__audio", secret=new_secret)
    assert (old.status_code, new.status_code) == (401, 200)
    assert messages(channel).count() == 3
