"""The parser on its own: what each field becomes, and every wrong shape a short PayloadError."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from chatdesk.integrations.kapso.parser import MAX_BATCH_ITEMS, parse_delivery
from chatdesk.messaging.events import PayloadError
from tests.integrations.kapso.helpers import CUSTOMER_WA_ID, fixture_json

RECEIVED = "whatsapp.message.received"


def parse(document, event_type=RECEIVED, *, batch=False, version="v2"):
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    return parse_delivery(body=body, event_type=event_type, batch=batch, payload_version=version)


def text_event(**message_changes):
    document = fixture_json("whatsapp.message.received__text")
    document["message"].update(message_changes)
    return document


def test_kapso_media_url_is_handed_to_the_fetch_job():
    (message,) = parse(fixture_json("whatsapp.message.received__image")).messages

    assert message.media_url.startswith("https://api.kapso.ai/media/")
    assert message.media_mime_type == "image/jpeg"


def test_media_type_comes_from_kapso_when_the_message_omits_it():
    document = fixture_json("whatsapp.message.received__image")
    del document["message"]["image"]["mime_type"]

    (message,) = parse(document).messages

    assert message.media_mime_type == "image/jpeg"  # kapso.media_data.content_type


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "javascript:alert(1)", "//evil.example/x", 42, "https://" + "a" * 2050],
)
def test_media_url_that_is_not_a_web_url_is_dropped(url):
    document = fixture_json("whatsapp.message.received__image")
    document["message"]["kapso"]["media_url"] = url
    document["message"]["kapso"]["media_data"]["url"] = url

    (message,) = parse(document).messages

    assert message.media_url == ""
    assert message.media_id  # the attachment is still known and fetchable by id


def test_customer_number_falls_back_to_the_conversation_when_from_is_absent():
    document = text_event()
    del document["message"]["from"]
    document["conversation"]["phone_number"] = "+62 812-3456-7890"

    (message,) = parse(document).messages

    assert message.wa_id == CUSTOMER_WA_ID


def test_message_without_any_sender_number_is_refused():
    document = text_event()
    del document["message"]["from"]
    del document["conversation"]["phone_number"]

    with pytest.raises(PayloadError, match="no sender phone number"):
        parse(document)


def test_contact_name_comes_from_the_conversation():
    (message,) = parse(text_event()).messages

    assert message.contact_name == "Siti Rahma"


def test_missing_contact_name_is_an_empty_name_not_an_error():
    document = text_event()
    del document["conversation"]["kapso"]

    (message,) = parse(document).messages

    assert message.contact_name == ""


@pytest.mark.parametrize(
    "timestamp", [None, "", "soon", "NaN", "1e30", -5, 10**20, True, "99999999999"]
)
def test_unusable_timestamp_falls_back_to_the_receipt_time(timestamp):
    document = text_event(timestamp=timestamp)
    before = timezone.now()

    (message,) = parse(document).messages

    assert before <= message.timestamp <= timezone.now()


def test_numeric_timestamp_is_accepted_like_the_string_form():
    (message,) = parse(text_event(timestamp=1793589247)).messages

    assert message.timestamp == datetime.fromtimestamp(1793589247, UTC)


def test_status_time_comes_from_its_entry_in_the_status_history():
    (status,) = parse(
        fixture_json("whatsapp.message.read__single"), "whatsapp.message.read"
    ).statuses

    assert status.status == "read"
    assert status.timestamp == datetime.fromtimestamp(1793590860, UTC)
    assert status.recipient_wa_id == CUSTOMER_WA_ID


def test_status_without_history_uses_the_message_time():
    document = fixture_json("whatsapp.message.delivered__single")
    del document["message"]["kapso"]["statuses"]

    (status,) = parse(document, "whatsapp.message.delivered").statuses

    assert status.timestamp == datetime.fromtimestamp(1793590803, UTC)
    assert status.recipient_wa_id == CUSTOMER_WA_ID  # from conversation.phone_number


def test_failed_status_carries_the_meta_error_code_and_reason():
    (status,) = parse(
        fixture_json("whatsapp.message.failed__131047"), "whatsapp.message.failed"
    ).statuses

    assert (status.status, status.error_code) == ("failed", "131047")
    assert status.error_reason.startswith("Re-engagement message: Message failed to send")


def test_unstorable_characters_are_replaced_not_stored():
    document = text_event(text={"body": "a\u0000b\ud800c"})

    (message,) = parse(document).messages

    assert message.text == "a\ufffdb\ufffdc"
    assert message.payload == {"body": "a\ufffdb\ufffdc"}


def test_batch_items_take_the_batch_type_and_errors_name_the_item():
    document = fixture_json("batch__mixed")
    document["data"][1]["message"]["id"] = ""

    with pytest.raises(PayloadError, match=r"^batch item 1: message.id is missing or invalid$"):
        parse(document, batch=True)


def test_batch_header_and_body_type_must_agree():
    with pytest.raises(PayloadError, match="disagree"):
        parse(fixture_json("batch__mixed"), "whatsapp.message.read", batch=True)


def test_batch_type_alone_names_the_event_when_the_header_is_absent():
    delivery = parse(fixture_json("batch__mixed"), "", batch=True)

    assert delivery.event_type == RECEIVED
    assert len(delivery.messages) == 3


def test_empty_batch_is_an_empty_delivery():
    delivery = parse({"type": RECEIVED, "batch": True, "data": []}, batch=True)

    assert (delivery.messages, delivery.statuses, delivery.ignored) == ([], [], [])


def test_huge_batch_is_refused():
    document = {"type": RECEIVED, "batch": True, "data": [{}] * (MAX_BATCH_ITEMS + 1)}

    with pytest.raises(PayloadError, match="more than"):
        parse(document, batch=True)


def test_every_number_the_event_names_is_reported_for_the_channel_check():
    document = text_event()
    document["conversation"]["phone_number_id"] = "555"

    assert parse(document).phone_number_ids == {"123456789012345", "555"}


def _deep(depth):
    value = "x"
    for _ in range(depth):
        value = {"a": value}
    return value


WRONG_SHAPES = {
    "not json": (b"<xml/>", "body is not valid UTF-8 JSON"),
    "NaN literal": (b'{"message": NaN}', "body is not valid UTF-8 JSON"),
    "deep nesting": (b"[" * 100_000 + b"]" * 100_000, "body is not valid UTF-8 JSON"),
    "top-level list": ([text_event()], "body is not a JSON object"),
    "message is a string": ({**text_event(), "message": "hi"}, "message is missing or not"),
    "kapso is a list": (text_event(kapso=[]), "kapso is not an object"),
    "id is a number": (text_event(id=12345), "message.id is missing or invalid"),
    "id has spaces": (text_event(id="wamid 1"), "message.id is missing or invalid"),
    "type missing": (text_event(type=None), "message.type is missing or invalid"),
    "text is a string": (text_event(text="hello"), "message.text is missing or not an object"),
    "contacts not a list": (
        {**text_event(type="contacts", contacts={"name": "x"})},
        "message.contacts is not a list",
    ),
    "infinite number": (
        b'{"message": {"from": "6281234567890", "id": "wamid.1", "type": "location",'
        b' "location": {"latitude": 1e999}}, "phone_number_id": "123456789012345"}',
        "number out of range",
    ),
    "deep payload": (text_event(text={"body": "x", "extra": _deep(40)}), "nested too deeply"),
    "no phone_number_id": (
        {k: v for k, v in text_event().items() if k != "phone_number_id"},
        "phone_number_id is missing or invalid",
    ),
    "bad phone_number_id": ({**text_event(), "phone_number_id": "abc"}, "phone_number_id"),
    "batch without data": ({"type": RECEIVED, "batch": True}, "without a data list"),
    "batch item not object": ({"type": RECEIVED, "batch": True, "data": [1]}, "batch item 0"),
}


@pytest.mark.parametrize("case", sorted(WRONG_SHAPES))
def test_wrong_shape_is_a_payload_error_with_a_safe_message(case):
    document, message = WRONG_SHAPES[case]

    with pytest.raises(PayloadError, match=message) as raised:
        parse(document, batch=case.startswith("batch"))

    assert "6281234567890" not in str(raised.value)  # never echoes payload values
    assert len(str(raised.value)) < 120


@pytest.mark.parametrize(
    "event_type", ["", "WhatsApp Message", "whatsapp.message.réception", "a" * 65]
)
def test_event_type_must_be_present_and_well_formed(event_type):
    with pytest.raises(PayloadError, match="X-Webhook-Event"):
        parse(text_event(), event_type)


def test_future_timestamp_beyond_a_day_is_not_trusted():
    ahead = int((timezone.now() + timedelta(days=3)).timestamp())

    (message,) = parse(text_event(timestamp=str(ahead))).messages

    # Trusting it would hold the 24-hour window open for days.
    assert message.timestamp <= timezone.now()
