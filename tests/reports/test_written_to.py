""" "Conversations written to in a range" comes from `last_inbound_at`: the ingest path keeps it
at the latest customer message (even out of order), and crm migration 0007 moves forward any
conversation whose value lags its messages."""

import importlib
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from chatdesk.crm.models import Conversation, Direction, Message
from chatdesk.messaging.events import InboundMessage
from chatdesk.messaging.services import message_store_inbound
from chatdesk.reports.first_response import conversations_written_to
from tests.crm.builders import contact_make, conversation_make, message_make
from tests.factories import make_channel

pytestmark = pytest.mark.django_db

DAY = datetime(2026, 5, 15, tzinfo=UTC)


def customer_writes(channel, wa_id: str, when: datetime, n: int) -> None:
    message_store_inbound(
        channel=channel,
        event=InboundMessage(
            provider_message_id=f"wamid.{wa_id}.{n}",
            wa_id=wa_id,
            contact_name="Siti",
            type="text",
            text="halo",
            payload={"body": "halo"},
            timestamp=when,
        ),
    )


def written_by_messages(workspace, since, until) -> set[int]:
    return set(
        Message.objects.for_workspace(workspace)
        .filter(
            direction=Direction.INBOUND,
            is_private_note=False,
            provider_timestamp__gte=since,
            provider_timestamp__lt=until,
        )
        .values_list("conversation_id", flat=True)
    )


def test_written_to_equals_the_message_definition_for_messages_stored_out_of_order(world_a):
    channel = make_channel(world_a.workspace)
    # Deliveries out of order: the later message first, then one from two days earlier.
    customer_writes(channel, "6281100000001", DAY + timedelta(hours=5), 1)
    customer_writes(channel, "6281100000001", DAY - timedelta(days=2), 2)
    customer_writes(channel, "6281100000002", DAY - timedelta(days=2), 3)
    customer_writes(channel, "6281100000003", DAY + timedelta(hours=23, minutes=59), 4)
    for since, until in [
        (DAY, DAY + timedelta(days=1)),
        (DAY - timedelta(days=2), DAY + timedelta(days=1)),
        (DAY - timedelta(days=1), DAY),
    ]:
        got = set(
            conversations_written_to(
                workspace=world_a.workspace, since=since, until=until
            ).values_list("pk", flat=True)
        )
        assert got == written_by_messages(world_a.workspace, since, until)


def test_migration_0007_moves_a_lagging_last_inbound_forward_and_never_back(world_a):
    migration = importlib.import_module("chatdesk.crm.migrations.0007_conversation_written_index")
    ws = world_a.workspace
    lagging = conversation_make(ws, contact_make(ws))  # messages, but no clock at all
    message_make(lagging, at=DAY)
    message_make(lagging, at=DAY + timedelta(hours=2))
    message_make(lagging, at=DAY + timedelta(hours=3), direction=Direction.OUTBOUND)
    ahead = conversation_make(ws, contact_make(ws), last_inbound_at=DAY + timedelta(days=1))
    message_make(ahead, at=DAY)
    silent = conversation_make(ws, contact_make(ws))
    with connection.cursor() as cursor:
        cursor.execute(migration.MOVE_LAST_INBOUND_FORWARD)
    clocks = dict(Conversation.objects.for_workspace(ws).values_list("pk", "last_inbound_at"))
    assert clocks[lagging.pk] == DAY + timedelta(hours=2)  # the latest customer message
    assert clocks[ahead.pk] == DAY + timedelta(days=1)  # never moved back
    assert clocks[silent.pk] is None
