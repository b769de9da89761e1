"""An invitation link, end to end through the web client, as the invitee would live it."""

from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.utils import timezone

from chatdesk.tenancy.models import Invitation, Membership, Role
from chatdesk.tenancy.services import invitation_create, invitation_revoke, workspace_create
from tests.tenancy.factories import PASSWORD, user_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def workspace():
    return workspace_create(name="Acme", slug="acme")


@pytest.fixture
def invitation(workspace):
    invitation, _ = invitation_create(workspace=workspace, email="ana@example.com", role="admin")
    return invitation


def link(invitation):
    return f"/invitations/{invitation.token}/"


def signup(client, email, password=PASSWORD):
    return client.post(
        "/accounts/signup/", {"email": email, "password1": password, "password2": password}
    )


def test_signup_is_closed_without_an_invitation(client):
    response = client.get("/accounts/signup/")
    assert "account/signup_closed.html" in [t.name for t in response.templates]
    signup(client, "walk-in@example.com")
    assert not get_user_model().objects.filter(email="walk-in@example.com").exists()


def test_anonymous_invitee_signs_up_and_lands_in_the_workspace_without_a_second_email(
    client, workspace, invitation, mailoutbox
):
    page = client.get(link(invitation))
    assert page.status_code == 200
    assert b"Create your account" in page.content

    form = client.get("/accounts/signup/")
    assert "account/signup.html" in [t.name for t in form.templates]
    assert b'value="ana@example.com"' in form.content  # pre-filled from the invitation

    response = signup(client, "ana@example.com")
    assert response.status_code == 302
    assert response["Location"] == "/w/acme/"
    user = get_user_model().objects.get(email="ana@example.com")
    assert Membership.objects.for_workspace(workspace).get(user=user).role == Role.ADMIN
    assert EmailAddress.objects.get(user=user).verified
    assert mailoutbox == []  # clicking the emailed link already proved the address
    home = client.get("/w/acme/")
    assert home.status_code == 200
    assert b"admin" in home.content


def test_signing_up_with_another_address_needs_verification_and_does_not_join(
    client, workspace, invitation, mailoutbox
):
    client.get(link(invitation))
    response = signup(client, "someone-else@example.com")
    assert response.status_code == 302
    assert "/w/" not in response["Location"]
    user = get_user_model().objects.get(email="someone-else@example.com")
    assert not EmailAddress.objects.get(user=user).verified
    assert [m.to for m in mailoutbox] == [["someone-else@example.com"]]  # verification email
    assert not EmailAddress.objects.filter(email="ana@example.com").exists()
    assert not Membership.objects.for_workspace(workspace).exists()


def test_existing_user_signs_in_from_the_invitation_and_joins(client, workspace, invitation):
    user = user_make("ana@example.com")
    page = client.get(link(invitation))
    assert b"Sign in" in page.content
    response = client.post("/accounts/login/", {"login": "ana@example.com", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/w/acme/"
    assert Membership.objects.for_workspace(workspace).get(user=user).role == Role.ADMIN
    invitation.refresh_from_db()
    assert invitation.accepted_by == user


def test_signing_in_as_another_account_explains_the_mismatch(client, workspace, invitation):
    user_make("mallory@example.com")
    client.get(link(invitation))
    response = client.post(
        "/accounts/login/", {"login": "mallory@example.com", "password": PASSWORD}
    )
    assert response["Location"] == link(invitation)
    page = client.get(link(invitation))
    assert page.status_code == 403
    assert b"This invitation is for ana@example.com" in page.content
    assert not Membership.objects.for_workspace(workspace).exists()


def test_signed_in_invitee_joins_with_a_post_button(client, workspace, invitation):
    user = user_make("ana@example.com")
    client.force_login(user)
    page = client.get(link(invitation))
    assert page.status_code == 200
    assert b"Join Acme" in page.content
    assert not Membership.objects.for_workspace(workspace).exists()  # GET changes nothing
    response = client.post(link(invitation))
    assert response["Location"] == "/w/acme/"
    assert Membership.objects.for_workspace(workspace).get(user=user).role == Role.ADMIN
    # The link opened again later just leads to the workspace.
    assert client.get(link(invitation))["Location"] == "/w/acme/"


def test_signed_in_user_with_another_address_cannot_accept(client, workspace, invitation):
    client.force_login(user_make("mallory@example.com"))
    response = client.post(link(invitation))
    assert response.status_code == 403
    assert b"Sign in with that address" in response.content
    assert not Membership.objects.for_workspace(workspace).exists()


def test_unknown_token_is_a_404_page(client, db):
    response = client.get("/invitations/not-a-real-token/")
    assert response.status_code == 404
    assert b"not valid" in response.content


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        ("expire", b"expired"),
        ("revoke", b"withdrawn"),
        ("use", b"already been used"),
    ],
)
def test_expired_revoked_or_used_invitation_is_410_and_opens_no_signup(
    client, invitation, spoil, reason
):
    if spoil == "expire":
        Invitation.objects.for_workspace(invitation.workspace).filter(pk=invitation.pk).update(
            expires_at=timezone.now() - timedelta(minutes=1)
        )
    elif spoil == "revoke":
        invitation_revoke(invitation=invitation)
    else:
        Invitation.objects.for_workspace(invitation.workspace).filter(pk=invitation.pk).update(
            accepted_at=timezone.now(), accepted_by=user_make("ana@example.com")
        )
    response = client.get(link(invitation))
    assert response.status_code == 410
    assert reason in response.content
    closed = client.get("/accounts/signup/")
    assert "account/signup_closed.html" in [t.name for t in closed.templates]


def test_invitation_revoked_after_opening_the_link_closes_signup_again(client, invitation):
    client.get(link(invitation))
    invitation_revoke(invitation=invitation)
    signup(client, "ana@example.com")
    assert not get_user_model().objects.filter(email="ana@example.com").exists()


def test_social_signup_needs_an_invitation_too(rf, client, invitation):
    from importlib import import_module

    from django.conf import settings

    from chatdesk.accounts.adapter import SocialAccountAdapter

    SessionStore = import_module(settings.SESSION_ENGINE).SessionStore

    request = rf.get("/accounts/oidc/login/callback/")
    request.session = SessionStore()
    adapter = SocialAccountAdapter(request)
    assert adapter.is_open_for_signup(request, sociallogin=None) is False

    client.get(link(invitation))  # the visitor opens their invitation first
    request.session = SessionStore(session_key=client.session.session_key)
    assert adapter.is_open_for_signup(request, sociallogin=None) is True
