"""The simulator as a real HTTP peer of the running app: signed webhooks in, real sends out.

Every test runs chatdesk's own webhook endpoints (served over HTTP) and its own outbound path
(`message_send_text` -> `message_deliver` job -> provider adapter) against the simulator.
"""

from __future__ import annotations

import httpx
import pytest
from django.core.management import call_command

from chatdesk.crm.models import Conversation, Direction, Message, MessageStatus
from chatdesk.jobs.testing import drain
from chatdesk.messaging.models import ChannelKind, StatusReport, WebhookEvent
from chatdesk.messaging.outbound import DeliverOutcome, message_deliver_once, message_send_text
from tests.devtools.helpers import wait_until
from tests.factories import make_channel

CUSTOMER = "6281234567890"


def control(simulator, method: str, path: str, **kwargs) -> dict:
    response = httpx.request(method, f"{simulator.url}{path}", timeout=5, **kwargs)
    assert response.is_success, response.text
    return response.json()


def customer_writes(simulator, text: str | None = None, **extra) -> list[str]:
    body = {"from": f"+{CUSTOMER}", "name": "Siti Rahma", **extra}
    if text is not None:
        body["text"] = text
    return control(simulator, "POST", "/control/customer-message", json=body)["wamids"]


def inbound(channel):
    return Message.objects.for_workspace(channel.workspace).filter(
        channel=channel, direction=Direction.INBOUND
    )


def open_conversation(simulator, channel) -> Conversation:
    """The customer writes first, as in real life: that opens the 24-hour window."""
    customer_writes(simulator, "Halo")
    return wait_until(
        lambda: (
            Conversation.objects.for_workspace(channel.workspace)
            .filter(channel=channel, last_inbound_at__isnull=False)
            .first()
        ),
        what="the customer's conversation",
    )


def status_of(message: Message) -> str:
    message.refresh_from_db()
    return message.status


def received(simulator, text: str) -> int:
    entry = control(simulator, "GET", "/control/state")["sent_by_text"].get(text)
    return entry["count"] if entry else 0


def test_a_message_typed_as_the_customer_is_stored_once_for_that_contact(start_simulator):
    channel = make_channel()
    simulator = start_simulator(channel)

    [wamid] = customer_writes(simulator, "Apakah beasiswa masih dibuka? Terima kasih 🙏 é")

    message = wait_until(lambda: inbound(channel).first(), what="the stored message")
    assert simulator.emitter.wait_idle(timeout=5)
    assert inbound(channel).count() == 1
    assert message.provider_message_id == wamid
    assert message.text == "Apakah beasiswa masih dibuka? Terima kasih 🙏 é"
    contact = message.conversation.contact
    assert (contact.wa_id, contact.name) == (CUSTOMER, "Siti Rahma")
    assert message.conversation.channel_id == channel.pk
    [delivery] = control(simulator, "GET", "/control/state")["webhooks"]["recent"]
    assert delivery["status_code"] == 200


def test_a_reply_reaches_the_simulator_once_and_its_statuses_move_it_to_read(start_simulator):
    channel = make_channel()
    simulator = start_simulator(channel)
    conversation = open_conversation(simulator, channel)

    reply = message_send_text(conversation=conversation, text="Halo Siti, masih dibuka!")
    drain(queues=["outbound"])

    wait_until(lambda: status_of(reply) == MessageStatus.READ, what="the read status")
    assert simulator.emitter.wait_idle(timeout=5)
    state = control(simulator, "GET", "/control/state")
    sent = state["sent_by_text"]["Halo Siti, masih dibuka!"]
    assert sent["count"] == 1
    assert reply.provider_message_id == sent["wamids"][0]
    [thread] = state["conversations"]
    assert [(m["direction"], m["status"]) for m in thread["messages"]] == [
        ("in", "sent"),
        ("out", "read"),
    ]


def test_processing_a_customer_message_shows_it_read_on_the_customer_side(start_simulator):
    channel = make_channel()
    simulator = start_simulator(channel)
    [wamid] = customer_writes(simulator, "Sudah dibaca?")
    wait_until(lambda: inbound(channel).exists(), what="the stored message")

    drain(queues=["inbound"])
    drain(queues=["outbound"])  # the read receipt

    state = control(simulator, "GET", "/control/state")
    [message] = state["conversations"][0]["messages"]
    assert (message["wamid"], message["status"]) == (wamid, "read")
    assert state["counters"]["mark_read"] == 1


def test_an_agent_reply_from_the_reply_command_reaches_the_simulator_once(start_simulator):
    channel = make_channel()
    simulator = start_simulator(channel)
    conversation = open_conversation(simulator, channel)

    call_command("reply", "--conversation", str(conversation.pk), "--text", "Dari terminal")
    drain(queues=["outbound"])
    drain(queues=["outbound"])  # a second run of the queue finds nothing to send again

    assert received(simulator, "Dari terminal") == 1


def test_duplicated_webhook_deliveries_store_one_message(start_simulator):
    channel = make_channel()
    simulator = start_simulator(channel)
    control(simulator, "POST", "/control/faults", json={"duplicates": 5})

    [wamid] = customer_writes(simulator, "Sekali saja")

    assert simulator.emitter.wait_idle(timeout=10)
    deliveries = [
        w
        for w in control(simulator, "GET", "/control/state")["webhooks"]["recent"]
        if wamid in w["label"]
    ]
    assert [w["status_code"] for w in deliveries] == [200] * 5
    assert inbound(channel).count() == 1
    assert WebhookEvent.objects.for_workspace(channel.workspace).count() == 1


def test_reordered_and_duplicated_statuses_still_end_at_read(start_simulator):
    channel = make_channel()
    simulator = start_simulator(channel)
    conversation = open_conversation(simulator, channel)
    control(
        simulator,
        "POST",
        "/control/faults",
        json={"reorder": True, "duplicates": 3, "status_interval_ms": 50},
    )

    reply = message_send_text(conversation=conversation, text="Urutan acak")
    drain(queues=["outbound"])

    assert simulator.emitter.wait_idle(timeout=10)
    assert status_of(reply) == MessageStatus.READ
    reports = StatusReport.objects.for_workspace(channel.workspace).filter(
        provider_message_id=reply.provider_message_id
    )
    assert sorted(reports.values_list("status", flat=True)) == ["delivered", "read", "sent"]
    assert received(simulator, "Urutan acak") == 1


def test_a_rate_limit_error_on_the_first_send_is_retried_and_arrives_exactly_once(
    start_simulator,
):
    channel = make_channel()
    simulator = start_simulator(channel)
    conversation = open_conversation(simulator, channel)
    control(simulator, "POST", "/control/faults", json={"errors": ["130429"]})

    reply = message_send_text(conversation=conversation, text="Coba lagi")
    drain(queues=["outbound"], include_delayed=True)

    state = control(simulator, "GET", "/control/state")
    assert state["counters"]["sends_refused"] == 1
    assert state["sent_by_text"]["Coba lagi"]["count"] == 1
    reply.refresh_from_db()
    assert reply.send_attempts == 2
    assert reply.provider_message_id == state["sent_by_text"]["Coba lagi"]["wamids"][0]
    wait_until(lambda: status_of(reply) == MessageStatus.READ, what="the read status")


@pytest.mark.parametrize("fault", ["http_503", "http_429", "131056"])
def test_transient_provider_failures_are_retried_until_the_reply_arrives_once(
    start_simulator, fault
):
    channel = make_channel()
    simulator = start_simulator(channel)
    conversation = open_conversation(simulator, channel)
    control(simulator, "POST", "/control/faults", json={"errors": [fault, fault]})

    message_send_text(conversation=conversation, text=f"Setelah {fault}")
    drain(queues=["outbound"], include_delayed=True)

    state = control(simulator, "GET", "/control/state")
    assert state["counters"]["sends_refused"] == 2
    assert state["sent_by_text"][f"Setelah {fault}"]["count"] == 1


def test_outside_the_window_error_is_not_retried_and_asks_for_a_template(start_simulator):
    channel = make_channel()
    simulator = start_simulator(channel)
    conversation = open_conversation(simulator, channel)
    control(simulator, "POST", "/control/faults", json={"errors": ["131047"]})

    reply = message_send_text(conversation=conversation, text="Terlambat")
    drain(queues=["outbound"], include_delayed=True)

    reply.refresh_from_db()
    conversation.refresh_from_db()
    assert (reply.status, reply.error_code) == (MessageStatus.FAILED, "131047")
    assert conversation.needs_template
    state = control(simulator, "GET", "/control/state")
    assert state["counters"]["sends_refused"] == 1
    assert "Terlambat" not in state["sent_by_text"]


def test_an_undeliverable_message_reported_by_webhook_is_marked_failed(start_simulator):
    channel = make_channel()
    simulator = start_simulator(channel)
    conversation = open_conversation(simulator, channel)
    control(
        simulator, "POST", "/control/faults", json={"errors": [{"code": 131026, "mode": "async"}]}
    )

    reply = message_send_text(conversation=conversation, text="Tidak sampai")
    drain(queues=["outbound"])

    wait_until(lambda: status_of(reply) == MessageStatus.FAILED, what="the failed status")
    assert reply.error_code == "131026"
    assert "undeliverable" in reply.error_reason.lower()


def test_a_send_that_times_out_after_reaching_the_provider_is_never_sent_again(
    start_simulator,
):
    channel = make_channel()
    simulator = start_simulator(channel)
    conversation = open_conversation(simulator, channel)
    control(
        simulator, "POST", "/control/faults", json={"errors": [{"code": "timeout", "seconds": 1}]}
    )
    reply = message_send_text(conversation=conversation, text="Lambat")

    # chatdesk's real read timeout is 10 s; a short one keeps the test fast, same code path.
    with httpx.Client(timeout=httpx.Timeout(0.3)) as impatient:
        outcome, _ = message_deliver_once(message_id=reply.pk, client=impatient)
    drain(queues=["outbound"], include_delayed=True)  # the queued job finds nothing to redo

    assert outcome == DeliverOutcome.FAILED
    wait_until(lambda: received(simulator, "Lambat") == 1, what="the held send to be accepted")
    assert simulator.emitter.wait_idle(timeout=5)
    assert received(simulator, "Lambat") == 1
    assert status_of(reply) == MessageStatus.FAILED


def test_kapso_messages_batches_and_replies_round_trip(start_simulator):
    channel = make_channel(kind=ChannelKind.KAPSO)
    simulator = start_simulator(channel)

    wamids = customer_writes(simulator, texts=["Satu", "Dua", "Tiga"])
    wait_until(lambda: inbound(channel).count() == 3, what="the batch to be stored")
    assert sorted(inbound(channel).values_list("provider_message_id", flat=True)) == sorted(wamids)
    assert WebhookEvent.objects.for_workspace(channel.workspace).count() == 1

    conversation = Conversation.objects.for_workspace(channel.workspace).get(channel=channel)
    reply = message_send_text(conversation=conversation, text="Balasan lewat Kapso")
    drain(queues=["outbound"])

    wait_until(lambda: status_of(reply) == MessageStatus.READ, what="the read status")
    assert received(simulator, "Balasan lewat Kapso") == 1


def test_webhooks_signed_with_another_secret_are_refused_and_the_simulator_shows_it(
    start_simulator,
):
    channel = make_channel()
    channel.signing_secret = "a-secret-the-app-does-not-have"  # not saved: only the simulator
    simulator = start_simulator(channel)

    customer_writes(simulator, "Palsu")

    assert simulator.emitter.wait_idle(timeout=5)
    [delivery] = control(simulator, "GET", "/control/state")["webhooks"]["recent"]
    assert delivery["status_code"] == 401
    assert inbound(channel).count() == 0
