"""What one webhook costs in queries is pinned here: a change that adds a query to the ingest
path fails these tests. If the query is worth it, update the count and say why in the comment
(bench/ingest_profile.py measures the time; BENCH_SHOW_QUERIES=1 lists the statements)."""

import pytest

from chatdesk.crm.models import Contact, Conversation, Message
from tests.factories import make_channel
from tests.integrations.whatsapp_cloud.helpers import FIXTURE_PHONE_NUMBER_ID, post_signed
from tests.messaging.payloads import meta_text

KNOWN_CUSTOMER = "6281234567890"


@pytest.fixture
def warm_channel(db, client, django_capture_on_commit_callbacks):
    """A channel that has received a webhook from KNOWN_CUSTOMER: its row is cached by this
    process and its "last webhook" time was just written (committed, so the next deliveries
    within the interval do not write it again), as in a server under steady traffic."""
    channel = make_channel(phone_number_id=FIXTURE_PHONE_NUMBER_ID)
    with django_capture_on_commit_callbacks(execute=True):
        body = meta_text(wa_id=KNOWN_CUSTOMER, wamid="wamid.warm")
        assert post_signed(client, channel, body).status_code == 200
    return channel


def test_a_message_from_a_known_customer_costs_eight_queries(
    client, warm_channel, django_assert_num_queries
):
    body = meta_text(wa_id=KNOWN_CUSTOMER, wamid="wamid.next")

    # Transaction start, raw event, contact, conversation (locked), message, the thread's
    # clocks and unread count, processing job, transaction end. In a test the transaction is a
    # savepoint; in production BEGIN and COMMIT: the same count.
    with django_assert_num_queries(8):
        response = post_signed(client, warm_channel, body)

    assert response.status_code == 200
    conversation = Conversation.objects.for_workspace(warm_channel.workspace).get()
    assert conversation.unread_count == 2
    assert Message.objects.for_workspace(warm_channel.workspace).count() == 2


def test_a_message_from_a_new_customer_costs_eight_queries(
    client, warm_channel, django_assert_num_queries
):
    body = meta_text(wa_id="6289876543210", wamid="wamid.first")

    # As above, but the contact lookup finds nothing: the contact is created, then the
    # conversation with its clocks already set (no conversation lookup, no UPDATE).
    with django_assert_num_queries(8):
        response = post_signed(client, warm_channel, body)

    assert response.status_code == 200
    assert Contact.objects.for_workspace(warm_channel.workspace).count() == 2
    conversation = Conversation.objects.for_workspace(warm_channel.workspace).get(
        contact__wa_id="6289876543210"
    )
    assert conversation.unread_count == 1
    assert conversation.last_inbound_at == conversation.last_message_at


def test_a_known_customer_writing_to_another_number_costs_eight_queries(
    client, warm_channel, django_assert_num_queries, django_capture_on_commit_callbacks
):
    other = make_channel(warm_channel.workspace, phone_number_id="106540352299999")
    with django_capture_on_commit_callbacks(execute=True):
        body = meta_text(wa_id="6281111111111", wamid="wamid.o1", phone_number_id="106540352299999")
        assert post_signed(client, other, body).status_code == 200

    body = meta_text(wa_id=KNOWN_CUSTOMER, wamid="wamid.o2", phone_number_id="106540352299999")
    # The contact is found, its conversation on this number is not: created with its clocks.
    with django_assert_num_queries(8):
        response = post_signed(client, other, body)

    assert response.status_code == 200
    contact = Contact.objects.for_workspace(warm_channel.workspace).get(wa_id=KNOWN_CUSTOMER)
    assert contact.conversations.count() == 2
