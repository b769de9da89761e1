"""Signed Meta deliveries end as stored rows: every fixture, duplicates, batches, statuses."""

import json
from datetime import UTC, datetime

import pytest

from chatdesk.crm.models import Contact, Conversation, Direction, MediaState, Message
from chatdesk.messaging.models import StatusReport, WebhookEvent
from chatdesk.messaging.services import status_reports_apply
from tests.integrations.whatsapp_cloud.helpers import (
    fixture_bytes,
    fixture_json,
    fixture_names,
    make_outbound_message,
    post_signed,
)

NON_ASCII_TEXT = (
    "Halo kak, apakah kamar untuk tanggal 17 Agustus masih ada? \U0001f64f "
    "Terima kasih banyak ya \u2014 salam dari Medan \U0001f1ee\U0001f1e9"
)
OUR_WAMID = "wamid.HBgNNjI4MTIzNDU2Nzg5MBUCABEYEjQxQjZBQjQ1QUI2RjQ5RkI3NQA="  # in statuses__*
FAILED_WAMID = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI0QUQ2"  # statuses__failed_131047

# fixture -> (message type, text shown to agents, unsupported, carries media)
MESSAGE_FIXTURES = {
    "messages__text": ("text", "Is it available in blue?", False, False),
    "messages__text_non_ascii": ("text", NON_ASCII_TEXT, False, False),
    "messages__text_reply": ("text", "Yang warna biru saja", False, False),
    "messages__image": ("image", "[image]", False, True),
    "messages__video_caption": ("video", "Ini videonya kak", False, True),
    "messages__audio_voice": ("audio", "[voice message]", False, True),
    "messages__document": ("document", "Bukti transfer", False, True),
    "messages__sticker": ("sticker", "[sticker]", False, True),
    "messages__interactive_button_reply": ("interactive", "Ya, pesan", False, False),
    "messages__interactive_list_reply": ("interactive", "Kamar Deluxe", False, False),
    "messages__interactive_nfm_reply": ("interactive", "Sent", False, False),
    "messages__button": ("button", "Berhenti promosi", False, False),
    "messages__reaction": ("reaction", "\U0001f44d", False, False),
    "messages__reaction_removed": ("reaction", "[reaction removed]", False, False),
    "messages__location": (
        "location",
        "[location] Masjid Raya Al-Mashun, Jl. Sisingamangaraja No.61, Medan "
        "(3.5951956, 98.6722227)",
        False,
        False,
    ),
    "messages__contacts": ("contacts", "[contacts] Budi Santoso, Ayu", False, False),
    "messages__order": ("order", "[order: 2 item(s)] Tolong kirim sore", False, False),
    "messages__system": (
        "system",
        "User A changed from 6281234567890 to 6281234567891",
        False,
        False,
    ),
    "messages__referral": ("text", "Halo! Saya mau tanya tentang promo ini.", False, False),
    "messages__unsupported": ("unsupported", "[unsupported message: poll_creation]", True, False),
    "messages__unknown_type": (
        "event_invitation",
        "[unsupported message type: event_invitation]",
        True,
        False,
    ),
    "messages__interactive_incomplete": (
        "interactive",
        "[interactive message without content]",
        True,
        False,
    ),
}
STATUS_FIXTURES = {
    "statuses__sent": "sent",
    "statuses__delivered": "delivered",
    "statuses__read": "read",
    "statuses__played": "played",
    "statuses__failed_131047": "failed",
    "statuses__failed_131026": "failed",
}
# Acknowledged and kept as raw events, nothing else stored.
IGNORED_FIXTURES = {
    "messages__system_user_id_change",
    "messages__errors_130429",
    "statuses__unknown",
    "field__account_update",
    "field__message_template_status_update",
    "field__security",
}
BATCH_FIXTURES = {"messages__batch"}


def _messages(channel):
    return Message.objects.for_workspace(channel.workspace)


def _first_message(name: str) -> dict:
    value = fixture_json(name)["entry"][0]["changes"][0]["value"]
    return value["messages"][0]


def test_every_fixture_has_an_expected_outcome_here():
    expected = set(MESSAGE_FIXTURES) | set(STATUS_FIXTURES) | IGNORED_FIXTURES | BATCH_FIXTURES
    assert expected == set(fixture_names())


@pytest.mark.django_db
def test_valid_text_message_is_stored_with_contact_conversation_and_provider_time(client, channel):
    body = fixture_bytes("messages__text")

    response = post_signed(client, channel, body)

    assert response.status_code == 200
    message = _messages(channel).get()
    assert message.provider_message_id == "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRB"
    assert message.direction == Direction.INBOUND
    assert message.text == "Is it available in blue?"
    assert message.provider_timestamp == datetime.fromtimestamp(1749416383, tz=UTC)
    contact = Contact.objects.for_workspace(channel.workspace).get()
    assert (contact.wa_id, contact.phone, contact.name) == (
        "16505551234",
        "+16505551234",
        "Sheena Nelson",
    )
    conversation = Conversation.objects.for_workspace(channel.workspace).get()
    assert (message.conversation_id, conversation.contact_id) == (conversation.pk, contact.pk)
    assert conversation.channel_id == channel.pk
    assert conversation.last_inbound_at == message.provider_timestamp
    event = WebhookEvent.objects.for_workspace(channel.workspace).get()
    assert bytes(event.body) == body
    assert event.event_type == "messages.text"


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(MESSAGE_FIXTURES))
def test_every_message_type_is_stored_with_its_type_text_and_flags(client, channel, name):
    kind, text, unsupported, has_media = MESSAGE_FIXTURES[name]
    raw = _first_message(name)

    response = post_signed(client, channel, fixture_bytes(name))

    assert response.status_code == 200
    message = _messages(channel).get()
    assert (message.type, message.text, message.unsupported) == (kind, text, unsupported)
    assert message.provider_message_id == raw["id"]
    assert message.provider_timestamp == datetime.fromtimestamp(int(raw["timestamp"]), tz=UTC)
    if has_media:
        assert message.media_state == MediaState.PENDING
        assert message.media_id == raw[kind]["id"]
        assert message.media_mime_type == raw[kind]["mime_type"]
    else:
        assert (message.media_state, message.media_id) == (MediaState.NONE, "")
    # Something nobody can read is handed to a human, never dropped.
    assert message.conversation.needs_human is unsupported


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name", ["messages__text_reply", "messages__interactive_button_reply", "messages__button"]
)
def test_reply_keeps_the_quoted_message_id(client, channel, name):
    post_signed(client, channel, fixture_bytes(name))

    assert _messages(channel).get().reply_to_provider_id == OUR_WAMID


@pytest.mark.django_db
def test_reaction_points_at_the_message_reacted_to(client, channel):
    post_signed(client, channel, fixture_bytes("messages__reaction"))

    assert _messages(channel).get().reply_to_provider_id == OUR_WAMID


@pytest.mark.django_db
def test_click_to_whatsapp_ad_context_is_kept_with_the_message(client, channel):
    post_signed(client, channel, fixture_bytes("messages__referral"))

    referral = _messages(channel).get().payload["referral"]
    assert referral["source_type"] == "ad"
    assert referral["headline"] == "Promo kamar Agustus"
    assert referral["ctwa_clid"].startswith("ARAkLkA8")


@pytest.mark.django_db
def test_non_ascii_text_and_name_are_stored_intact(client, channel):
    body = fixture_bytes("messages__text_non_ascii")
    assert body.isascii(), "Meta sends \\u escapes; the fixture keeps that shape"

    post_signed(client, channel, body)

    message = _messages(channel).get()
    assert message.text == NON_ASCII_TEXT
    assert message.conversation.contact.name == "Siti Rahmawati \U0001f338"


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(IGNORED_FIXTURES))
def test_ignored_events_are_acknowledged_and_kept_only_as_raw_events(client, channel, name):
    response = post_signed(client, channel, fixture_bytes(name))

    assert response.status_code == 200
    assert not _messages(channel).exists()
    assert not StatusReport.objects.for_workspace(channel.workspace).exists()
    assert WebhookEvent.objects.for_workspace(channel.workspace).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(STATUS_FIXTURES))
def test_status_is_kept_even_before_its_message_exists(client, channel, name):
    response = post_signed(client, channel, fixture_bytes(name))

    assert response.status_code == 200
    report = StatusReport.objects.for_workspace(channel.workspace).get()
    assert report.status == STATUS_FIXTURES[name]
    assert report.applied_at is None


@pytest.mark.django_db
def test_same_delivery_posted_ten_times_stores_one_message_and_answers_200_each_time(
    client, channel
):
    body = fixture_bytes("messages__text")

    responses = [post_signed(client, channel, body) for _ in range(10)]

    assert [r.status_code for r in responses] == [200] * 10
    assert [r.json()["duplicate"] for r in responses] == [False] + [True] * 9
    assert _messages(channel).count() == 1
    assert WebhookEvent.objects.for_workspace(channel.workspace).count() == 1


@pytest.mark.django_db
def test_same_wamid_in_a_different_body_is_still_one_message(client, channel):
    original = fixture_bytes("messages__text")
    # Meta's retries are byte-identical, but a re-delivery inside another batch is not.
    reshaped = json.dumps(json.loads(original), separators=(",", ":")).encode()
    assert reshaped != original

    first = post_signed(client, channel, original)
    second = post_signed(client, channel, reshaped)

    assert (first.status_code, second.status_code) == (200, 200)
    assert _messages(channel).count() == 1
    assert WebhookEvent.objects.for_workspace(channel.workspace).count() == 2


@pytest.mark.django_db
def test_batch_with_several_messages_and_statuses_stores_them_all(client, channel):
    response = post_signed(client, channel, fixture_bytes("messages__batch"))

    assert response.status_code == 200
    messages = _messages(channel).order_by("provider_timestamp")
    assert [m.text for m in messages] == ["Pagi kak", "Mau tanya harga", "Yang ini"]
    assert [m.conversation.contact.name for m in messages] == [
        "Siti Rahmawati",
        "Andi Wijaya",
        "Siti Rahmawati",
    ]
    assert Conversation.objects.for_workspace(channel.workspace).count() == 2
    reports = StatusReport.objects.for_workspace(channel.workspace)
    assert sorted(reports.values_list("status", flat=True)) == ["delivered", "read"]
    assert WebhookEvent.objects.for_workspace(channel.workspace).get().event_type == "batch"


@pytest.mark.django_db
def test_statuses_arriving_out_of_order_never_move_the_message_backwards(client, channel):
    message = make_outbound_message(channel, OUR_WAMID)

    for name in ("statuses__read", "statuses__delivered", "statuses__sent"):
        assert post_signed(client, channel, fixture_bytes(name)).status_code == 200

    message.refresh_from_db()
    assert message.status == "read"


@pytest.mark.django_db
def test_status_that_arrives_before_its_message_is_applied_when_the_message_appears(
    client, channel
):
    post_signed(client, channel, fixture_bytes("statuses__delivered"))
    post_signed(client, channel, fixture_bytes("statuses__read"))

    message = make_outbound_message(channel, OUR_WAMID)
    assert status_reports_apply(channel=channel, provider_message_id=OUR_WAMID) is True

    message.refresh_from_db()
    assert message.status == "read"
    reports = StatusReport.objects.for_workspace(channel.workspace)
    assert not reports.filter(applied_at__isnull=True).exists()


@pytest.mark.django_db
def test_failed_outside_window_marks_message_failed_and_conversation_needing_a_template(
    client, channel
):
    message = make_outbound_message(channel, FAILED_WAMID, wa_id="16505551234")

    response = post_signed(client, channel, fixture_bytes("statuses__failed_131047"))

    assert response.status_code == 200
    message.refresh_from_db()
    assert (message.status, message.error_code) == ("failed", "131047")
    assert message.error_reason == (
        "Re-engagement message: More than 24 hours have passed since the recipient last replied"
    )
    assert message.conversation.needs_template is True


@pytest.mark.django_db
def test_events_for_another_phone_number_are_refused(client, channel):
    document = fixture_json("messages__text")
    document["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = "1065403522999"
    body = json.dumps(document).encode()

    response = post_signed(client, channel, body)

    assert response.status_code == 400
    assert not _messages(channel).exists()
