"""The assistant panel in a conversation: drafts, their evidence, inline review, complaints, and
links from the assistant's messages to their drafts."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from chatdesk.assistant.models import AssistantDraft, DraftStatus
from chatdesk.crm.models import Author, Direction
from tests.assistant.review_helpers import assistant_message, draft_make, outbound
from tests.inbox.factories import conversation_make, message_make
from tests.tenancy.factories import world_make

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def world():
    return world_make("tp")


def panel_url(world, conversation) -> str:
    return reverse("assistant:thread-panel", args=[world.workspace.slug, conversation.pk])


def thread_url(world, conversation) -> str:
    return reverse("inbox:thread", args=[world.workspace.slug, conversation.pk])


def complaint_url(world, draft) -> str:
    return reverse("assistant:draft-complaint", args=[world.workspace.slug, draft.pk])


def refreshed(draft) -> AssistantDraft:
    return AssistantDraft.objects.for_workspace(draft.workspace).get(pk=draft.pk)


def test_the_thread_fetches_the_panel_from_its_own_url_and_links_it_without_javascript(
    client, world
):
    conversation = conversation_make(world.workspace)
    client.force_login(world.agent)
    page = client.get(thread_url(world, conversation)).content.decode()
    url = panel_url(world, conversation)
    assert f'hx-get="{url}" hx-trigger="load"' in page
    assert f'<a href="{url}">' in page
    # Without JavaScript the link opens a page of its own, with a way back to the thread.
    plain = client.get(url).content.decode()
    assert "<html" in plain and f'href="{thread_url(world, conversation)}"' in plain


def test_the_latest_waiting_draft_is_shown_first_and_the_others_folded_away(client, world):
    conversation = conversation_make(world.workspace, inbound_minutes_ago=1)
    sent = draft_make(
        world.workspace,
        conversation=conversation,
        status=DraftStatus.SENT,
        draft_text="Earlier reply",
        reviewer=world.admin,
        minutes_ago=30,
    )
    waiting = draft_make(
        world.workspace, conversation=conversation, draft_text="Waiting reply", minutes_ago=5
    )
    escalated = draft_make(
        world.workspace,
        conversation=conversation,
        status=DraftStatus.ESCALATED,
        decision="escalate",
        draft_text="We guarantee admission!",
        verdicts=[{"check": "promises", "passed": False, "reason": "guarantee"}],
        reasons=["guard: promises"],
        minutes_ago=1,
    )
    client.force_login(world.agent)

    response = client.get(panel_url(world, conversation), **HTMX)

    assert response.status_code == 200
    panel = response.content.decode()
    assert "<html" not in panel
    assert response.context["featured_draft"] == waiting
    assert [d.pk for d in response.context["earlier_drafts"]] == [escalated.pk, sent.pk]
    folded = panel[panel.index('<details class="earlier-drafts">') :]
    assert f'id="draft-{waiting.pk}"' not in folded and f'id="draft-{sent.pk}"' in folded
    assert "2 other drafts" in panel
    assert "Approve and send" in panel and "Waiting reply" in panel
    assert "promises: failed (guarantee)" in panel and "Blocked draft (not sent)" in panel
    assert world.admin.email in panel  # the earlier draft's reviewer
    assert f"config v{waiting.config.version}" in panel


def test_the_panel_runs_the_same_number_of_queries_for_one_draft_or_twenty(
    client, world, django_assert_max_num_queries
):
    conversation = conversation_make(world.workspace, inbound_minutes_ago=1)
    draft_make(world.workspace, conversation=conversation, status=DraftStatus.SENT)
    client.force_login(world.agent)
    with CaptureQueriesContext(connection) as one:
        client.get(panel_url(world, conversation), **HTMX)
    for n in range(19):
        draft = draft_make(
            world.workspace,
            conversation=conversation,
            status=DraftStatus.EDITED_SENT,
            reviewer=world.agent,
            complaint_flagged_by=world.admin,
        )
        message = assistant_message(conversation, text=f"reply {n}")
        AssistantDraft.objects.for_workspace(world.workspace).filter(pk=draft.pk).update(
            outbound_message=message, holding_message=message
        )
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = client.get(panel_url(world, conversation), **HTMX)
    assert len(response.context["earlier_drafts"]) == 19


def test_approving_inline_answers_the_compact_card_and_the_reply_goes_out(client, world):
    draft = draft_make(world.workspace)
    client.force_login(world.agent)
    url = reverse("assistant:draft-approve", args=[world.workspace.slug, draft.pk])

    response = client.post(url, {"compact": "1"}, **HTMX)

    card = response.content.decode()
    assert response.status_code == 200 and "is-compact" in card
    assert "Customer wrote" in card and "Earlier in the conversation" not in card
    assert [m.text for m in outbound(draft.conversation)] == [draft.draft_text]


def test_a_plain_post_from_the_panel_returns_to_the_thread(client, world):
    draft = draft_make(world.workspace)
    client.force_login(world.agent)
    back = thread_url(world, draft.conversation)
    url = reverse("assistant:draft-reject", args=[world.workspace.slug, draft.pk])
    response = client.post(url, {"next": back})
    assert response.status_code == 302 and response["Location"] == back


def test_an_assistant_message_in_the_thread_links_to_its_draft(client, world):
    draft = draft_make(world.workspace, status=DraftStatus.SENT)
    reply = assistant_message(draft.conversation)
    AssistantDraft.objects.for_workspace(world.workspace).filter(pk=draft.pk).update(
        outbound_message=reply
    )
    agent_reply = message_make(
        draft.conversation, text="Agent here", direction=Direction.OUTBOUND, author=Author.AGENT
    )
    client.force_login(world.agent)

    page = client.get(thread_url(world, draft.conversation)).content.decode()

    link = reverse("assistant:message-draft", args=[world.workspace.slug, reply.pk])
    assert f'href="{link}"' in page
    no_link = reverse("assistant:message-draft", args=[world.workspace.slug, agent_reply.pk])
    assert no_link not in page
    response = client.get(link)
    assert response["Location"] == reverse("assistant:draft", args=[world.workspace.slug, draft.pk])
    assert client.get(no_link).status_code == 404


def test_the_holding_message_links_to_the_draft_it_was_sent_for(client, world):
    draft = draft_make(world.workspace)
    holding = assistant_message(draft.conversation, text="One moment please")
    AssistantDraft.objects.for_workspace(world.workspace).filter(pk=draft.pk).update(
        holding_message=holding
    )
    client.force_login(world.agent)
    link = reverse("assistant:message-draft", args=[world.workspace.slug, holding.pk])
    assert client.get(link)["Location"].endswith(f"/drafts/{draft.pk}/")


def test_an_agent_flags_a_sent_reply_as_a_complaint_with_a_note_and_can_unflag_it(client, world):
    draft = draft_make(world.workspace, status=DraftStatus.SENT)
    client.force_login(world.agent)

    response = client.post(
        complaint_url(world, draft),
        {"action": "flag", "note": "Customer says the office is closed on Fridays", "compact": "1"},
        **HTMX,
    )

    assert response.status_code == 200
    assert "Flagged as a complaint" in response.content.decode()
    draft = refreshed(draft)
    assert draft.complaint_flagged_at is not None and draft.complaint_flagged_by == world.agent
    assert draft.complaint_note == "Customer says the office is closed on Fridays"
    panel = client.get(panel_url(world, draft.conversation), **HTMX).content.decode()
    assert "Remove complaint flag" in panel and "closed on Fridays" in panel

    client.post(complaint_url(world, draft), {"action": "unflag"})

    draft = refreshed(draft)
    assert (draft.complaint_flagged_at, draft.complaint_flagged_by, draft.complaint_note) == (
        None,
        None,
        "",
    )


def test_a_too_long_complaint_note_is_refused_and_comes_back_as_typed(client, world):
    draft = draft_make(world.workspace, status=DraftStatus.SENT)
    client.force_login(world.agent)
    note = "n" * 1001
    response = client.post(complaint_url(world, draft), {"action": "flag", "note": note}, **HTMX)
    assert response.status_code == 422
    assert "Keep the note to 1000 characters" in response.content.decode()
    assert note in response.content.decode()
    assert refreshed(draft).complaint_flagged_at is None


def test_a_draft_that_never_reached_the_customer_cannot_be_flagged(client, world):
    draft = draft_make(world.workspace)  # still waiting for review
    client.force_login(world.agent)
    response = client.post(complaint_url(world, draft), {"action": "flag"}, follow=True)
    assert "Only a reply the customer received can be flagged" in response.content.decode()
    assert refreshed(draft).complaint_flagged_at is None


def test_the_panel_of_another_workspaces_conversation_is_404(client, world):
    other = world_make("tp-other")
    foreign = conversation_make(other.workspace)
    draft_make(other.workspace, conversation=foreign)
    client.force_login(world.owner)
    assert client.get(panel_url(world, foreign), **HTMX).status_code == 404
