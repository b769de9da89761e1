from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.utils import timezone

from chatdesk.tenancy.models import Invitation, Membership, Role
from chatdesk.tenancy.services import (
    InvitationError,
    invitation_accept,
    invitation_create,
    invitation_revoke,
    membership_create,
    workspace_create,
)
from tests.tenancy.factories import user_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def workspace():
    return workspace_create(name="Acme", slug="acme")


def test_inviting_the_same_address_twice_keeps_one_invitation(workspace):
    first, created_first = invitation_create(workspace=workspace, email="Ana@Example.com")
    second, created_second = invitation_create(
        workspace=workspace, email=" ana@example.com ", role=Role.ADMIN
    )
    assert (created_first, created_second) == (True, False)
    assert first.pk == second.pk
    assert Invitation.objects.for_workspace(workspace).count() == 1
    second.refresh_from_db()
    assert second.role == Role.ADMIN  # the latest invitation's role wins


def test_reinviting_extends_an_expired_invitation_instead_of_adding_one(workspace):
    invitation, _ = invitation_create(workspace=workspace, email="ana@example.com")
    Invitation.objects.for_workspace(workspace).update(expires_at=timezone.now())
    again, created = invitation_create(workspace=workspace, email="ana@example.com")
    assert not created and again.pk == invitation.pk
    assert again.is_pending


def test_accepting_creates_the_membership_with_the_invited_role(workspace):
    invitation, _ = invitation_create(workspace=workspace, email="ana@example.com", role="admin")
    user = user_make("ana@example.com")
    membership = invitation_accept(invitation=invitation, user=user)
    assert membership.role == Role.ADMIN
    assert Membership.objects.for_workspace(workspace).filter(user=user).count() == 1
    invitation.refresh_from_db()
    assert invitation.accepted_by == user and invitation.accepted_at is not None


def test_accepting_twice_by_the_same_user_is_harmless(workspace):
    invitation, _ = invitation_create(workspace=workspace, email="ana@example.com")
    user = user_make("ana@example.com")
    invitation_accept(invitation=invitation, user=user)
    invitation_accept(invitation=invitation, user=user)
    assert Membership.objects.for_workspace(workspace).filter(user=user).count() == 1


def test_an_invitation_used_by_someone_is_refused_to_anyone_else(workspace):
    invitation, _ = invitation_create(workspace=workspace, email="ana@example.com")
    invitation_accept(invitation=invitation, user=user_make("ana@example.com"))
    with pytest.raises(InvitationError, match="already been used"):
        invitation_accept(invitation=invitation, user=user_make("bob@example.com"))


def test_expired_invitation_is_refused(workspace):
    invitation, _ = invitation_create(workspace=workspace, email="ana@example.com")
    invitation.expires_at = timezone.now() - timedelta(seconds=1)
    invitation.save()
    with pytest.raises(InvitationError, match="expired"):
        invitation_accept(invitation=invitation, user=user_make("ana@example.com"))
    assert not Membership.objects.for_workspace(workspace).exists()


def test_revoked_invitation_is_refused(workspace):
    invitation, _ = invitation_create(workspace=workspace, email="ana@example.com")
    invitation_revoke(invitation=invitation)
    with pytest.raises(InvitationError, match="withdrawn"):
        invitation_accept(invitation=invitation, user=user_make("ana@example.com"))
    assert not Membership.objects.for_workspace(workspace).exists()


def test_invitation_for_another_address_is_refused(workspace):
    invitation, _ = invitation_create(workspace=workspace, email="ana@example.com")
    with pytest.raises(InvitationError, match=r"ana@example\.com"):
        invitation_accept(invitation=invitation, user=user_make("mallory@example.com"))
    invitation.refresh_from_db()
    assert invitation.accepted_at is None


def test_an_unverified_secondary_address_does_not_match(workspace):
    invitation, _ = invitation_create(workspace=workspace, email="ana@example.com")
    user = user_make("mallory@example.com")
    EmailAddress.objects.create(user=user, email="ana@example.com", verified=False)
    with pytest.raises(InvitationError):
        invitation_accept(invitation=invitation, user=user)


def test_a_verified_secondary_address_matches(workspace):
    invitation, _ = invitation_create(workspace=workspace, email="ana@work.example.com")
    user = user_make("ana@home.example.com")
    EmailAddress.objects.create(user=user, email="ana@work.example.com", verified=True)
    assert invitation_accept(invitation=invitation, user=user).role == Role.AGENT


def test_accepting_a_lower_role_never_downgrades_an_existing_member(workspace):
    user = user_make("ana@example.com")
    membership_create(workspace=workspace, user=user, role=Role.OWNER)
    invitation, _ = invitation_create(workspace=workspace, email="ana@example.com", role="agent")
    assert invitation_accept(invitation=invitation, user=user).role == Role.OWNER
    assert Membership.objects.for_workspace(workspace).get(user=user).role == Role.OWNER


def test_accepting_a_higher_role_promotes_an_existing_member(workspace):
    user = user_make("ana@example.com")
    membership_create(workspace=workspace, user=user, role=Role.AGENT)
    invitation, _ = invitation_create(workspace=workspace, email="ana@example.com", role="admin")
    assert invitation_accept(invitation=invitation, user=user).role == Role.ADMIN
