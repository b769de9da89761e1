"""Property-based: whatever a correctly signed body holds, the answer is 2xx or 4xx, never 5xx,
and the parser raises nothing but PayloadError. Bodies are real fixtures with parts deleted or
replaced by arbitrary JSON (which reaches deep into the parser), arbitrary JSON, and raw bytes."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatdesk.integrations.whatsapp_cloud.parser import MAX_ID_LENGTH, parse_body
from chatdesk.messaging.events import PayloadError
from tests.integrations.whatsapp_cloud.helpers import fixture_json, fixture_names, post_signed

EXAMPLES = 200

# Strings JSON can carry but databases choke on: NUL, lone surrogates; and 4-byte characters.
# (Joined from a list: st.text() would merge the two alphabets and almost never pick these.)
_hostile = st.sampled_from(["\x00", "\ud800", "\udfff", "\U0001f64f", "\u202e"])
_text = st.lists(st.characters() | _hostile, max_size=40).map("".join)
_numbers = (
    st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([1749416383, "1749416383", "-1", "99999999999999999999", "1e3", ""])
)
json_values = st.recursive(
    st.none() | st.booleans() | _numbers | _text | _text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_text, children, max_size=4),
    max_leaves=12,
)


def _mutate(draw, node):
    """Follow a random path down (usually to a leaf), then delete or replace what is there."""
    if isinstance(node, str) and draw(st.booleans()):
        return draw(_text)  # same shape, hostile content
    if not isinstance(node, dict | list) or not node:
        return draw(json_values)
    keys = sorted(node) if isinstance(node, dict) else list(range(len(node)))
    # Paths into nested objects are favoured: that is where the message types live.
    weighted = [k for k in keys for _ in range(4 if isinstance(node[k], dict | list) else 1)]
    key = draw(st.sampled_from(weighted))
    copy = dict(node) if isinstance(node, dict) else list(node)
    action = draw(st.sampled_from(["descend"] * 18 + ["delete", "replace"]))
    if action == "descend":
        copy[key] = _mutate(draw, node[key])
    elif action == "delete":
        del copy[key]
    else:
        copy[key] = draw(json_values)
    return copy


@st.composite
def mutated_fixtures(draw):
    document = fixture_json(draw(st.sampled_from(fixture_names())))
    value = document["entry"][0]["changes"][0]["value"]
    items = [key for key in ("messages", "statuses", "contacts") if value.get(key)]
    rounds = range(draw(st.integers(1, 3)))
    if items and draw(st.booleans()):
        # Straight into one message, status or contact: where text reaches the database.
        key = draw(st.sampled_from(items))
        for _ in rounds:
            value[key][0] = _mutate(draw, value[key][0])
    else:
        # The envelope's "object" is checked first and alone; json_values bodies cover it.
        for _ in rounds:
            document["entry"] = _mutate(draw, document["entry"])
    return document


@st.composite
def bodies(draw) -> bytes:
    kind = draw(st.sampled_from(["mutated", "mutated", "mutated", "json", "bytes"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    document = draw(mutated_fixtures()) if kind == "mutated" else draw(json_values)
    text = json.dumps(document, ensure_ascii=draw(st.booleans()))
    return text.encode("utf-8", "surrogatepass")


def _storable(text: str) -> bool:
    """What PostgreSQL accepts in a text or jsonb value: UTF-8 without NUL."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


@settings(max_examples=EXAMPLES, deadline=None)
@given(body=bodies())
def test_parser_raises_only_payload_error_and_yields_storable_events(body):
    try:
        delivery = parse_body(body)
    except PayloadError as error:
        assert 0 < len(str(error)) <= 120
        return
    for message in delivery.messages:
        assert 0 < len(message.provider_message_id) <= MAX_ID_LENGTH
        assert message.wa_id.isdigit() and len(message.wa_id) <= 20
        assert message.timestamp.tzinfo is not None
        for text in (message.text, message.contact_name, message.type, message.media_id):
            assert _storable(text)
        json.dumps(message.payload, allow_nan=False)  # no NaN/Infinity: jsonb refuses them
        assert all(_storable(text) for text in _strings(message.payload))
    for status in delivery.statuses:
        assert 0 < len(status.provider_message_id) <= MAX_ID_LENGTH
        assert _storable(status.error_reason)


@pytest.mark.django_db
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=bodies())
def test_any_correctly_signed_body_gets_a_2xx_or_4xx_answer(client, channel, body):
    # The test client re-raises any exception from the view, so a 5xx cannot hide.
    response = post_signed(client, channel, body)

    assert 200 <= response.status_code < 500
