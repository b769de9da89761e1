"""The declared event table and the fixtures stay in sync (Zulip's ALL_EVENT_TYPES pattern):
adding a handler without a real payload, or a payload nobody declared, fails here."""

import pytest

from chatdesk.integrations.kapso.parser import EVENT_TYPES, MESSAGE_TYPES, parse_delivery
from chatdesk.messaging.events import IgnoredEvent, InboundMessage, StatusUpdate
from tests.integrations.kapso.helpers import (
    event_type_of,
    fixture_bytes,
    fixture_json,
    fixture_names,
)

# What each fixture must become. A new fixture needs a line here, so it is always asserted on.
EXPECTED_OUTCOME = {
    "batch__mixed": [InboundMessage, InboundMessage, InboundMessage],
    "whatsapp.conversation.created__single": [IgnoredEvent],
    "whatsapp.conversation.ended__single": [IgnoredEvent],
    "whatsapp.conversation.inactive__single": [IgnoredEvent],
    "whatsapp.message.delivered__single": [StatusUpdate],
    "whatsapp.message.failed__131026": [StatusUpdate],
    "whatsapp.message.failed__131047": [StatusUpdate],
    "whatsapp.message.read__single": [StatusUpdate],
    "whatsapp.message.sent__single": [StatusUpdate],
    "whatsapp.message.received__audio": [InboundMessage],
    "whatsapp.message.received__button": [InboundMessage],
    "whatsapp.message.received__contacts": [InboundMessage],
    "whatsapp.message.received__document": [InboundMessage],
    "whatsapp.message.received__image": [InboundMessage],
    "whatsapp.message.received__interactive_button_reply": [InboundMessage],
    "whatsapp.message.received__interactive_list_reply": [InboundMessage],
    "whatsapp.message.received__location": [InboundMessage],
    "whatsapp.message.received__non_ascii": [InboundMessage],
    "whatsapp.message.received__order": [InboundMessage],
    "whatsapp.message.received__outbound_echo": [IgnoredEvent],
    "whatsapp.message.received__reaction": [InboundMessage],
    "whatsapp.message.received__reply": [InboundMessage],
    "whatsapp.message.received__sticker": [InboundMessage],
    "whatsapp.message.received__system": [InboundMessage],
    "whatsapp.message.received__text": [InboundMessage],
    "whatsapp.message.received__unknown_type": [InboundMessage],
    "whatsapp.message.received__unsupported": [InboundMessage],
    "whatsapp.message.received__video": [InboundMessage],
    "whatsapp.message.received__without_from": [InboundMessage],
}


def test_every_declared_event_type_has_a_fixture():
    covered = {event_type_of(name) for name in fixture_names()}
    assert set(EVENT_TYPES) - covered == set()


def test_every_fixture_is_of_a_declared_event_type():
    undeclared = {name for name in fixture_names() if event_type_of(name) not in EVENT_TYPES}
    assert undeclared == set()


def test_every_fixture_has_an_expected_outcome_and_every_expectation_a_fixture():
    assert set(fixture_names()) == set(EXPECTED_OUTCOME)


def test_every_declared_message_type_has_a_received_fixture():
    received = [n for n in fixture_names() if n.startswith("whatsapp.message.received__")]
    covered = {fixture_json(name)["message"]["type"] for name in received}
    assert set(MESSAGE_TYPES) - covered == set()
    # ...and one real type we do not know, to prove it is stored rather than dropped.
    assert covered - set(MESSAGE_TYPES)


@pytest.mark.parametrize("name", sorted(EXPECTED_OUTCOME))
def test_fixture_parses_to_its_expected_events(name):
    delivery = parse_delivery(
        body=fixture_bytes(name), event_type=event_type_of(name), batch=name.startswith("batch")
    )
    events = [*delivery.messages, *delivery.statuses, *delivery.ignored]
    assert [type(event) for event in events] == EXPECTED_OUTCOME[name]
    assert delivery.event_type == event_type_of(name)
    assert delivery.phone_number_ids == {"123456789012345"}
