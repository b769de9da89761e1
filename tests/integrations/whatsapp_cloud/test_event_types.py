"""The declared event table, the fixtures and the parser stay in sync (Zulip's ALL_EVENT_TYPES):
a type handled but undeclared, declared but without a fixture, or a fixture named after a group it
does not contain, fails here."""

import pytest

from chatdesk.integrations.whatsapp_cloud.parser import (
    EVENT_TYPES,
    IGNORED,
    MESSAGE,
    STATUS,
    UNSUPPORTED,
    parse_body,
)
from tests.integrations.whatsapp_cloud.helpers import fixture_bytes, fixture_names


def test_every_declared_event_type_has_a_fixture():
    seen = set()
    for name in fixture_names():
        seen.update(parse_body(fixture_bytes(name)).event_types)
    assert set(EVENT_TYPES) - seen == set(), "declared event types without a fixture"


def test_every_declared_event_type_has_a_known_outcome():
    assert set(EVENT_TYPES.values()) <= {MESSAGE, UNSUPPORTED, STATUS, IGNORED}


@pytest.mark.parametrize("name", fixture_names())
def test_fixture_contains_only_declared_event_types_and_is_named_after_one(name):
    group, _, variant = name.partition("__")
    assert variant, "fixtures are named <event>__<variant>.json"
    event_types = parse_body(fixture_bytes(name)).event_types
    assert event_types, "a fixture must exercise at least one event type"
    assert set(event_types) <= set(EVENT_TYPES), "fixture produced an undeclared event type"
    assert any(kind.startswith(f"{group}.") for kind in event_types)


@pytest.mark.parametrize("name", fixture_names())
def test_fixture_events_land_where_their_declaration_says(name):
    delivery = parse_body(fixture_bytes(name))
    outcomes = [EVENT_TYPES[kind] for kind in delivery.event_types]
    stored = outcomes.count(MESSAGE) + outcomes.count(UNSUPPORTED)
    assert len(delivery.messages) == stored
    assert sum(m.unsupported for m in delivery.messages) == outcomes.count(UNSUPPORTED)
    assert len(delivery.statuses) == outcomes.count(STATUS)
    assert len(delivery.ignored) == outcomes.count(IGNORED)
