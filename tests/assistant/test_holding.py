"""Slow review: the holding message goes once per waiting draft, after the review timeout."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from chatdesk.assistant.configuration import assistant_config_update
from chatdesk.assistant.holding import assistant_draft_holding_send, assistant_holding_send_due
from chatdesk.assistant.models import AssistantDraft, DraftStatus
from chatdesk.assistant.respond import assistant_draft_approve, assistant_draft_reject
from chatdesk.assistant.tasks import assistant_send_holding_messages
from chatdesk.crm.models import Author, Conversation, Direction
from chatdesk.jobs.periodic import registry
from tests.assistant.helpers import ACTOR
from tests.assistant.review_helpers import draft_make, outbound
from tests.inbox.factories import conversation_make, message_make
from tests.tenancy.factories import world_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return world_make("hold")


def refreshed(draft) -> AssistantDraft:
    return AssistantDraft.objects.for_workspace(draft.workspace).get(pk=draft.pk)


def test_a_draft_waiting_past_the_timeout_sends_the_holding_message_once(world):
    draft = draft_make(world.workspace, minutes_ago=6)  # default timeout: 5 minutes

    assert assistant_holding_send_due() == 1
    assert assistant_holding_send_due() == 0  # the job runs again: nothing more

    [holding] = outbound(draft.conversation)
    assert holding.author == Author.ASSISTANT and holding.text == draft.config.holding_message
    draft = refreshed(draft)
    assert draft.holding_message == holding and draft.holding_sent_at is not None
    assert draft.status == DraftStatus.PENDING_REVIEW  # still in the review queue


def test_approved_after_the_holding_message_the_reply_still_goes(world):
    draft = draft_make(world.workspace, minutes_ago=6)
    assistant_holding_send_due()
    assistant_draft_approve(draft=draft, reviewer=world.agent)
    assert [m.text for m in outbound(draft.conversation)] == [
        draft.config.holding_message,
        draft.draft_text,
    ]


def test_nothing_is_sent_before_the_configured_timeout(world):
    config = assistant_config_update(
        workspace=world.workspace, actor=ACTOR, review_timeout_minutes=10
    )
    draft = draft_make(world.workspace, minutes_ago=6, config=config)
    assert assistant_holding_send_due() == 0
    assert assistant_holding_send_due(now=timezone.now() + timedelta(minutes=5)) == 1
    assert len(outbound(draft.conversation)) == 1


def test_a_draft_reviewed_in_time_gets_no_holding_message(world):
    approved = draft_make(world.workspace, minutes_ago=6)
    rejected = draft_make(world.workspace, minutes_ago=6)
    assistant_draft_approve(draft=approved, reviewer=world.agent)
    assistant_draft_reject(draft=rejected, reviewer=world.agent)
    assert assistant_holding_send_due() == 0
    assert [m.text for m in outbound(approved.conversation)] == [approved.draft_text]
    assert outbound(rejected.conversation) == []


def test_no_holding_message_once_an_agent_answered_or_took_over(world):
    answered = draft_make(world.workspace, minutes_ago=6)
    message_make(
        answered.conversation,
        text="I'm on it",
        direction=Direction.OUTBOUND,
        author=Author.AGENT,
    )
    taken = draft_make(world.workspace, minutes_ago=6)
    Conversation.objects.for_workspace(world.workspace).filter(pk=taken.conversation_id).update(
        assistant_paused=True
    )
    assert assistant_holding_send_due() == 0
    assert [m.text for m in outbound(answered.conversation)] == ["I'm on it"]
    assert outbound(taken.conversation) == []


def test_several_waiting_drafts_in_one_conversation_send_one_holding_message(world):
    conversation = conversation_make(world.workspace, inbound_minutes_ago=1)
    first = draft_make(world.workspace, conversation=conversation, minutes_ago=9)
    second = draft_make(world.workspace, conversation=conversation, minutes_ago=7)
    assert assistant_holding_send_due() == 1
    assert len(outbound(conversation)) == 1
    assert refreshed(first).holding_sent_at is not None
    assert refreshed(second).holding_sent_at is None


def test_a_closed_24_hour_window_or_an_empty_holding_message_sends_nothing(world):
    closed = draft_make(world.workspace, minutes_ago=6)
    Conversation.objects.for_workspace(world.workspace).filter(pk=closed.conversation_id).update(
        last_inbound_at=timezone.now() - timedelta(hours=25)
    )
    silent = assistant_config_update(workspace=world.workspace, actor=ACTOR, holding_message="")
    quiet = draft_make(world.workspace, minutes_ago=6, config=silent)
    assert assistant_holding_send_due() == 0
    assert outbound(closed.conversation) == [] and outbound(quiet.conversation) == []
    assert refreshed(quiet).holding_sent_at is None  # not recorded as sent: it was not


def test_sending_for_the_same_draft_twice_sends_once(world):
    draft = draft_make(world.workspace, minutes_ago=6)
    now = timezone.now()
    assert assistant_draft_holding_send(draft=draft, now=now) is True
    assert assistant_draft_holding_send(draft=draft, now=now) is False
    assert len(outbound(draft.conversation)) == 1


def test_outside_business_hours_the_job_sends_the_after_hours_message(world):
    now = timezone.now() + timedelta(minutes=1)
    closed_today = {
        "days": [d for d in range(7) if d != now.weekday()],
        "start": "08:00",
        "end": "17:00",
        "timezone": "UTC",
    }
    config = assistant_config_update(
        workspace=world.workspace,
        actor=ACTOR,
        business_hours=closed_today,
        after_hours_message="Closed, back {next_open}.",
    )
    # Made while the team was still in (the after-hours message was not sent at once).
    draft = draft_make(world.workspace, minutes_ago=6, config=config)
    assert assistant_holding_send_due(now=now) == 1
    [message] = outbound(draft.conversation)
    assert message.text.startswith("Closed, back ") and message.text.endswith("08:00 (UTC).")


def test_one_failing_draft_does_not_stop_the_others(world, monkeypatch):
    from chatdesk.assistant import holding

    first = draft_make(world.workspace, minutes_ago=8)
    second = draft_make(world.workspace, minutes_ago=7)
    real = holding.assistant_draft_holding_send

    def flaky(*, draft, now):
        if draft.pk == first.pk:
            raise RuntimeError("provider adapter exploded")
        return real(draft=draft, now=now)

    monkeypatch.setattr(holding, "assistant_draft_holding_send", flaky)
    assert assistant_holding_send_due() == 1
    assert outbound(first.conversation) == [] and len(outbound(second.conversation)) == 1


def test_the_holding_job_is_a_periodic_job_of_the_worker():
    assert assistant_send_holding_messages.module_path in {j.name for j in registry.all()}
    due = [j for j in registry.all() if j.name == assistant_send_holding_messages.module_path]
    assert due[0].every == timedelta(minutes=1)


def test_the_job_runs_across_workspaces(world):
    other = world_make("hold-b")
    mine = draft_make(world.workspace, minutes_ago=6)
    theirs = draft_make(other.workspace, minutes_ago=6)
    assert assistant_send_holding_messages.func.job_body() == 2
    assert len(outbound(mine.conversation)) == len(outbound(theirs.conversation)) == 1
