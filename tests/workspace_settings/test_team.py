"""Settings > Team: invite, change roles, remove members; the owner rules; every change audited."""

import pytest

from chatdesk.audit.models import AuditAction
from chatdesk.crm.models import Conversation
from chatdesk.messaging.services import contact_upsert, conversation_for_contact
from chatdesk.tenancy.models import Invitation, Membership, Role
from chatdesk.tenancy.services import invitation_create, membership_create
from tests.factories import make_channel
from tests.tenancy.factories import user_make
from tests.workspace_settings.helpers import CLIENT_AGENT, CLIENT_IP, audit_events, url

pytestmark = pytest.mark.django_db


def membership(world, user) -> Membership:
    return Membership.objects.for_workspace(world.workspace).get(user=user)


def change_role(client, world, user, role):
    return client.post(
        url("member-role", world, membership_id=membership(world, user).pk),
        {"role": role},
        REMOTE_ADDR=CLIENT_IP,
        HTTP_USER_AGENT=CLIENT_AGENT,
    )


def remove(client, world, user):
    return client.post(
        url("member-remove", world, membership_id=membership(world, user).pk),
        REMOTE_ADDR=CLIENT_IP,
        HTTP_USER_AGENT=CLIENT_AGENT,
    )


def test_team_settings_lists_members_invitations_and_links_the_read_only_team_page(client, world_a):
    client.force_login(world_a.admin)
    html = client.get(url("team", world_a)).content.decode()
    for email in (world_a.owner.email, world_a.admin.email, world_a.agent.email):
        assert email in html
    assert world_a.invitation.email in html
    assert f'href="/w/{world_a.workspace.slug}/team/"' in html
    # And the read-only team page points admins to Settings.
    team = client.get(f"/w/{world_a.workspace.slug}/team/").content.decode()
    assert f'href="{url("team", world_a)}"' in team


def test_admin_promotes_an_agent_and_the_change_is_audited_with_actor_and_ip(client, world_a):
    client.force_login(world_a.admin)
    response = change_role(client, world_a, world_a.agent, "admin")
    assert response.status_code == 302
    assert membership(world_a, world_a.agent).role == Role.ADMIN
    [event] = audit_events(world_a)
    assert event.action == AuditAction.MEMBER_ROLE_CHANGED
    assert event.actor == world_a.admin and event.actor_label == world_a.admin.email
    assert event.target_label == world_a.agent.email
    assert event.details == {"from": "agent", "to": "admin"}
    assert event.ip_address == CLIENT_IP and event.user_agent == CLIENT_AGENT
    assert "is now Admin" in client.get(response["Location"]).content.decode()


def test_setting_the_role_a_member_already_has_changes_and_records_nothing(client, world_a):
    client.force_login(world_a.admin)
    assert change_role(client, world_a, world_a.agent, "agent").status_code == 302
    assert audit_events(world_a) == []


def test_only_owners_can_make_someone_owner(client, world_a):
    client.force_login(world_a.admin)
    response = change_role(client, world_a, world_a.agent, "owner")
    assert response.status_code == 400
    assert "Choose a valid role" in response.content.decode()
    assert membership(world_a, world_a.agent).role == Role.AGENT

    client.force_login(world_a.owner)
    assert change_role(client, world_a, world_a.agent, "owner").status_code == 302
    assert membership(world_a, world_a.agent).role == Role.OWNER


@pytest.mark.parametrize("action", ["demote", "remove"])
def test_admins_cannot_demote_or_remove_an_owner(client, world_a, action):
    client.force_login(world_a.admin)
    if action == "demote":
        response = change_role(client, world_a, world_a.owner, "agent")
    else:
        response = remove(client, world_a, world_a.owner)
    assert response.status_code == 403
    assert membership(world_a, world_a.owner).role == Role.OWNER
    assert audit_events(world_a) == []


def test_the_last_owner_cannot_demote_themselves(client, world_a):
    client.force_login(world_a.owner)
    response = change_role(client, world_a, world_a.owner, "admin")
    assert response.status_code == 400
    assert "only owner of this workspace and cannot be demoted" in response.content.decode()
    assert membership(world_a, world_a.owner).role == Role.OWNER
    assert audit_events(world_a) == []


def test_the_last_owner_cannot_leave(client, world_a):
    client.force_login(world_a.owner)
    response = remove(client, world_a, world_a.owner)
    assert response.status_code == 400
    assert "You are the only owner of this workspace and cannot leave" in (
        response.content.decode()
    )
    assert Membership.objects.for_workspace(world_a.workspace).filter(user=world_a.owner)
    assert audit_events(world_a) == []


def test_with_a_second_owner_the_first_may_step_down_and_the_last_one_is_protected(client, world_a):
    client.force_login(world_a.owner)
    change_role(client, world_a, world_a.admin, "owner")
    assert change_role(client, world_a, world_a.owner, "admin").status_code == 302
    # world_a.admin is now the only owner: nobody can demote them, not even themselves.
    client.force_login(world_a.admin)
    assert change_role(client, world_a, world_a.admin, "agent").status_code == 400
    assert membership(world_a, world_a.admin).role == Role.OWNER


def test_an_owner_leaves_when_another_owner_remains(client, world_a):
    client.force_login(world_a.owner)
    change_role(client, world_a, world_a.admin, "owner")
    response = remove(client, world_a, world_a.owner)
    assert response.status_code == 302 and response["Location"] == "/"
    assert not Membership.objects.for_workspace(world_a.workspace).filter(user=world_a.owner)
    removal = audit_events(world_a)[-1]
    assert removal.action == AuditAction.MEMBER_REMOVED
    assert removal.details["left"] is True and removal.details["role"] == "owner"
    assert client.get(f"/w/{world_a.workspace.slug}/").status_code == 404


def test_removing_a_member_is_audited_ends_their_access_and_unassigns_their_work(client, world_a):
    channel = make_channel(world_a.workspace)
    contact = contact_upsert(channel=channel, wa_id="6281200000001", name="Rina")
    contact.owner = world_a.agent
    contact.save()
    conversation = conversation_for_contact(channel=channel, contact=contact)
    conversation.assignee = world_a.agent
    conversation.save()

    client.force_login(world_a.admin)
    response = remove(client, world_a, world_a.agent)
    assert response.status_code == 302
    assert "1 conversation(s) and 1 contact(s) are now unassigned" in (
        client.get(response["Location"]).content.decode()
    )
    [event] = audit_events(world_a)
    assert event.action == AuditAction.MEMBER_REMOVED
    assert event.actor == world_a.admin and event.ip_address == CLIENT_IP
    assert event.target_label == world_a.agent.email
    assert event.details == {
        "role": "agent",
        "left": False,
        "conversations_unassigned": 1,
        "contacts_released": 1,
    }
    assert Conversation.objects.for_workspace(world_a.workspace).get().assignee is None
    contact.refresh_from_db()
    assert contact.owner is None

    client.force_login(world_a.agent)
    assert client.get(f"/w/{world_a.workspace.slug}/inbox/").status_code == 404


def test_admin_who_makes_themselves_agent_lands_on_the_read_only_team_page(client, world_a):
    client.force_login(world_a.admin)
    response = change_role(client, world_a, world_a.admin, "agent")
    assert response["Location"] == f"/w/{world_a.workspace.slug}/team/"
    assert client.get(url("team", world_a)).status_code == 403


def test_inviting_from_settings_emails_the_link_and_is_audited(
    client, world_a, mailoutbox, settings
):
    settings.APP_BASE_URL = "https://desk.example.org"
    client.force_login(world_a.admin)
    response = client.post(
        url("team-invite", world_a),
        {"email": "New.Hire@Example.com", "role": "admin"},
        REMOTE_ADDR=CLIENT_IP,
    )
    assert response["Location"] == url("team", world_a)
    invitation = Invitation.objects.for_workspace(world_a.workspace).get(
        email="new.hire@example.com"
    )
    assert invitation.role == Role.ADMIN and invitation.invited_by == world_a.admin
    assert f"https://desk.example.org/invitations/{invitation.token}/" in mailoutbox[0].body
    [event] = audit_events(world_a)
    assert event.action == AuditAction.INVITATION_CREATED
    assert event.target_label == "new.hire@example.com" and event.ip_address == CLIENT_IP
    assert event.details == {"role": "admin", "resent": False}
    # The invitation token is the invitee's credential: it is not in the audit log.
    assert invitation.token not in str(event.details) + event.target_label


@pytest.mark.parametrize(
    ("email", "role", "error"),
    [
        ("not-an-email", "agent", "Enter a valid email address."),
        ("ok@example.com", "owner", "Select a valid choice."),
        ("agent-alpha@example.com", "agent", "already a member"),
    ],
)
def test_bad_invitations_show_the_error_on_the_settings_page(
    client, world_a, mailoutbox, email, role, error
):
    client.force_login(world_a.admin)
    response = client.post(url("team-invite", world_a), {"email": email, "role": role})
    assert response.status_code == 400
    assert error in response.content.decode()
    assert mailoutbox == [] and audit_events(world_a) == []


def test_withdrawing_an_invitation_is_audited(client, world_a):
    client.force_login(world_a.admin)
    response = client.post(
        url("team-invitation-revoke", world_a, invitation_id=world_a.invitation.pk)
    )
    assert response.status_code == 302
    world_a.invitation.refresh_from_db()
    assert world_a.invitation.revoked_at is not None
    [event] = audit_events(world_a)
    assert event.action == AuditAction.INVITATION_REVOKED
    assert event.target_label == world_a.invitation.email


def test_invitations_from_the_read_only_team_page_are_audited_too(client, world_a, mailoutbox):
    client.force_login(world_a.owner)
    slug = world_a.workspace.slug
    client.post(f"/w/{slug}/team/invitations/", {"email": "x@example.com", "role": "agent"})
    client.post(f"/w/{slug}/team/invitations/{world_a.invitation.pk}/revoke/")
    actions = [e.action for e in audit_events(world_a)]
    assert actions == [AuditAction.INVITATION_CREATED, AuditAction.INVITATION_REVOKED]


def test_team_settings_page_runs_a_fixed_number_of_queries(
    client, world_a, django_assert_max_num_queries
):
    for n in range(15):
        user = user_make(f"member{n}@example.com")
        membership_create(workspace=world_a.workspace, user=user, role=Role.AGENT)
        invitation_create(workspace=world_a.workspace, email=f"inv{n}@example.com")
    client.force_login(world_a.admin)
    with django_assert_max_num_queries(12):
        assert client.get(url("team", world_a)).status_code == 200
