from datetime import UTC, datetime

import pytest

from chatdesk.crm.models import Message
from chatdesk.messaging.events import InboundMessage, ParsedDelivery
from chatdesk.messaging.services import webhook_delivery_store
from tests.factories import make_channel


@pytest.mark.django_db
def test_same_delivery_twice_stores_one_message():
    channel = make_channel()
    event = InboundMessage(
        provider_message_id="wamid.1",
        wa_id="6281234567890",
        contact_name="Siti",
        type="text",
        text="Halo, apakah ada beasiswa?",
        payload={"body": "Halo, apakah ada beasiswa?"},
        timestamp=datetime(2026, 11, 1, tzinfo=UTC),
    )
    first = webhook_delivery_store(
        channel=channel, idempotency_key="k1", body=b"{}", delivery=ParsedDelivery([event])
    )
    second = webhook_delivery_store(
        channel=channel, idempotency_key="k1", body=b"{}", delivery=ParsedDelivery([event])
    )
    third = webhook_delivery_store(
        channel=channel, idempotency_key="k2", body=b"{ }", delivery=ParsedDelivery([event])
    )
    assert (first.messages_created, second.duplicate_delivery) == (1, True)
    assert (third.messages_created, third.messages_duplicate) == (0, 1)
    assert Message.objects.for_workspace(channel.workspace).count() == 1
