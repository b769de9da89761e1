"""A delivery is stored on the fast path (no savepoints) unless one of its rows exists already,
then on the careful path (a savepoint per row). Both must leave the same rows: each case here
runs both ways. The careful path is reached the way production reaches it: the delivery also
carries a message that was stored before (a wamid Meta re-sent in another body)."""

from datetime import UTC, datetime, timedelta

import pytest

from chatdesk.crm.models import Contact, Conversation, ConversationStatus, Message
from chatdesk.messaging.events import InboundMessage, ParsedDelivery, StatusUpdate
from chatdesk.messaging.models import StatusReport
from chatdesk.messaging.services import webhook_delivery_store
from tests.factories import make_channel

CUSTOMER = "6281234567890"
OTHER_CUSTOMER = "6200000000001"  # sends the already-stored message on the careful path
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)

_keys = iter(range(1, 1_000_000))


def inbound(
    wamid: str,
    *,
    at: datetime = T0,
    wa_id: str = CUSTOMER,
    name: str = "Siti",
    unsupported: bool = False,
) -> InboundMessage:
    return InboundMessage(
        provider_message_id=wamid,
        wa_id=wa_id,
        contact_name=name,
        type="unsupported" if unsupported else "text",
        text="[unsupported message]" if unsupported else "Halo",
        payload={},
        timestamp=at,
        unsupported=unsupported,
    )


@pytest.fixture(params=["fast", "careful"])
def store(request, db):
    """store(channel, *events) -> IngestResult, on the path the test is parametrised with."""
    seen: set[int] = set()

    def store(channel, *events, statuses=()):
        events = list(events)
        if request.param == "careful":
            already = inbound("wamid.stored-before", wa_id=OTHER_CUSTOMER)
            if channel.pk not in seen:
                seen.add(channel.pk)
                _deliver(channel, [already])
            events.insert(0, already)
        result = _deliver(channel, events, list(statuses))
        if request.param == "careful":
            assert result.messages_duplicate >= 1  # the careful path ran
            result.messages_duplicate -= 1
        return result

    store.path = request.param
    return store


def _deliver(channel, messages, statuses=()):
    return webhook_delivery_store(
        channel=channel,
        idempotency_key=f"key-{next(_keys)}",
        body=b"{}",
        delivery=ParsedDelivery(messages=messages, statuses=list(statuses)),
    )


def thread(channel, wa_id: str = CUSTOMER) -> Conversation:
    return Conversation.objects.for_workspace(channel.workspace).get(
        channel=channel, contact__wa_id=wa_id
    )


def test_a_new_customer_gets_a_contact_and_a_thread_whose_clocks_are_the_message_time(store):
    channel = make_channel()

    result = store(channel, inbound("wamid.1", at=T0))

    assert (result.messages_created, result.messages_duplicate) == (1, 0)
    contact = Contact.objects.for_workspace(channel.workspace).get(wa_id=CUSTOMER)
    assert (contact.phone, contact.name) == ("+" + CUSTOMER, "Siti")
    conversation = thread(channel)
    assert conversation.contact_id == contact.pk
    assert (conversation.last_message_at, conversation.last_inbound_at) == (T0, T0)
    assert (conversation.unread_count, conversation.status) == (1, ConversationStatus.OPEN)
    assert not conversation.needs_human and not conversation.needs_template
    message = Message.objects.for_workspace(channel.workspace).get(provider_message_id="wamid.1")
    assert message.conversation_id == conversation.pk


def test_two_messages_of_a_new_customer_in_one_delivery_share_one_thread(store):
    channel = make_channel()

    result = store(
        channel,
        inbound("wamid.1", at=T0 + timedelta(seconds=5)),
        inbound("wamid.2", at=T0),
    )

    assert result.messages_created == 2
    assert Contact.objects.for_workspace(channel.workspace).filter(wa_id=CUSTOMER).count() == 1
    conversation = thread(channel)
    assert conversation.unread_count == 2
    assert conversation.last_inbound_at == T0 + timedelta(seconds=5)


def test_a_late_delivery_never_moves_the_clocks_back_but_still_counts_as_unread(store):
    channel = make_channel()
    store(channel, inbound("wamid.new", at=T0 + timedelta(minutes=5)))

    store(channel, inbound("wamid.old", at=T0))

    conversation = thread(channel)
    assert conversation.last_message_at == T0 + timedelta(minutes=5)
    assert conversation.last_inbound_at == T0 + timedelta(minutes=5)
    assert conversation.unread_count == 2


def test_a_new_message_reopens_a_resolved_thread_and_leaves_a_pending_one_pending(store):
    channel = make_channel()
    store(channel, inbound("wamid.1", at=T0))
    store(channel, inbound("wamid.2", at=T0, wa_id="6281111111111"))
    Conversation.objects.for_workspace(channel.workspace).filter(contact__wa_id=CUSTOMER).update(
        status=ConversationStatus.RESOLVED
    )
    Conversation.objects.for_workspace(channel.workspace).filter(
        contact__wa_id="6281111111111"
    ).update(status=ConversationStatus.PENDING)

    store(channel, inbound("wamid.3", at=T0 + timedelta(minutes=1)))
    store(channel, inbound("wamid.4", at=T0 + timedelta(minutes=1), wa_id="6281111111111"))

    assert thread(channel).status == ConversationStatus.OPEN
    assert thread(channel, "6281111111111").status == ConversationStatus.PENDING


def test_only_a_newer_customer_message_clears_the_needs_template_flag(store):
    channel = make_channel()
    store(channel, inbound("wamid.1", at=T0))
    Conversation.objects.for_workspace(channel.workspace).update(needs_template=True)

    store(channel, inbound("wamid.late", at=T0 - timedelta(hours=1)))
    assert thread(channel).needs_template is True

    store(channel, inbound("wamid.2", at=T0 + timedelta(hours=1)))
    assert thread(channel).needs_template is False


def test_an_unsupported_message_flags_the_thread_for_a_human_and_a_later_text_keeps_it(store):
    channel = make_channel()
    store(channel, inbound("wamid.1", at=T0))
    assert thread(channel).needs_human is False

    store(channel, inbound("wamid.2", at=T0 + timedelta(seconds=1), unsupported=True))
    assert thread(channel).needs_human is True

    store(channel, inbound("wamid.3", at=T0 + timedelta(seconds=2)))
    assert thread(channel).needs_human is True


def test_a_first_message_that_is_unsupported_opens_a_thread_flagged_for_a_human(store):
    channel = make_channel()

    store(channel, inbound("wamid.1", unsupported=True))

    assert thread(channel).needs_human is True


def test_a_customer_known_from_another_number_keeps_one_contact_and_gets_a_thread_here(store):
    first = make_channel()
    second = make_channel(first.workspace)
    store(first, inbound("wamid.1", name=""))

    store(second, inbound("wamid.2", name="Siti Rahma"))

    contact = Contact.objects.for_workspace(first.workspace).get(wa_id=CUSTOMER)
    assert contact.name == "Siti Rahma"  # an empty name is filled from the provider
    assert thread(second).contact_id == thread(first).contact_id == contact.pk


def test_a_name_someone_set_is_kept(store):
    channel = make_channel()
    store(channel, inbound("wamid.1", name="Siti"))
    Contact.objects.for_workspace(channel.workspace).filter(wa_id=CUSTOMER).update(
        name="Ibu Siti (VIP)"
    )

    store(channel, inbound("wamid.2", name="Siti"))

    contact = Contact.objects.for_workspace(channel.workspace).get(wa_id=CUSTOMER)
    assert contact.name == "Ibu Siti (VIP)"


def test_a_wamid_stored_before_is_skipped_and_the_rest_of_the_delivery_stored(store):
    channel = make_channel()
    store(channel, inbound("wamid.1", at=T0))

    result = store(
        channel, inbound("wamid.1", at=T0), inbound("wamid.2", at=T0 + timedelta(seconds=1))
    )

    assert (result.messages_created, result.messages_duplicate) == (1, 1)
    assert thread(channel).unread_count == 2
    wamids = Message.objects.for_workspace(channel.workspace).values_list(
        "provider_message_id", flat=True
    )
    assert sorted(wamids) == sorted(
        ["wamid.1", "wamid.2"] + (["wamid.stored-before"] if store.path == "careful" else [])
    )


def test_a_status_received_twice_in_different_deliveries_is_kept_once(store):
    channel = make_channel()
    status = StatusUpdate(provider_message_id="wamid.OUT1", status="delivered", timestamp=T0)

    first = store(channel, statuses=[status])
    second = store(channel, statuses=[status])

    assert (first.statuses_created, second.statuses_created) == (1, 0)
    assert StatusReport.objects.for_workspace(channel.workspace).count() == 1
