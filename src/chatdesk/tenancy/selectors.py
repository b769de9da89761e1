"""Reads on workspaces, memberships and invitations (`<entity>_<action>`, keyword-only)."""

from __future__ import annotations

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.utils import timezone

from chatdesk.tenancy.models import Invitation, Membership, Role, Workspace


def workspace_list_for_user(*, user: AbstractBaseUser) -> QuerySet[Workspace]:
    if not user.is_authenticated:
        return Workspace.objects.none()
    return Workspace.objects.filter(
        pk__in=Membership.dangerously_unscoped_objects.filter(user=user).values("workspace_id")
    )


def workspace_get_by_slug(*, slug: str) -> Workspace | None:
    return Workspace.objects.filter(slug=slug).first()


def membership_get(*, user: AbstractBaseUser, workspace: Workspace) -> Membership | None:
    if not user.is_authenticated:
        return None
    return Membership.objects.for_workspace(workspace).filter(user=user).first()


def membership_list(*, workspace: Workspace) -> QuerySet[Membership]:
    return Membership.objects.for_workspace(workspace).select_related("user")


def membership_get_by_email(*, workspace: Workspace, email: str) -> Membership | None:
    return (
        Membership.objects.for_workspace(workspace)
        .filter(user__email__iexact=email.strip())
        .select_related("user")
        .first()
    )


def invitation_list_pending(*, workspace: Workspace) -> QuerySet[Invitation]:
    return (
        Invitation.objects.for_workspace(workspace)
        .filter(accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now())
        .select_related("invited_by")
    )


def invitation_get_open_for_email(*, workspace: Workspace, email: str) -> Invitation | None:
    """The not yet accepted or revoked invitation of this address (possibly expired)."""
    return (
        Invitation.objects.for_workspace(workspace)
        .filter(email=email.strip().lower(), accepted_at__isnull=True, revoked_at__isnull=True)
        .first()
    )


def invitation_get_by_token(*, token: str) -> Invitation | None:
    """The token is the credential: whoever holds it may see which workspace invited them."""
    if not token or len(token) > 64:
        return None
    return (
        Invitation.dangerously_unscoped_objects.select_related("workspace")
        .filter(token=token)
        .first()
    )


def workspace_has_accepted_owner(*, workspace: Workspace | None = None) -> bool:
    owners = Membership.dangerously_unscoped_objects.filter(role=Role.OWNER)
    if workspace is not None:
        owners = owners.filter(workspace=workspace)
    return owners.exists()


def user_has_email(*, user: AbstractBaseUser, email: str) -> bool:
    """True when `email` is the user's account address or one of their verified addresses.

    Unverified addresses never count: anyone can type an address into their profile.
    """
    email = email.strip().lower()
    if (getattr(user, "email", "") or "").strip().lower() == email:
        return True
    return EmailAddress.objects.filter(user=user, email=email, verified=True).exists()


def user_exists_with_email(*, email: str) -> bool:
    return get_user_model().objects.filter(email__iexact=email.strip()).exists()
