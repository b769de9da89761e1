"""The demo workspace's assistant, end to end: what a customer typing in the simulator sees.

The app is served over HTTP with `make demo`'s seed (the example knowledge base, review-all
mode); the simulator plays the customer and WhatsApp; the worker's jobs run in this process
(`drain`); staff act through the real views with the Django test client.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from chatdesk.assistant.configuration import (
    ConfirmationRequiredError,
    assistant_config_current,
    assistant_config_update,
)
from chatdesk.assistant.models import AssistantDraft, DraftStatus
from chatdesk.audit.services import AuditActor
from chatdesk.crm.models import Conversation, Message
from chatdesk.devtools.seed import DEMO_EMAIL, demo_seed
from chatdesk.jobs.testing import drain
from chatdesk.tenancy.models import Role, Workspace
from chatdesk.tenancy.services import membership_create
from tests.devtools.helpers import wait_until
from tests.tenancy.factories import user_make

SITI = "6281234567890"
BUDI = "6281298765432"
IN_SCOPE = "What are your office hours?"
OFFICE_HOURS = "Monday-Friday 09:00-17:00"


@dataclass
class Demo:
    workspace: Workspace
    simulator: object
    agent: object


@pytest.fixture
def demo(start_simulator) -> Demo:
    login = demo_seed()
    agent = user_make("agent@example.com")
    membership_create(workspace=login.workspace, user=agent, role=Role.AGENT)
    return Demo(workspace=login.workspace, simulator=start_simulator(login.channel), agent=agent)


@pytest.fixture
def agent_client(client, demo):
    client.force_login(demo.agent)
    return client


def customer_asks(demo: Demo, text: str, *, wa_id: str = SITI, name: str = "Siti Rahma"):
    """The customer types `text` in the simulator; the app stores it and the worker runs every
    job that follows (processing, the assistant, sends, read receipts). Returns the message."""
    response = httpx.post(
        f"{demo.simulator.url}/control/customer-message",
        json={"from": f"+{wa_id}", "name": name, "text": text},
        timeout=5,
    )
    assert response.is_success, response.text
    [wamid] = response.json()["wamids"]
    message = wait_until(
        lambda: (
            Message.objects.for_workspace(demo.workspace).filter(provider_message_id=wamid).first()
        ),
        what="the stored customer message",
    )
    run_jobs(demo)
    return message


def run_jobs(demo: Demo) -> None:
    drain()
    # The simulator reports delivery statuses back by webhook; wait for them to land.
    assert demo.simulator.emitter.wait_idle(timeout=10)


def customer_sees(demo: Demo, wa_id: str = SITI) -> dict:
    """The customer's chat in the simulator: the business's messages and "typing…"."""
    state = httpx.get(f"{demo.simulator.url}/control/state", timeout=5).json()
    [chat] = [c for c in state["conversations"] if c["wa_id"] == wa_id]
    return {
        "replies": [m["text"] for m in chat["messages"] if m["direction"] == "out"],
        "typing": chat["typing"],
    }


def draft_for(message: Message) -> AssistantDraft | None:
    return (
        AssistantDraft.objects.for_workspace(message.workspace)
        .filter(inbound_message=message)
        .first()
    )


def conversation_url(demo: Demo, name: str, conversation_id: int) -> str:
    return reverse(
        f"inbox:{name}",
        kwargs={"workspace_slug": demo.workspace.slug, "conversation_id": conversation_id},
    )


def test_a_question_in_scope_waits_for_review_then_the_approved_reply_arrives_once(
    demo, agent_client
):
    message = customer_asks(demo, IN_SCOPE)

    draft = draft_for(message)
    assert draft.status == DraftStatus.PENDING_REVIEW
    assert draft.sources == ["office-hours"] and OFFICE_HOURS in draft.draft_text
    assert all(verdict["passed"] for verdict in draft.verdicts)
    # The customer sees "typing…" while a human reviews, and nothing unreviewed.
    assert customer_sees(demo) == {"replies": [], "typing": True}

    approve = reverse(
        "assistant:draft-approve",
        kwargs={"workspace_slug": demo.workspace.slug, "draft_id": draft.pk},
    )
    assert agent_client.post(approve).status_code == 302
    run_jobs(demo)
    agent_client.post(approve)  # a second click (or a second reviewer) sends nothing more
    run_jobs(demo)

    seen = customer_sees(demo)
    assert seen["replies"] == [draft.draft_text]
    assert seen["replies"][0].startswith("Hi Siti!") and OFFICE_HOURS in seen["replies"][0]
    assert not seen["typing"]  # the reply replaced the indicator
    draft.refresh_from_db()
    assert (draft.status, draft.reviewer) == (DraftStatus.SENT, demo.agent)


def test_a_pricing_question_escalates_and_the_customer_gets_the_holding_message_once(demo):
    message = customer_asks(demo, "Berapa biaya kuliahnya?", wa_id=BUDI, name="Budi Santoso")

    draft = draft_for(message)
    assert draft.status == DraftStatus.ESCALATED
    conversation = Conversation.objects.for_workspace(demo.workspace).get(
        pk=message.conversation_id
    )
    assert conversation.needs_human and conversation.assistant_paused
    assert conversation.assignee == demo.agent  # round-robin over the demo's agents
    holding = assistant_config_current(workspace=demo.workspace).holding_message
    run_jobs(demo)  # nothing left to send twice
    assert customer_sees(demo, BUDI)["replies"] == [holding]


def test_after_an_agent_takes_over_the_assistant_stays_silent(demo, agent_client):
    first = customer_asks(demo, IN_SCOPE)
    assert draft_for(first).status == DraftStatus.PENDING_REVIEW
    response = agent_client.post(conversation_url(demo, "take-over", first.conversation_id))
    assert response.status_code == 302

    further = customer_asks(demo, "Where is your office?")

    assert draft_for(further) is None
    assert customer_sees(demo)["replies"] == []
    assert (
        not AssistantDraft.objects.for_workspace(demo.workspace)
        .exclude(inbound_message=first)
        .exists()
    )


def test_in_autonomous_mode_a_question_in_scope_gets_the_grounded_reply_at_once(demo):
    owner = AuditActor(user=get_user_model().objects.get(email=DEMO_EMAIL))
    with pytest.raises(ConfirmationRequiredError):
        assistant_config_update(workspace=demo.workspace, actor=owner, mode="autonomous")
    assistant_config_update(
        workspace=demo.workspace, actor=owner, mode="autonomous", confirmed=True
    )

    message = customer_asks(demo, "Jam buka kantor kapan?")

    [reply] = customer_sees(demo)["replies"]
    assert reply.startswith("Halo Siti!") and OFFICE_HOURS in reply
    draft = draft_for(message)
    assert (draft.status, draft.sources, draft.reviewer) == (
        DraftStatus.SENT,
        ["office-hours"],
        None,
    )
    assert draft.config.mode == "autonomous"
