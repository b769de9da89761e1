import pytest

from chatdesk.tenancy.models import Invitation, Role
from chatdesk.tenancy.services import invitation_accept, invitation_create
from tests.tenancy.factories import user_make

pytestmark = pytest.mark.django_db


def team_url(world):
    return f"/w/{world.workspace.slug}/team/"


def invite(client, world, email, role="agent"):
    return client.post(f"{team_url(world)}invitations/", {"email": email, "role": role})


def pending(world):
    return Invitation.objects.for_workspace(world.workspace).filter(
        accepted_at__isnull=True, revoked_at__isnull=True
    )


def test_agent_sees_members_but_not_invitations_or_the_invite_form(client, world_a):
    client.force_login(world_a.agent)
    page = client.get(team_url(world_a))
    assert page.status_code == 200
    html = page.content.decode()
    assert world_a.owner.email in html and world_a.admin.email in html
    assert world_a.invitation.email not in html
    assert "Send invitation" not in html


def test_admin_invites_by_email_and_the_invitee_gets_a_link_to_app_base_url(
    client, world_a, mailoutbox, settings
):
    settings.APP_BASE_URL = "https://desk.example.org"
    client.force_login(world_a.admin)
    response = invite(client, world_a, "New.Person@Example.com", "admin")
    assert response["Location"] == team_url(world_a)
    invitation = pending(world_a).get(email="new.person@example.com")
    assert invitation.role == Role.ADMIN and invitation.invited_by == world_a.admin
    assert mailoutbox[0].to == ["new.person@example.com"]
    assert f"https://desk.example.org/invitations/{invitation.token}/" in mailoutbox[0].body
    assert "new.person@example.com" in client.get(team_url(world_a)).content.decode()


def test_inviting_the_same_address_again_resends_without_duplicating(client, world_a, mailoutbox):
    client.force_login(world_a.admin)
    invite(client, world_a, "again@example.com")
    response = invite(client, world_a, "again@example.com")
    assert pending(world_a).filter(email="again@example.com").count() == 1
    token = pending(world_a).get(email="again@example.com").token
    assert len(mailoutbox) == 2
    assert all(token in m.body for m in mailoutbox)  # the same, still valid link
    assert "sent again" in client.get(response["Location"]).content.decode()


@pytest.mark.parametrize(
    ("email", "role", "error"),
    [
        ("not-an-email", "agent", "Enter a valid email address."),
        ("ok@example.com", "superuser", "Select a valid choice."),
        ("ok@example.com", "owner", "Select a valid choice."),  # admins cannot invite owners
        ("owner-alpha@example.com", "agent", "already a member"),
    ],
)
def test_bad_invitation_input_shows_a_form_error_and_changes_nothing(
    client, world_a, mailoutbox, email, role, error
):
    client.force_login(world_a.admin)
    response = invite(client, world_a, email, role)
    assert response.status_code == 400
    assert error in response.content.decode()
    assert pending(world_a).count() == 1  # only the fixture's invitation
    assert mailoutbox == []


def test_owner_may_invite_an_owner(client, world_a, mailoutbox):
    client.force_login(world_a.owner)
    invite(client, world_a, "co-owner@example.com", "owner")
    assert pending(world_a).get(email="co-owner@example.com").role == Role.OWNER


def test_admin_cannot_rewrite_or_withdraw_an_owner_invitation(client, world_a, mailoutbox):
    owner_invite, _ = invitation_create(
        workspace=world_a.workspace, email="boss@example.com", role=Role.OWNER
    )
    client.force_login(world_a.admin)
    response = invite(client, world_a, "boss@example.com", "agent")
    assert response.status_code == 400
    response = client.post(f"{team_url(world_a)}invitations/{owner_invite.pk}/revoke/")
    assert response.status_code == 403
    owner_invite.refresh_from_db()
    assert owner_invite.role == Role.OWNER and owner_invite.is_pending
    assert mailoutbox == []


def test_admin_withdraws_a_pending_invitation(client, world_a):
    client.force_login(world_a.admin)
    response = client.post(f"{team_url(world_a)}invitations/{world_a.invitation.pk}/revoke/")
    assert response["Location"] == team_url(world_a)
    world_a.invitation.refresh_from_db()
    assert world_a.invitation.revoked_at is not None
    assert client.get(f"/invitations/{world_a.invitation.token}/").status_code == 410


def test_revoke_and_invite_refuse_get(client, world_a):
    client.force_login(world_a.owner)
    assert client.get(f"{team_url(world_a)}invitations/").status_code == 405
    revoke = f"{team_url(world_a)}invitations/{world_a.invitation.pk}/revoke/"
    assert client.get(revoke).status_code == 405
    world_a.invitation.refresh_from_db()
    assert world_a.invitation.is_pending


def test_an_accepted_invitation_cannot_be_withdrawn(client, world_a):
    invitee = user_make(world_a.invitation.email)
    invitation_accept(invitation=world_a.invitation, user=invitee)
    client.force_login(world_a.owner)
    response = client.post(f"{team_url(world_a)}invitations/{world_a.invitation.pk}/revoke/")
    assert response.status_code == 404
    world_a.invitation.refresh_from_db()
    assert world_a.invitation.revoked_at is None


def test_a_failed_email_keeps_the_invitation_and_says_to_retry(client, world_a, monkeypatch):
    def broken_send(*args, **kwargs):
        raise ConnectionError("provider down")

    monkeypatch.setattr("chatdesk.tenancy.services.send_mail", broken_send)
    client.force_login(world_a.admin)
    response = invite(client, world_a, "later@example.com")
    assert pending(world_a).filter(email="later@example.com").exists()
    page = client.get(response["Location"]).content.decode()
    assert "could not be sent" in page
