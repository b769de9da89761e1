"""The audit log: recorded without secrets, listed newest first with keyset pages, filtered by
action, visible to admins of the workspace only."""

from datetime import timedelta

import pytest
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from chatdesk.audit.models import AuditAction, AuditEvent
from chatdesk.audit.selectors import Cursor, audit_event_list
from chatdesk.audit.services import audit_actor, audit_record, audit_system_actor

pytestmark = pytest.mark.django_db


def log_url(world, **params) -> str:
    path = reverse("workspace_settings:audit", kwargs={"workspace_slug": world.workspace.slug})
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return f"{path}?{query}" if query else path


def record_many(world, count: int, *, action=AuditAction.MEMBER_ROLE_CHANGED, at=None):
    """`count` entries; with `at`, all in the same microsecond (keyset must still be exact)."""
    events = []
    for n in range(count):
        event = audit_record(
            workspace=world.workspace,
            action=action,
            actor=audit_system_actor("test"),
            target_label=f"member{n:03d}@example.com",
            details={"n": n},
        )
        if at is not None:
            AuditEvent.objects.for_workspace(world.workspace).filter(pk=event.pk).update(
                created_at=at
            )
        events.append(event)
    return events


@pytest.mark.parametrize(
    "details",
    [
        {"api_token": "x"},
        {"changes": {"signing_secret": {"from": "a", "to": "b"}}},
        {"items": [{"Password": "p"}]},
        {"verify_token": None},
    ],
)
def test_audit_record_refuses_details_that_look_like_secrets(world_a, details):
    with pytest.raises(ValueError, match="must not hold secrets"):
        audit_record(
            workspace=world_a.workspace,
            action=AuditAction.CHANNEL_CREDENTIALS_UPDATED,
            actor=audit_system_actor("test"),
            details=details,
        )
    assert not AuditEvent.objects.for_workspace(world_a.workspace).exists()


def test_audit_record_refuses_an_undeclared_action(world_a):
    with pytest.raises(ValueError):
        audit_record(workspace=world_a.workspace, action="made.up", actor=audit_system_actor("t"))


def test_the_actor_address_is_the_client_behind_the_trusted_proxy(world_a, settings):
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    request = RequestFactory().post(
        "/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.50"
    )
    request.user = world_a.admin
    actor = audit_actor(request)
    # The proxy appended the real client; the first entry was typed by the client itself.
    assert actor.ip_address == "203.0.113.50"
    assert actor.user == world_a.admin


def test_without_a_proxy_the_forwarded_header_is_ignored(world_a, settings):
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 0
    request = RequestFactory().post("/", REMOTE_ADDR="198.51.100.9", HTTP_X_FORWARDED_FOR="6.6.6.6")
    request.user = world_a.admin
    assert audit_actor(request).ip_address == "198.51.100.9"


def test_the_log_lists_newest_first_with_who_what_and_from_where(client, world_a):
    client.force_login(world_a.owner)
    client.post(
        reverse(
            "workspace_settings:team-invite", kwargs={"workspace_slug": world_a.workspace.slug}
        ),
        {"email": "first@example.com", "role": "agent"},
        REMOTE_ADDR="198.51.100.77",
        HTTP_USER_AGENT="Firefox/150",
    )
    record_many(world_a, 1, action=AuditAction.ASSISTANT_CONFIG_CHANGED)
    html = client.get(log_url(world_a)).content.decode()
    assert html.index("<td>Assistant configuration changed</td>") < html.index(
        "<td>Invitation sent</td>"
    )
    assert world_a.owner.email in html and "first@example.com" in html
    assert "198.51.100.77" in html and "Firefox/150" in html


def test_keyset_pages_cover_every_entry_once_even_with_equal_timestamps(client, world_a):
    same_instant = timezone.now() - timedelta(hours=1)
    events = record_many(world_a, 30, at=same_instant) + record_many(world_a, 40)
    first = audit_event_list(workspace=world_a.workspace, limit=50)
    second = audit_event_list(workspace=world_a.workspace, after=first.next_cursor, limit=50)
    assert len(first.events) == 50 and len(second.events) == 20
    assert second.next_cursor is None
    seen = [e.pk for e in first.events + second.events]
    assert sorted(seen) == sorted(e.pk for e in events) and len(set(seen)) == 70
    assert seen == sorted(seen, reverse=True)  # newest first (ids follow creation here)

    client.force_login(world_a.admin)
    page = client.get(log_url(world_a)).content.decode()
    assert f"after={first.next_cursor}" in page
    older = client.get(log_url(world_a, after=first.next_cursor)).content.decode()
    assert "member000@example.com" in older and "member039@example.com" not in older
    assert "Older entries" not in older


def test_older_entries_through_htmx_come_back_as_rows_only(client, world_a):
    record_many(world_a, 55)
    first = audit_event_list(workspace=world_a.workspace)
    client.force_login(world_a.admin)
    response = client.get(log_url(world_a, after=first.next_cursor), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.count("<tr") == 5 and "<html" not in html and "<table" not in html


def test_the_log_filters_by_action(client, world_a):
    record_many(world_a, 3, action=AuditAction.CHANNEL_ACTIVATED)
    record_many(world_a, 2, action=AuditAction.MEMBER_REMOVED)
    client.force_login(world_a.admin)
    html = client.get(log_url(world_a, action="member.removed")).content.decode()
    assert html.count("<td>Member removed</td>") == 2
    assert "<td>Channel activated</td>" not in html


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"action": "drop.tables"}, "Select a valid choice"),
        ({"after": "yesterday"}, "This page link is not valid"),
        ({"after": "99999999999999999999_1"}, "This page link is not valid"),
    ],
)
def test_bad_filters_get_a_clear_error(client, world_a, params, error):
    client.force_login(world_a.admin)
    response = client.get(log_url(world_a, **params))
    assert response.status_code == 400
    assert error in response.content.decode()


def test_a_cursor_survives_its_round_trip_through_the_url(world_a):
    [event] = record_many(world_a, 1)
    cursor = Cursor(created_at=event.created_at, id=event.pk)
    assert Cursor.parse(str(cursor)) == cursor


def test_agents_cannot_read_the_log(client, world_a):
    client.force_login(world_a.agent)
    assert client.get(log_url(world_a)).status_code == 403


def test_a_workspace_log_shows_nothing_of_another_workspace(client, world_a, world_b):
    audit_record(
        workspace=world_b.workspace,
        action=AuditAction.MEMBER_REMOVED,
        actor=audit_system_actor("test"),
        target_label="secret-person-of-b@example.com",
    )
    client.force_login(world_a.owner)
    assert "secret-person-of-b@example.com" not in client.get(log_url(world_a)).content.decode()
    assert client.get(log_url(world_b)).status_code == 404


def test_the_log_page_runs_a_fixed_number_of_queries(
    client, world_a, django_assert_max_num_queries
):
    record_many(world_a, 60)
    client.force_login(world_a.admin)
    with django_assert_max_num_queries(10):
        assert client.get(log_url(world_a)).status_code == 200
