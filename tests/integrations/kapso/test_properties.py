"""Whatever a correctly signed request carries, the endpoint answers 2xx or 4xx, never 5xx.

The signature is valid in every example on purpose: it is the parser, the storage and the
database constraints behind it that face arbitrary input here. (The test client re-raises any
exception a view lets escape, so a crash fails the example instead of turning into a 500.)
"""

import json

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from chatdesk.integrations.kapso.parser import EVENT_TYPES
from chatdesk.messaging.models import ChannelKind
from tests.factories import make_channel
from tests.integrations.kapso.helpers import (
    OMIT,
    PHONE_NUMBER_ID,
    event_type_of,
    fixture_json,
    fixture_names,
    post,
)

# JSON values, including the characters and numbers that trouble databases: NUL, lone
# surrogates, huge integers, floats at the edge of the range.
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(["", "\x00", "\ud800", "wamid.X", PHONE_NUMBER_ID, "1793589247", "+62 812"])
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)

FIXTURE_NAMES = fixture_names()


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


def _mutate(draw, document):
    """Replace one to three nodes of a real payload with arbitrary JSON: the shapes closest to
    what Kapso sends, and so the likeliest to reach deep into parsing and storage."""
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(list(_paths(document))))
        if not path:
            document = draw(json_values)
            continue
        parent = document
        try:
            for step in path[:-1]:
                parent = parent[step]
            parent[path[-1]] = draw(json_values)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier replacement removed this path
    return document


header_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FF), max_size=40)
any_event_type = st.sampled_from([*EVENT_TYPES, "whatsapp.contact.identity_changed"]) | header_text
any_idempotency_key = st.sampled_from([OMIT, "", "retry-1", "x" * 200]) | header_text


@st.composite
def deliveries(draw):
    """(body, event type header, idempotency key, batch flag), mostly close to a real delivery:
    headers that match the payload 3 times in 4, so most examples get past the header checks."""
    source = draw(st.sampled_from(["fixture", "fixture", "fixture", "json", "bytes"]))
    name = draw(st.sampled_from(FIXTURE_NAMES))
    if source == "fixture":
        document = _mutate(draw, fixture_json(name))
        ascii_only = draw(st.booleans())
        # Lone surrogates written as raw UTF-8 make invalid bytes: the decoder faces them too.
        body = json.dumps(document, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    elif source == "json":
        body = json.dumps(draw(json_values)).encode()
    else:
        body = draw(st.binary(max_size=300))
    event = draw(st.sampled_from([event_type_of(name)] * 3) | any_event_type)
    key = draw(
        st.uuids().map(str) | st.uuids().map(str) | st.uuids().map(str) | any_idempotency_key
    )
    batch = draw(st.sampled_from([name.startswith("batch")] * 3) | st.booleans())
    return body, event, key, batch


@pytest.fixture
def kapso_channel(db):
    return make_channel(kind=ChannelKind.KAPSO, phone_number_id=PHONE_NUMBER_ID)


@pytest.mark.django_db
@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(delivery=deliveries())
def test_any_signed_request_gets_a_2xx_or_4xx_never_a_5xx(client, kapso_channel, delivery):
    body, event_type, key, batch = delivery

    response = post(client, kapso_channel, body, event=event_type, idempotency_key=key, batch=batch)

    assert 200 <= response.status_code < 500
    if response.status_code >= 400:
        assert set(response.json()) == {"error"}
    event(f"HTTP {response.status_code}")  # --hypothesis-show-statistics shows the spread
