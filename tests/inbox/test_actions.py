"""Thread actions: reply, private note, assign, label, status, assistant controls, media."""

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from chatdesk.crm.models import (
    Author,
    ConversationStatus,
    Direction,
    MediaState,
    Message,
    MessageStatus,
)
from chatdesk.messaging.tasks import message_deliver, message_fetch_media
from tests.inbox.factories import conversation_make, label_make, message_make
from tests.inbox.tenant_url_samples import SAMPLE_KWARGS

HTMX = {"HX-Request": "true"}


def url(name, world, conversation, **kwargs):
    return reverse(
        f"inbox:{name}",
        kwargs={
            "workspace_slug": world.workspace.slug,
            "conversation_id": conversation.pk,
            **kwargs,
        },
    )


def deliveries() -> list[DBTaskResult]:
    return list(DBTaskResult.objects.filter(task_path=message_deliver.module_path))


def messages_of(conversation) -> list[Message]:
    return list(
        Message.objects.for_workspace(conversation.workspace).filter(conversation=conversation)
    )


@pytest.fixture
def agent(client, world_a):
    client.force_login(world_a.agent)
    return client


# --- Reply and notes ------------------------------------------------------------------------


def test_an_agent_reply_is_queued_as_outbound_and_its_delivery_enqueued(agent, world_a):
    conversation = conversation_make(world_a.workspace, inbound_minutes_ago=30)
    response = agent.post(url("reply", world_a, conversation), {"text": "  Halo Siti!  "})
    assert response.status_code == 302
    assert response["Location"] == url("thread", world_a, conversation)
    [message] = messages_of(conversation)
    assert (message.direction, message.author, message.status) == (
        Direction.OUTBOUND,
        Author.AGENT,
        MessageStatus.QUEUED,
    )
    assert (message.text, message.sent_by, message.is_private_note) == (
        "Halo Siti!",
        world_a.agent,
        False,
    )
    [job] = deliveries()
    assert job.args_kwargs["kwargs"] == {"message_id": message.pk}


def test_a_reply_outside_the_24_hour_window_is_refused_with_the_reason_and_nothing_is_stored(
    agent, world_a
):
    conversation = conversation_make(world_a.workspace, inbound_minutes_ago=25 * 60)
    response = agent.post(url("reply", world_a, conversation), {"text": "Are you still there?"})
    assert response.status_code == 422
    page = response.content.decode()
    assert "The 24-hour window is closed" in page and "Send an approved template" in page
    assert "Are you still there?" in page  # the draft is kept for the agent
    assert messages_of(conversation) == [] and deliveries() == []


def test_a_refused_htmx_reply_answers_the_composer_with_the_error(agent, world_a):
    conversation = conversation_make(world_a.workspace, inbound_minutes_ago=None)
    response = agent.post(url("reply", world_a, conversation), {"text": "Hi"}, headers=HTMX)
    body = response.content.decode()
    assert response.status_code == 422
    assert body.lstrip().startswith('<form id="composer"') and "24-hour window" in body
    assert "HX-Trigger" not in response


def test_an_htmx_reply_returns_a_fresh_composer_and_asks_the_thread_to_refresh(agent, world_a):
    conversation = conversation_make(world_a.workspace)
    response = agent.post(url("reply", world_a, conversation), {"text": "Hi"}, headers=HTMX)
    assert response.status_code == 200
    assert response.content.decode().lstrip().startswith('<form id="composer"')
    assert "inbox:refresh" in response["HX-Trigger"]
    assert len(deliveries()) == 1


def test_an_empty_reply_is_a_form_error(agent, world_a):
    conversation = conversation_make(world_a.workspace)
    response = agent.post(url("reply", world_a, conversation), {"text": "   "})
    assert response.status_code == 422
    assert "Write something first." in response.content.decode()
    assert messages_of(conversation) == []


def test_a_private_note_is_stored_for_the_team_and_never_sent(agent, world_a):
    # Even with the window closed: notes never go to WhatsApp.
    conversation = conversation_make(world_a.workspace, inbound_minutes_ago=None)
    response = agent.post(url("note", world_a, conversation), {"text": "VIP: call back at 3"})
    assert response.status_code == 302
    [note] = messages_of(conversation)
    assert note.is_private_note and note.author == Author.AGENT and note.sent_by == world_a.agent
    assert note.status not in (MessageStatus.QUEUED, MessageStatus.SENDING)
    assert note.provider_message_id is None
    assert deliveries() == []
    assert "VIP: call back at 3" in agent.get(url("thread", world_a, conversation)).content.decode()


# --- Assign, labels, status -------------------------------------------------------------------


def test_an_agent_assigns_a_colleague_and_unassigns(agent, world_a):
    conversation = conversation_make(world_a.workspace)
    response = agent.post(url("assign", world_a, conversation), {"assignee": world_a.admin.pk})
    assert response.status_code == 302
    conversation.refresh_from_db()
    assert conversation.assignee == world_a.admin
    agent.post(url("assign", world_a, conversation), {"assignee": ""})
    conversation.refresh_from_db()
    assert conversation.assignee is None


def test_assigning_a_user_of_another_workspace_is_a_form_error_and_changes_nothing(
    agent, world_a, world_b
):
    conversation = conversation_make(world_a.workspace, assignee=world_a.admin)
    response = agent.post(url("assign", world_a, conversation), {"assignee": world_b.agent.pk})
    assert response.status_code == 422
    assert "Choose a member of this workspace." in response.content.decode()
    conversation.refresh_from_db()
    assert conversation.assignee == world_a.admin


def test_the_assignee_choices_are_this_workspaces_members_only(agent, world_a, world_b):
    conversation = conversation_make(world_a.workspace)
    page = agent.get(url("thread", world_a, conversation)).content.decode()
    assert world_a.admin.email in page
    assert world_b.agent.email not in page and world_b.owner.email not in page


def test_labels_are_set_from_this_workspaces_labels(agent, world_a):
    conversation = conversation_make(world_a.workspace)
    wanted, other = label_make(world_a.workspace, "Hot lead"), label_make(world_a.workspace, "S2")
    conversation.labels.add(other)
    response = agent.post(url("labels", world_a, conversation), {"labels": [wanted.pk]})
    assert response.status_code == 302
    assert list(conversation.labels.all()) == [wanted]


def test_a_label_of_another_workspace_is_an_error_and_changes_nothing(agent, world_a, world_b):
    conversation = conversation_make(world_a.workspace)
    mine, foreign = label_make(world_a.workspace), label_make(world_b.workspace)
    conversation.labels.add(mine)
    response = agent.post(url("labels", world_a, conversation), {"labels": [mine.pk, foreign.pk]})
    assert response.status_code == 422
    assert "Choose labels of this workspace" in response.content.decode()
    assert list(conversation.labels.all()) == [mine]


@pytest.mark.parametrize("status", list(ConversationStatus))
def test_an_agent_can_set_each_status(agent, world_a, status):
    conversation = conversation_make(world_a.workspace, status=ConversationStatus.PENDING)
    agent.post(url("status", world_a, conversation), {"status": status})
    conversation.refresh_from_db()
    assert conversation.status == status


def test_an_unknown_status_is_a_form_error(agent, world_a):
    conversation = conversation_make(world_a.workspace)
    response = agent.post(url("status", world_a, conversation), {"status": "deleted"})
    assert response.status_code == 422
    assert "Choose open, pending or resolved." in response.content.decode()
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.OPEN


def test_an_htmx_action_answers_the_panel_and_the_header(agent, world_a):
    conversation = conversation_make(world_a.workspace)
    response = agent.post(
        url("status", world_a, conversation), {"status": "resolved"}, headers=HTMX
    )
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert '<aside id="thread-panel"' in body and "Marked resolved." in body
    assert '<header id="thread-head" class="thread-head" hx-swap-oob="true">' in body


def test_an_htmx_action_with_a_bad_value_answers_the_panel_with_the_error(agent, world_a, world_b):
    conversation = conversation_make(world_a.workspace)
    response = agent.post(
        url("assign", world_a, conversation), {"assignee": world_b.owner.pk}, headers=HTMX
    )
    assert response.status_code == 422
    assert '<aside id="thread-panel"' in response.content.decode()


def test_actions_keep_the_list_filters_when_returning_to_the_thread(agent, world_a):
    conversation = conversation_make(world_a.workspace, status=ConversationStatus.PENDING)
    response = agent.post(
        url("status", world_a, conversation) + "?status=pending&assigned=mine&bogus=1",
        {"status": "open"},
    )
    assert response["Location"] == (
        url("thread", world_a, conversation) + "?status=pending&assigned=mine"
    )


# --- Assistant controls -----------------------------------------------------------------------


def test_take_over_pauses_the_assistant_and_hand_back_resumes_it(agent, world_a):
    conversation = conversation_make(world_a.workspace, needs_human=True)
    agent.post(url("take-over", world_a, conversation))
    conversation.refresh_from_db()
    assert conversation.assistant_paused
    agent.post(url("hand-back", world_a, conversation))
    conversation.refresh_from_db()
    assert not conversation.assistant_paused and not conversation.needs_human


def test_escalate_flags_a_human_and_assigns_the_agent_when_nobody_has_it(agent, world_a):
    conversation = conversation_make(world_a.workspace)
    agent.post(url("escalate", world_a, conversation))
    conversation.refresh_from_db()
    assert conversation.needs_human and conversation.assignee == world_a.agent


def test_escalate_keeps_an_existing_assignee(agent, world_a):
    conversation = conversation_make(world_a.workspace, assignee=world_a.admin)
    agent.post(url("escalate", world_a, conversation))
    conversation.refresh_from_db()
    assert conversation.needs_human and conversation.assignee == world_a.admin


# --- Tenancy and roles -------------------------------------------------------------------------

POST_ACTIONS = {
    "reply": {"text": "hi"},
    "note": {"text": "hi"},
    "assign": {},
    "labels": {},
    "status": {"status": "resolved"},
    "take-over": {},
    "hand-back": {},
    "escalate": {},
}


@pytest.mark.parametrize("action", list(POST_ACTIONS))
def test_actions_on_another_workspaces_conversation_are_404_and_change_nothing(
    agent, world_a, world_b, action
):
    theirs = conversation_make(world_b.workspace, assignee=world_b.agent)
    # Their conversation id under OUR workspace's URL: the id is looked up in ours only.
    response = agent.post(url(action, world_a, theirs), POST_ACTIONS[action])
    assert response.status_code == 404
    before = (theirs.status, theirs.assignee_id, theirs.needs_human, theirs.assistant_paused)
    theirs.refresh_from_db()
    assert (
        theirs.status,
        theirs.assignee_id,
        theirs.needs_human,
        theirs.assistant_paused,
    ) == before
    assert messages_of(theirs) == [] and deliveries() == []


def test_media_of_another_workspaces_message_is_404(agent, world_a, world_b):
    mine = conversation_make(world_a.workspace)
    theirs = conversation_make(world_b.workspace)
    message = message_make(theirs, text="", type="image", media_state=MediaState.FAILED)
    for name in ("media", "media-retry"):
        method = agent.get if name == "media" else agent.post
        assert method(url(name, world_a, mine, message_id=message.pk)).status_code == 404


def test_every_inbox_url_has_cross_workspace_samples():
    from django.urls import get_resolver

    names = {
        f"inbox:{n}"
        for n in get_resolver().namespace_dict["inbox"][1].reverse_dict
        if isinstance(n, str)
    }
    assert names == set(SAMPLE_KWARGS)


@pytest.mark.parametrize("action", list(POST_ACTIONS))
def test_agents_may_do_every_thread_action(agent, world_a, action):
    conversation = conversation_make(world_a.workspace)
    response = agent.post(url(action, world_a, conversation), POST_ACTIONS[action])
    assert response.status_code == 302  # done, back to the thread


def test_the_thread_actions_need_a_post(agent, world_a):
    conversation = conversation_make(world_a.workspace)
    assert agent.get(url("escalate", world_a, conversation)).status_code == 405
    conversation.refresh_from_db()
    assert not conversation.needs_human


# --- Media ---------------------------------------------------------------------------------------


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def test_a_stored_image_is_served_inline_to_members(agent, world_a, media_root):
    conversation = conversation_make(world_a.workspace)
    message = message_make(
        conversation,
        text="",
        type="image",
        media_state=MediaState.STORED,
        media_mime_type="image/jpeg",
    )
    message.media_file.save("x.jpg", ContentFile(b"\xff\xd8jpeg"))
    response = agent.get(url("media", world_a, conversation, message_id=message.pk))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert b"".join(response.streaming_content) == b"\xff\xd8jpeg"
    assert "sandbox" in response["Content-Security-Policy"]


def test_an_attachment_of_a_risky_type_is_downloaded_never_shown_inline(agent, world_a, media_root):
    conversation = conversation_make(world_a.workspace)
    message = message_make(
        conversation,
        text="",
        type="document",
        media_state=MediaState.STORED,
        media_mime_type="text/html",
    )
    message.media_file.save("x.html", ContentFile(b"<script>alert(1)</script>"))
    response = agent.get(url("media", world_a, conversation, message_id=message.pk))
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;")


def test_retrying_a_failed_download_queues_the_fetch_again(agent, world_a):
    conversation = conversation_make(world_a.workspace)
    message = message_make(
        conversation,
        text="",
        type="image",
        media_id="m1",
        media_state=MediaState.FAILED,
        media_error="HTTP 500",
    )
    response = agent.post(
        url("media-retry", world_a, conversation, message_id=message.pk), headers=HTMX
    )
    assert response.status_code == 200
    assert "downloading" in response.content.decode()
    message.refresh_from_db()
    assert message.media_state == MediaState.PENDING
    assert DBTaskResult.objects.filter(task_path=message_fetch_media.module_path).count() == 1


def test_retrying_a_download_that_did_not_fail_is_refused_with_a_message(agent, world_a):
    conversation = conversation_make(world_a.workspace)
    message = message_make(conversation, text="", type="image", media_state=MediaState.PENDING)
    response = agent.post(url("media-retry", world_a, conversation, message_id=message.pk))
    assert response.status_code == 302
    page = agent.get(response["Location"]).content.decode()
    assert "Only an attachment whose download failed can be retried." in page
    assert not DBTaskResult.objects.filter(task_path=message_fetch_media.module_path).exists()
