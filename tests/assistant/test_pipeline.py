"""The assistant in the message pipeline: inbound message -> job -> draft, send or escalation."""

from __future__ import annotations

import pytest

from chatdesk.assistant.configuration import assistant_config_current, assistant_config_update
from chatdesk.assistant.models import AssistantDraft, DraftStatus
from chatdesk.assistant.respond import (
    ReviewError,
    assistant_draft_approve,
    assistant_draft_edit_and_send,
    assistant_draft_reject,
    assistant_respond_to,
)
from chatdesk.crm.models import Author
from chatdesk.tenancy.models import Role
from chatdesk.tenancy.services import membership_create
from tests.assistant.helpers import (
    ACTOR,
    assistant_jobs,
    assistant_world,
    customer_writes,
    replies,
    run_pipeline,
    typing_indicators,
)
from tests.tenancy.factories import user_make

IN_SCOPE = "What time does your office open?"
FORBIDDEN = "How much is the tuition fee for a master's in Australia?"

pytestmark = pytest.mark.django_db


def autonomous(world):
    assistant_config_update(
        workspace=world.workspace, actor=ACTOR, mode="autonomous", confirmed=True
    )


def test_review_all_keeps_a_guarded_draft_waiting_and_shows_typing_instead_of_replying():
    world = assistant_world("rv")
    message = customer_writes(world.channel, IN_SCOPE)
    draft = run_pipeline(message)
    assert draft.status == DraftStatus.PENDING_REVIEW and draft.decision == "answer"
    assert "09:00-17:00" in draft.draft_text and draft.draft_text.startswith("Hi Siti!")
    assert draft.sources == ["office-hours"] and draft.score >= 0.7
    assert draft.verdicts and all(v["passed"] for v in draft.verdicts)
    assert draft.config.version == 1  # the default version a new workspace gets
    assert replies(message.conversation) == []
    assert typing_indicators(message) == 1
    message.refresh_from_db()
    assert message.processed_at is not None


def test_autonomous_mode_sends_the_answer_as_the_assistant_and_records_it():
    world = assistant_world("au")
    autonomous(world)
    message = customer_writes(world.channel, IN_SCOPE)
    draft = run_pipeline(message)
    [reply] = replies(message.conversation)
    assert reply.author == Author.ASSISTANT and "09:00-17:00" in reply.text
    assert draft.status == DraftStatus.SENT and draft.outbound_message == reply
    assert draft.config.version == 2


def test_running_the_job_twice_makes_one_draft_and_one_send():
    world = assistant_world("idem")
    autonomous(world)
    message = customer_writes(world.channel, IN_SCOPE)
    run_pipeline(message)
    assert assistant_respond_to(message_id=message.pk) is None
    run_pipeline(message)  # inbound processing re-run: already processed, nothing re-queued
    assert len(assistant_jobs(message)) == 1
    assert AssistantDraft.objects.for_workspace(world.workspace).count() == 1
    assert len(replies(message.conversation)) == 1


def test_sampled_mode_reviews_one_message_in_n_and_sends_the_rest():
    world = assistant_world("sm")
    assistant_config_update(
        workspace=world.workspace, actor=ACTOR, mode="sampled", sample_every=2, confirmed=True
    )
    statuses = {}
    for n in range(4):
        message = customer_writes(world.channel, IN_SCOPE, wa_id=f"62811000000{n}")
        statuses[message.pk] = run_pipeline(message).status
    for pk, status in statuses.items():
        expected = DraftStatus.PENDING_REVIEW if pk % 2 == 0 else DraftStatus.SENT
        assert status == expected


def test_paused_conversation_gets_no_assistant_job():
    world = assistant_world("ps")
    autonomous(world)
    message = customer_writes(world.channel, IN_SCOPE)
    message.conversation.assistant_paused = True
    message.conversation.save()
    assert run_pipeline(message) is None
    assert assistant_jobs(message) == [] and replies(message.conversation) == []


def test_kill_switch_stops_the_assistant_even_for_jobs_already_queued():
    world = assistant_world("ks")
    autonomous(world)
    first = customer_writes(world.channel, IN_SCOPE)
    from chatdesk.messaging.tasks import message_process_inbound

    message_process_inbound.func.job_body(message_id=first.pk)  # job queued while still on
    assistant_config_update(workspace=world.workspace, actor=ACTOR, kill_switch=True)
    assert assistant_respond_to(message_id=first.pk) is None
    second = customer_writes(world.channel, "Jam buka kantor kapan?")
    assert run_pipeline(second) is None and assistant_jobs(second) == []
    assert replies(first.conversation) == []


def test_test_events_private_notes_and_unsupported_messages_are_never_answered():
    world = assistant_world("sk")
    autonomous(world)
    for change in (
        {"payload": {"test_event": True}},
        {"is_private_note": True},
        {"unsupported": True},
    ):
        message = customer_writes(world.channel, IN_SCOPE, wa_id="628122223333")
        type(message).objects.for_workspace(world.workspace).filter(pk=message.pk).update(**change)
        assert run_pipeline(message) is None
    assert AssistantDraft.objects.for_workspace(world.workspace).count() == 0


def test_escalation_assigns_agents_round_robin_pauses_and_sends_the_holding_message_once():
    world = assistant_world("esc")
    second_agent = user_make("agent2-esc@example.com")
    membership_create(workspace=world.workspace, user=second_agent, role=Role.AGENT)
    drafts = [
        run_pipeline(customer_writes(world.channel, FORBIDDEN, wa_id=f"62813000000{n}"))
        for n in range(3)
    ]
    assert [d.status for d in drafts] == [DraftStatus.ESCALATED] * 3
    assert any("forbidden topic: pricing" in r for r in drafts[0].reasons)
    agents = sorted([world.agent.pk, second_agent.pk])
    assert [d.conversation.assignee_id for d in drafts] == [agents[0], agents[1], agents[0]]
    conversation = drafts[0].conversation
    conversation.refresh_from_db()
    assert conversation.needs_human and conversation.assistant_paused
    [holding] = replies(conversation)
    assert holding.author == Author.ASSISTANT and holding.text == drafts[0].config.holding_message
    # The customer writes again while waiting: the assistant stays quiet, no second holding message.
    later = customer_writes(world.channel, "Halo? Any update on the fees?", wa_id="628130000000")
    assert run_pipeline(later) is None
    assert len(replies(conversation)) == 1


def test_escalation_without_agents_leaves_the_conversation_unassigned():
    world = assistant_world("noag")
    from chatdesk.tenancy.models import Membership

    Membership.objects.for_workspace(world.workspace).filter(role=Role.AGENT).delete()
    draft = run_pipeline(customer_writes(world.channel, FORBIDDEN))
    assert draft.status == DraftStatus.ESCALATED and draft.conversation.assignee_id is None


def test_approving_a_draft_sends_it_once_and_records_the_reviewer():
    world = assistant_world("ap")
    draft = run_pipeline(customer_writes(world.channel, IN_SCOPE))
    assistant_draft_approve(draft=draft, reviewer=world.agent)
    with pytest.raises(ReviewError, match="already handled"):
        assistant_draft_approve(draft=draft, reviewer=world.admin)
    draft.refresh_from_db()
    [reply] = replies(draft.conversation)
    assert reply.text == draft.draft_text and reply.author == Author.ASSISTANT
    assert reply.sent_by == world.agent
    assert (draft.status, draft.reviewer, draft.outbound_message) == (
        DraftStatus.SENT,
        world.agent,
        reply,
    )
    assert draft.reviewed_at is not None


def test_an_edited_draft_sends_the_reviewers_text_and_keeps_the_original():
    world = assistant_world("ed")
    draft = run_pipeline(customer_writes(world.channel, IN_SCOPE))
    original = draft.draft_text
    assistant_draft_edit_and_send(draft=draft, reviewer=world.admin, text="Open 9-5 weekdays!")
    draft.refresh_from_db()
    assert [m.text for m in replies(draft.conversation)] == ["Open 9-5 weekdays!"]
    assert (draft.status, draft.draft_text, draft.sent_text) == (
        DraftStatus.EDITED_SENT,
        original,
        "Open 9-5 weekdays!",
    )
    with pytest.raises(ReviewError):
        assistant_draft_edit_and_send(draft=draft, reviewer=world.admin, text="again")


def test_rejecting_a_draft_sends_nothing_and_hands_the_conversation_to_the_reviewer():
    world = assistant_world("rj")
    message = customer_writes(world.channel, IN_SCOPE)
    draft = run_pipeline(message)
    assistant_draft_reject(draft=draft, reviewer=world.admin)
    conversation = message.conversation
    conversation.refresh_from_db()
    assert replies(conversation) == []
    assert conversation.assistant_paused and conversation.assignee == world.admin
    draft.refresh_from_db()
    assert draft.status == DraftStatus.REJECTED and draft.reviewer == world.admin
    assert run_pipeline(customer_writes(world.channel, IN_SCOPE)) is None


def test_a_non_member_cannot_review_a_draft():
    world = assistant_world("nm")
    other = assistant_world("nm2")
    draft = run_pipeline(customer_writes(world.channel, IN_SCOPE))
    with pytest.raises(ReviewError, match="member"):
        assistant_draft_approve(draft=draft, reviewer=other.agent)
    assert replies(draft.conversation) == []


def test_a_new_config_version_applies_from_the_next_message():
    world = assistant_world("ver")
    first = run_pipeline(customer_writes(world.channel, IN_SCOPE, wa_id="628140000001"))
    assistant_config_update(workspace=world.workspace, actor=ACTOR, use_first_name=False)
    second = run_pipeline(customer_writes(world.channel, IN_SCOPE, wa_id="628140000002"))
    assert (first.config.version, second.config.version) == (1, 2)
    assert first.draft_text.startswith("Hi Siti!")
    assert not second.draft_text.startswith("Hi") and "09:00-17:00" in second.draft_text
    assert assistant_config_current(workspace=world.workspace).version == 2


def test_context_turns_come_from_this_conversation_only():
    from chatdesk.assistant import respond

    world = assistant_world("ctx")
    customer_writes(world.channel, "my secret visa number is X123", wa_id="628150000009")
    customer_writes(world.channel, "Halo, saya mau tanya", wa_id="628150000001")
    message = customer_writes(world.channel, IN_SCOPE, wa_id="628150000001")
    assert respond._recent_turns(message) == ["Halo, saya mau tanya"]


def test_a_workspace_without_knowledge_has_no_assistant_yet():
    world = assistant_world("nokb")
    from chatdesk.assistant.models import KnowledgeEntry

    KnowledgeEntry.objects.for_workspace(world.workspace).update(enabled=False)
    message = customer_writes(world.channel, FORBIDDEN)
    assert run_pipeline(message) is None and assistant_jobs(message) == []
    assert replies(message.conversation) == []


def test_review_queue_and_counts_show_what_reviewers_did():
    from chatdesk.assistant.selectors import assistant_drafts_pending, assistant_review_counts

    world = assistant_world("cnt")
    drafts = [
        run_pipeline(customer_writes(world.channel, IN_SCOPE, wa_id=f"62816000000{n}"))
        for n in range(4)
    ]
    assert list(assistant_drafts_pending(workspace=world.workspace)) == drafts
    assistant_draft_approve(draft=drafts[0], reviewer=world.agent)
    assistant_draft_edit_and_send(draft=drafts[1], reviewer=world.agent, text="We open at 9.")
    assistant_draft_reject(draft=drafts[2], reviewer=world.agent)
    assert list(assistant_drafts_pending(workspace=world.workspace)) == [drafts[3]]
    assert assistant_review_counts(workspace=world.workspace) == {
        "reviewed": 3,
        "approved": 1,
        "edited": 1,
        "rejected": 1,
    }
    assert assistant_review_counts(workspace=assistant_world("cnt2").workspace)["reviewed"] == 0
