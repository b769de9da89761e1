"""The parser on shapes Meta should never send: a short PayloadError naming the field, never
its value; and on odd but valid content: stored in a form every database accepts."""

import json
from datetime import UTC, datetime

import pytest

from chatdesk.integrations.whatsapp_cloud.parser import parse_body
from chatdesk.messaging.events import PayloadError
from tests.integrations.whatsapp_cloud.helpers import fixture_json


def _text_message_with(**changes) -> bytes:
    """The documented text-message fixture with fields of its message replaced (None deletes)."""
    document = fixture_json("messages__text")
    message = document["entry"][0]["changes"][0]["value"]["messages"][0]
    for key, value in changes.items():
        if value is None:
            message.pop(key)
        else:
            message[key] = value
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"id": None}, "message.id is not a string"),
        ({"id": 12345}, "message.id is not a string"),
        ({"id": ""}, "message.id is empty or too long"),
        ({"id": "wamid." + "A" * 200}, "message.id is empty or too long"),
        ({"timestamp": None}, "message.timestamp is not unix seconds"),
        ({"timestamp": "yesterday"}, "message.timestamp is not unix seconds"),
        ({"timestamp": "1749416383.5"}, "message.timestamp is not unix seconds"),
        ({"timestamp": "\u0661\u0662\u0663"}, "message.timestamp is not unix seconds"),
        ({"timestamp": True}, "message.timestamp is not unix seconds"),
        ({"timestamp": "99999999999"}, "message.timestamp is out of range"),
        ({"timestamp": "0"}, "message.timestamp is out of range"),
        ({"type": None}, "message.type is not a string"),
        ({"type": ["text"]}, "message.type is not a string"),
        ({"from": "not-a-number"}, "message.from is not a phone number"),
        ({"from": "1" * 21}, "message.from is not a phone number"),
        ({"from": 16505551234}, "message.from is not a string"),
        ({"text": "just a string"}, "text is not an object"),
        ({"text": {"body": 42}}, "text.body is not a string"),
        ({"context": "wamid.x"}, "message.context is not an object"),
        ({"errors": {"code": 1}}, "message.errors is not a list"),
    ],
)
def test_wrong_shape_raises_a_payload_error_naming_the_field(changes, error):
    with pytest.raises(PayloadError) as raised:
        parse_body(_text_message_with(**changes))

    assert str(raised.value) == error


def test_error_messages_never_quote_the_body():
    secret_looking = "EAAG-token-that-must-not-be-echoed"
    with pytest.raises(PayloadError) as raised:
        parse_body(_text_message_with(type=[secret_looking], text=secret_looking))

    assert secret_looking not in str(raised.value)


def test_timestamp_is_read_as_utc_unix_seconds_from_string_or_number():
    as_string = parse_body(_text_message_with(timestamp="1749416383")).messages[0]
    as_number = parse_body(_text_message_with(timestamp=1749416383)).messages[0]

    expected = datetime(2025, 6, 8, 20, 59, 43, tzinfo=UTC)
    assert as_string.timestamp == as_number.timestamp == expected


def test_nul_characters_and_lone_surrogates_become_storable_text():
    raw = _text_message_with(text={"body": "PLACEHOLDER"}).replace(
        b"PLACEHOLDER", b"a\\u0000b \\ud800 ok \\ud83d\\ude4f"
    )

    message = parse_body(raw).messages[0]

    assert message.text == "ab \ufffd ok \U0001f64f"
    assert message.payload["body"] == message.text


def test_a_leading_plus_in_the_sender_is_tolerated():
    message = parse_body(_text_message_with(**{"from": "+16505551234"})).messages[0]

    assert message.wa_id == "16505551234"
    assert message.contact_name == "Sheena Nelson"


def test_media_without_an_id_is_kept_and_flagged_for_a_human():
    image = {"mime_type": "image/jpeg", "caption": "foto KTP"}

    message = parse_body(_text_message_with(type="image", text=None, image=image)).messages[0]

    assert (message.text, message.media_id, message.unsupported) == ("foto KTP", "", True)


def test_a_known_type_without_its_content_is_kept_and_flagged():
    message = parse_body(_text_message_with(text=None)).messages[0]

    assert (message.type, message.unsupported) == ("text", True)


def test_location_without_name_shows_the_coordinates():
    location = {"latitude": -6.2, "longitude": 106.816666}

    message = parse_body(_text_message_with(type="location", text=None, location=location))

    assert message.messages[0].text == "[location] (-6.2, 106.816666)"


def test_location_coordinates_must_be_numbers():
    location = {"latitude": "-6.2", "longitude": 106.8}

    with pytest.raises(PayloadError, match=r"location\.latitude is not a number"):
        parse_body(_text_message_with(type="location", text=None, location=location))


def test_every_phone_number_id_named_is_reported_for_the_channel_check():
    delivery = parse_body(json.dumps(fixture_json("messages__batch")).encode())

    assert delivery.phone_number_ids == {"106540352242922"}


def test_status_error_code_is_a_string_and_the_reason_joins_title_and_details():
    status = parse_body(json.dumps(fixture_json("statuses__failed_131026")).encode()).statuses[0]

    assert (status.error_code, status.error_reason) == (
        "131026",
        "Message undeliverable: Message Undeliverable.",
    )
