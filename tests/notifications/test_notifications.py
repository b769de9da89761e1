"""Notifications: who is told about escalations, drafts waiting and assignments; the bell, the
page, and the escalation emails."""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from chatdesk.assistant.models import DraftStatus
from chatdesk.notifications.models import Notification, NotificationKind
from chatdesk.notifications.tasks import notification_email_send
from chatdesk.tenancy.models import Membership, Role
from tests.assistant.helpers import assistant_world, customer_writes, run_pipeline
from tests.inbox.factories import conversation_make
from tests.tenancy.factories import world_make

pytestmark = pytest.mark.django_db

FORBIDDEN = "How much is the tuition fee for a master's in Australia?"
IN_SCOPE = "What time does your office open?"


def notes(workspace, **filters) -> list[Notification]:
    return list(Notification.objects.for_workspace(workspace).filter(**filters).order_by("id"))


def run_email_jobs() -> list[str]:
    rows = DBTaskResult.objects.filter(task_path=notification_email_send.module_path)
    return [notification_email_send.func.job_body(**row.args_kwargs["kwargs"]) for row in rows]


def test_an_escalation_notifies_the_agent_it_went_to_and_emails_them(
    django_capture_on_commit_callbacks, mailoutbox
):
    world = assistant_world("nt-esc")
    with django_capture_on_commit_callbacks(execute=True):
        draft = run_pipeline(customer_writes(world.channel, FORBIDDEN))
    assert draft.status == DraftStatus.ESCALATED and draft.assigned_to == world.agent

    [note] = notes(world.workspace)
    assert (note.user, note.kind, note.conversation) == (
        world.agent,
        NotificationKind.ESCALATED,
        draft.conversation,
    )
    assert note.text.startswith("Siti Rahma needs a human: ")
    assert run_email_jobs() == ["sent"]
    [email] = mailoutbox
    assert email.to == [world.agent.email] and "needs a human" in email.subject
    thread = reverse("inbox:thread", args=[world.workspace.slug, draft.conversation_id])
    assert thread in email.body
    assert "6281234567890" not in email.body  # no customer phone number in mail
    note.refresh_from_db()
    assert note.emailed_at is not None
    assert run_email_jobs() == ["already sent"] and len(mailoutbox) == 1


def test_an_escalation_nobody_was_assigned_notifies_the_admins_and_owners():
    world = assistant_world("nt-noag")
    Membership.objects.for_workspace(world.workspace).filter(role=Role.AGENT).delete()
    run_pipeline(customer_writes(world.channel, FORBIDDEN))
    assert {n.user for n in notes(world.workspace)} == {world.admin, world.owner}
    assert {n.kind for n in notes(world.workspace)} == {NotificationKind.ESCALATED}


def test_no_email_goes_to_an_unverified_address(django_capture_on_commit_callbacks, mailoutbox):
    world = assistant_world("nt-unv")
    EmailAddress.objects.filter(user=world.agent).update(verified=False)
    with django_capture_on_commit_callbacks(execute=True):
        run_pipeline(customer_writes(world.channel, FORBIDDEN))
    assert run_email_jobs() == ["unverified"]
    assert mailoutbox == []
    assert len(notes(world.workspace)) == 1  # still told in the app


def test_a_failing_email_queue_never_stops_the_escalation(
    django_capture_on_commit_callbacks, monkeypatch
):
    world = assistant_world("nt-q")

    class BrokenQueue:
        def enqueue(self, **kwargs):
            raise ConnectionError("queue down")

    monkeypatch.setattr("chatdesk.notifications.tasks.notification_email_send", BrokenQueue())
    with django_capture_on_commit_callbacks(execute=True):
        draft = run_pipeline(customer_writes(world.channel, FORBIDDEN))
    assert draft.status == DraftStatus.ESCALATED
    assert len(notes(world.workspace)) == 1


def test_a_failing_notification_insert_never_stops_the_escalation(monkeypatch):
    from chatdesk.notifications import services

    world = assistant_world("nt-db")

    def broken(*args, **kwargs):
        raise DatabaseError("disk full")

    monkeypatch.setattr(services.Notification.objects, "for_workspace", broken)
    draft = run_pipeline(customer_writes(world.channel, FORBIDDEN))
    assert draft.status == DraftStatus.ESCALATED
    draft.conversation.refresh_from_db()
    assert draft.conversation.needs_human


def test_a_draft_waiting_for_review_notifies_once_and_sends_no_email(
    django_capture_on_commit_callbacks, mailoutbox
):
    world = assistant_world("nt-rv")
    with django_capture_on_commit_callbacks(execute=True):
        draft = run_pipeline(customer_writes(world.channel, IN_SCOPE))
    assert draft.status == DraftStatus.PENDING_REVIEW
    waiting = notes(world.workspace, kind=NotificationKind.REVIEW_WAITING)
    # Nobody has the conversation yet: the admins and owners dispatch it.
    assert {n.user for n in waiting} == {world.admin, world.owner}
    assert run_email_jobs() == [] and mailoutbox == []
    run_pipeline(draft.inbound_message)  # the job again: no second draft, no second notification
    assert len(notes(world.workspace, kind=NotificationKind.REVIEW_WAITING)) == 2


def test_assigning_a_conversation_to_someone_else_notifies_them_but_not_oneself(client):
    world = world_make("nt-as")
    conversation = conversation_make(world.workspace, name="Budi")
    url = reverse("inbox:assign", args=[world.workspace.slug, conversation.pk])
    client.force_login(world.admin)

    client.post(url, {"assignee": world.agent.pk})
    client.post(url, {"assignee": world.agent.pk})  # saved again, unchanged: no new notification
    client.post(url, {"assignee": world.admin.pk})

    [note] = notes(world.workspace)
    assert (note.user, note.kind) == (world.agent, NotificationKind.ASSIGNED)
    assert note.text == f"{world.admin.email} assigned you the conversation with Budi."


def test_an_agent_escalating_a_colleagues_conversation_notifies_the_colleague(client):
    world = world_make("nt-me")
    conversation = conversation_make(world.workspace, assignee=world.admin)
    client.force_login(world.agent)
    client.post(reverse("inbox:escalate", args=[world.workspace.slug, conversation.pk]))
    [note] = notes(world.workspace)
    assert (note.user, note.kind) == (world.admin, NotificationKind.ESCALATED)


def test_escalating_a_conversation_one_takes_oneself_notifies_nobody(client):
    world = world_make("nt-self")
    conversation = conversation_make(world.workspace)
    client.force_login(world.agent)
    client.post(reverse("inbox:escalate", args=[world.workspace.slug, conversation.pk]))
    assert notes(world.workspace) == []


# --- the bell and the page ------------------------------------------------------------------


def notify(world, user, text="Hello", kind=NotificationKind.ASSIGNED, conversation=None):
    return Notification.objects.for_workspace(world.workspace).create(
        workspace=world.workspace,
        user=user,
        kind=kind,
        conversation=conversation or conversation_make(world.workspace),
        text=text,
    )


def test_the_bell_shows_my_unread_count_with_one_query(client):
    world = world_make("nt-bell")
    for n in range(3):
        notify(world, world.agent, text=f"mine {n}")
    notify(world, world.admin, text="someone else's")
    client.force_login(world.agent)
    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("tenancy:team", args=[world.workspace.slug])).content.decode()
    assert 'aria-label="Notifications: 3 unread"' in page
    bell = [q for q in queries.captured_queries if "notifications_notification" in q["sql"]]
    assert len(bell) == 1


def test_the_page_lists_only_my_notifications_newest_first(client):
    world = world_make("nt-page")
    notify(world, world.agent, text="older one")
    notify(world, world.agent, text="newer one")
    notify(world, world.admin, text="the admin's own")
    client.force_login(world.agent)
    page = client.get(reverse("notifications:index", args=[world.workspace.slug])).content.decode()
    assert page.index("newer one") < page.index("older one")
    assert "the admin's own" not in page
    assert "Mark all as read" in page


def test_opening_a_notification_marks_it_read_and_goes_to_the_conversation(client):
    world = world_make("nt-open")
    note = notify(world, world.agent)
    client.force_login(world.agent)
    url = reverse("notifications:read", args=[world.workspace.slug, note.pk])
    response = client.post(url, {"open": "1"})
    assert response["Location"] == reverse(
        "inbox:thread", args=[world.workspace.slug, note.conversation_id]
    )
    note.refresh_from_db()
    assert note.read_at is not None


def test_mark_all_read_clears_the_bell(client):
    world = world_make("nt-all")
    for _ in range(2):
        notify(world, world.agent)
    other = notify(world, world.admin)
    client.force_login(world.agent)
    response = client.post(
        reverse("notifications:read-all", args=[world.workspace.slug]), follow=True
    )
    assert "Marked 2 notifications as read." in response.content.decode()
    assert 'aria-label="Notifications"' in response.content.decode()
    other.refresh_from_db()
    assert other.read_at is None  # someone else's stays unread


def test_another_members_notification_is_404_and_stays_unread(client):
    world = world_make("nt-404")
    theirs = notify(world, world.admin)
    client.force_login(world.agent)
    url = reverse("notifications:read", args=[world.workspace.slug, theirs.pk])
    assert client.post(url).status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_a_notification_of_another_workspace_is_404_through_my_workspace_url(client):
    world = world_make("nt-ws-a")
    other = world_make("nt-ws-b")
    foreign = notify(other, other.agent)
    client.force_login(world.agent)
    url = reverse("notifications:read", args=[world.workspace.slug, foreign.pk])
    assert client.post(url).status_code == 404


def test_the_list_pages_by_fifty(client):
    world = world_make("nt-pages")
    conversation = conversation_make(world.workspace)
    for n in range(55):
        notify(world, world.agent, text=f"note {n:02d}", conversation=conversation)
    client.force_login(world.agent)
    first = client.get(reverse("notifications:index", args=[world.workspace.slug]))
    assert len(first.context["notifications"]) == 50 and first.context["older_url"]
    second = client.get(first.context["older_url"])
    assert [n.text for n in second.context["notifications"]] == [
        f"note {n:02d}" for n in range(4, -1, -1)
    ]
    assert second.context["older_url"] == ""
