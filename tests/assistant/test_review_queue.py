"""The review queue page and its actions, as an agent uses them (plain forms and htmx)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from chatdesk.assistant.models import AssistantDraft, DraftStatus
from chatdesk.crm.models import Author, Conversation, Direction
from tests.assistant.review_helpers import draft_make, outbound
from tests.inbox.factories import conversation_make, message_make
from tests.tenancy.factories import world_make

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def world():
    return world_make("rq")


def queue_url(world) -> str:
    return reverse("assistant:review", args=[world.workspace.slug])


def action_url(world, draft, action: str) -> str:
    return reverse(f"assistant:draft-{action}", args=[world.workspace.slug, draft.pk])


def refreshed(draft) -> AssistantDraft:
    return AssistantDraft.objects.for_workspace(draft.workspace).get(pk=draft.pk)


def test_agent_sees_waiting_drafts_oldest_first_with_what_a_reviewer_needs(client, world):
    newer = draft_make(world.workspace, inbound_text="Jam buka kantor?", minutes_ago=2)
    older = draft_make(
        world.workspace,
        inbound_text="When do you open?",
        minutes_ago=30,
        verdicts=[
            {"check": "forbidden_topic", "passed": True, "reason": ""},
            {"check": "length", "passed": False, "reason": "412 characters, cap 300"},
        ],
    )
    draft_make(world.workspace, status=DraftStatus.SENT, inbound_text="Already answered")
    client.force_login(world.agent)

    response = client.get(queue_url(world))

    assert response.status_code == 200
    page = response.content.decode()
    assert page.index(f'id="draft-{older.pk}"') < page.index(f'id="draft-{newer.pk}"')
    assert "Already answered" not in page
    assert "When do you open?" in page and older.draft_text in page
    assert "office-hours" in page  # the source's key (its topic when the entry exists)
    assert "score 0.83" in page and f"config v{older.config.version}" in page
    assert "waiting 30" in page  # minutes
    assert "length: failed (412 characters, cap 300)" in page
    assert "forbidden_topic: passed" in page


def test_each_draft_shows_the_turns_just_before_its_customer_message(client, world):
    conversation = conversation_make(world.workspace, inbound_minutes_ago=1)
    message_make(conversation, text="first question, long ago", at=_ago(50))
    message_make(
        conversation,
        text="An agent answered",
        direction=Direction.OUTBOUND,
        author=Author.AGENT,
        at=_ago(40),
    )
    message_make(conversation, text="thanks, one more thing", at=_ago(35))
    first = draft_make(
        world.workspace, conversation=conversation, inbound_text="Q1", minutes_ago=30
    )
    message_make(conversation, text="hello?", at=_ago(20))
    second = draft_make(
        world.workspace, conversation=conversation, inbound_text="Q2", minutes_ago=10
    )
    client.force_login(world.agent)

    response = client.get(queue_url(world))

    drafts = {d.pk: d for d in response.context["drafts"]}
    assert [m.text for m in drafts[first.pk].context_turns] == [
        "An agent answered",
        "thanks, one more thing",
    ]
    assert [m.text for m in drafts[second.pk].context_turns] == ["Q1", "hello?"]


def test_the_queue_runs_the_same_number_of_queries_for_one_draft_or_many(
    client, world, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    draft_make(world.workspace)
    client.force_login(world.agent)
    with CaptureQueriesContext(connection) as one:
        assert client.get(queue_url(world)).status_code == 200
    for n in range(8):
        conversation = conversation_make(world.workspace, inbound_minutes_ago=1)
        message_make(conversation, text=f"earlier {n}", at=_ago(5))
        draft_make(world.workspace, conversation=conversation, minutes_ago=1)
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = client.get(queue_url(world))
    assert len(response.context["drafts"]) == 9


def test_an_empty_queue_says_so(client, world):
    client.force_login(world.agent)
    assert "Nothing is waiting for review" in client.get(queue_url(world)).content.decode()


def test_the_nav_shows_the_waiting_count_with_one_count_query_per_request(
    client, world, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(3):
        draft_make(world.workspace)
    client.force_login(world.agent)
    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("tenancy:team", args=[world.workspace.slug])).content.decode()
    assert 'aria-label="Review: 3 drafts waiting"' in page
    counts = [
        q["sql"]
        for q in queries.captured_queries
        if "COUNT" in q["sql"].upper() and "pending_review" in q["sql"]
    ]
    assert len(counts) == 1


def test_approving_sends_the_draft_once_and_returns_to_the_queue_with_a_notice(client, world):
    draft = draft_make(world.workspace)
    client.force_login(world.agent)

    response = client.post(action_url(world, draft, "approve"), {"next": queue_url(world)})

    assert response.status_code == 302 and response["Location"] == queue_url(world)
    [reply] = outbound(draft.conversation)
    assert reply.text == draft.draft_text and reply.author == Author.ASSISTANT
    assert reply.sent_by == world.agent
    draft = refreshed(draft)
    assert (draft.status, draft.reviewer, draft.outbound_message) == (
        DraftStatus.SENT,
        world.agent,
        reply,
    )
    page = client.get(queue_url(world)).content.decode()
    assert "Approved: the reply is on its way to the customer." in page
    assert f'id="draft-{draft.pk}"' not in page


def test_htmx_approve_answers_the_updated_card_and_refreshes_the_thread(client, world):
    draft = draft_make(world.workspace)
    client.force_login(world.agent)

    response = client.post(action_url(world, draft, "approve"), **HTMX)

    assert response.status_code == 200
    card = response.content.decode()
    assert card.lstrip().startswith(f'<article id="draft-{draft.pk}"')
    assert "Approved: the reply is on its way" in card and "Approve and send" not in card
    assert "inbox:refresh" in response["HX-Trigger"]


def test_edit_and_send_sends_the_reviewers_text_and_keeps_the_original(client, world):
    draft = draft_make(world.workspace)
    client.force_login(world.admin)

    client.post(action_url(world, draft, "edit"), {"text": "  We open at nine, Siti.  "})

    assert [m.text for m in outbound(draft.conversation)] == ["We open at nine, Siti."]
    draft = refreshed(draft)
    assert draft.status == DraftStatus.EDITED_SENT and draft.reviewer == world.admin
    assert draft.draft_text.startswith("Hi Siti! Our office is open")
    assert draft.sent_text == "We open at nine, Siti."


def test_an_edit_that_changes_nothing_counts_as_an_approval(client, world):
    draft = draft_make(world.workspace)
    client.force_login(world.agent)
    client.post(action_url(world, draft, "edit"), {"text": draft.draft_text})
    assert refreshed(draft).status == DraftStatus.SENT


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("   ", "The edited reply cannot be empty."),
        ("x" * 4097, "WhatsApp text messages are limited to 4096 characters; this one has 4097."),
    ],
)
def test_a_refused_edit_sends_nothing_keeps_the_draft_waiting_and_the_text_typed(
    client, world, text, error
):
    draft = draft_make(world.workspace)
    client.force_login(world.agent)

    response = client.post(action_url(world, draft, "edit"), {"text": text}, **HTMX)

    assert response.status_code == 422
    card = response.content.decode()
    assert error in card
    if text.strip():
        assert text in card  # back in the textarea, nothing lost
    assert outbound(draft.conversation) == []
    assert refreshed(draft).status == DraftStatus.PENDING_REVIEW


def test_a_refused_edit_without_javascript_redirects_back_with_the_error(client, world):
    draft = draft_make(world.workspace)
    client.force_login(world.agent)
    response = client.post(action_url(world, draft, "edit"), {"text": ""}, follow=True)
    assert "The edited reply cannot be empty." in response.content.decode()
    assert refreshed(draft).status == DraftStatus.PENDING_REVIEW


def test_reject_sends_nothing_pauses_the_assistant_and_gives_the_reviewer_the_conversation(
    client, world
):
    draft = draft_make(world.workspace)
    client.force_login(world.agent)

    response = client.post(action_url(world, draft, "reject"), follow=True)

    assert "Rejected: nothing was sent" in response.content.decode()
    assert outbound(draft.conversation) == []
    conversation = Conversation.objects.for_workspace(world.workspace).get(pk=draft.conversation_id)
    assert conversation.assistant_paused and conversation.needs_human
    assert conversation.assignee == world.agent
    assert refreshed(draft).status == DraftStatus.REJECTED


def test_a_second_reviewer_is_told_who_reviewed_it_and_nothing_is_sent_twice(client, world):
    draft = draft_make(world.workspace)
    world.agent.first_name, world.agent.last_name = "Ana", "Agent"
    world.agent.save()
    client.force_login(world.agent)
    client.post(action_url(world, draft, "approve"))
    client.force_login(world.admin)

    response = client.post(action_url(world, draft, "edit"), {"text": "My version"}, **HTMX)

    assert response.status_code == 422
    assert "Already reviewed by Ana Agent" in response.content.decode()
    assert [m.text for m in outbound(draft.conversation)] == [draft.draft_text]
    assert refreshed(draft).reviewer == world.agent


def test_approving_after_the_24_hour_window_closed_says_why_and_keeps_the_draft(client, world):
    conversation = conversation_make(world.workspace, inbound_minutes_ago=25 * 60)
    draft = draft_make(world.workspace, conversation=conversation)
    Conversation.objects.for_workspace(world.workspace).filter(pk=conversation.pk).update(
        last_inbound_at=_ago(25 * 60)
    )
    client.force_login(world.agent)

    response = client.post(action_url(world, draft, "approve"), **HTMX)

    assert response.status_code == 422
    assert "Not sent: The 24-hour window is closed" in response.content.decode()
    draft = refreshed(draft)
    assert draft.status == DraftStatus.PENDING_REVIEW and draft.reviewer is None


def test_next_pointing_outside_the_workspace_falls_back_to_the_queue(client, world):
    draft = draft_make(world.workspace)
    client.force_login(world.agent)
    for target in ("https://evil.example/", "/w/other-workspace/inbox/", "//evil.example/"):
        response = client.post(action_url(world, draft, "reject"), {"next": target})
        assert response["Location"] == queue_url(world)


def test_a_draft_of_another_workspace_is_404_through_my_own_workspace_url(client, world):
    other = world_make("rq-other")
    foreign = draft_make(other.workspace)
    client.force_login(world.owner)
    for action in ("approve", "edit", "reject", "complaint"):
        url = reverse(f"assistant:draft-{action}", args=[world.workspace.slug, foreign.pk])
        assert client.post(url, {"text": "hi"}).status_code == 404
    assert (
        client.get(reverse("assistant:draft", args=[world.workspace.slug, foreign.pk])).status_code
        == 404
    )
    assert outbound(foreign.conversation) == []
    assert refreshed(foreign).status == DraftStatus.PENDING_REVIEW


def test_review_pages_need_a_signed_in_member_and_agents_may_use_them(client, world):
    draft = draft_make(world.workspace)
    assert client.get(queue_url(world)).status_code == 302  # to the login page
    client.force_login(world.agent)
    assert client.get(queue_url(world)).status_code == 200
    detail = client.get(reverse("assistant:draft", args=[world.workspace.slug, draft.pk]))
    assert detail.status_code == 200 and "Approve and send" in detail.content.decode()


def test_review_actions_only_accept_post(client, world):
    draft = draft_make(world.workspace)
    client.force_login(world.agent)
    assert client.get(action_url(world, draft, "approve")).status_code == 405
    assert refreshed(draft).status == DraftStatus.PENDING_REVIEW


def _ago(minutes: float):
    from datetime import timedelta

    from django.utils import timezone

    return timezone.now() - timedelta(minutes=minutes)


def test_the_badge_count_is_computed_once_however_often_the_nav_renders(
    rf, world, django_assert_num_queries
):
    from django.template import Context, Template

    draft_make(world.workspace)
    request = rf.get("/")
    request.user = world.agent
    template = Template(
        "{% load assistant_review %}{% assistant_pending_reviews as a %}"
        "{% assistant_pending_reviews as b %}{{ a }}/{{ b }}"
    )
    context = Context({"request": request, "current_workspace": world.workspace})
    with django_assert_num_queries(1):
        assert template.render(context) == "1/1"
        assert template.render(context) == "1/1"
