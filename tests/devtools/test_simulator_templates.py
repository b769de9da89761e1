"""Template sends through the simulator: accepted on both provider URLs, shown with their
parameters, and (end to end) an agent's template outside the 24-hour window arrives once."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from chatdesk.crm.models import Conversation, MessageStatus
from chatdesk.jobs.testing import drain
from chatdesk.messaging.models import ChannelKind, MessageTemplate
from chatdesk.messaging.outbound import message_send_template
from tests.devtools.helpers import wait_until
from tests.devtools.test_simulator_api import (
    BEARER,
    GRAPH_SEND,
    KAPSO,
    KAPSO_SEND,
    TEXT,
    call,
    recorder,  # noqa: F401 (fixture)
    simulator,  # noqa: F401 (fixture)
)
from tests.devtools.test_simulator_end_to_end import control, open_conversation, status_of
from tests.factories import make_channel

TEMPLATE = {
    "name": "payment_reminder",
    "language": {"code": "id"},
    "components": [
        {
            "type": "body",
            "parameters": [{"type": "text", "text": "Siti"}, {"type": "text", "text": "12 Mei"}],
        }
    ],
}


@pytest.mark.parametrize(
    ("path", "headers"),
    [(GRAPH_SEND, BEARER), (KAPSO_SEND, {"X-API-Key": KAPSO.api_token})],
    ids=["graph", "kapso"],
)
def test_a_template_send_is_accepted_on_both_urls_and_shown_with_its_parameters(
    simulator,  # noqa: F811
    path,
    headers,
):
    response = call(
        simulator,
        "POST",
        path,
        headers=headers,
        json={**TEXT, "type": "template", "template": TEMPLATE},
    )

    assert response.status_code == 200
    assert response.json()["messages"][0]["id"].startswith("wamid.")
    [sent] = call(simulator, "GET", "/control/state").json()["sent"]
    assert (sent["type"], sent["text"]) == (
        "template",
        "[template payment_reminder (id)]: Siti · 12 Mei",
    )


@pytest.mark.parametrize("kind", [ChannelKind.META, ChannelKind.KAPSO])
def test_an_agents_template_after_the_window_closed_reaches_the_simulator_once(
    start_simulator, kind
):
    channel = make_channel(kind=kind)
    sim = start_simulator(channel)
    conversation = open_conversation(sim, channel)
    Conversation.objects.for_workspace(channel.workspace).filter(pk=conversation.pk).update(
        last_inbound_at=conversation.last_inbound_at - timedelta(days=2), needs_template=True
    )
    conversation.refresh_from_db()
    assert not conversation.window_open()
    template = MessageTemplate.objects.for_workspace(channel.workspace).create(
        workspace=channel.workspace,
        name="payment_reminder",
        language="id",
        category="utility",
        body="Halo {{1}}, pembayaran jatuh tempo {{2}}.",
    )

    message = message_send_template(
        conversation=conversation, template_id=template.pk, parameters=["Siti", "12 Mei"]
    )
    drain(queues=["outbound"])
    drain(queues=["outbound"])  # a second pass sends nothing more

    wait_until(lambda: status_of(message) == MessageStatus.READ, what="the read status")
    assert sim.emitter.wait_idle(timeout=5)
    state = control(sim, "GET", "/control/state")
    templates = [s for s in state["sent"] if s["type"] == "template"]
    assert len(templates) == 1
    assert templates[0]["text"] == "[template payment_reminder (id)]: Siti · 12 Mei"
    assert templates[0]["wamid"] == message.provider_message_id
    assert message.text == "Halo Siti, pembayaran jatuh tempo 12 Mei."


def test_the_simulator_page_lists_template_sends_like_any_reply(
    simulator,  # noqa: F811
):
    call(
        simulator,
        "POST",
        GRAPH_SEND,
        headers=BEARER,
        json={**TEXT, "type": "template", "template": TEMPLATE},
    )
    [conversation] = call(simulator, "GET", "/control/state").json()["conversations"]
    [message] = conversation["messages"]
    assert (message["direction"], message["type"]) == ("out", "template")
    assert httpx.get(f"{simulator.url}/", timeout=5).status_code == 200
