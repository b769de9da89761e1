"""Writes on workspaces, memberships and invitations (`<entity>_<action>`, keyword-only)."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from chatdesk.tenancy.models import Invitation, Membership, Role, Workspace
from chatdesk.tenancy.selectors import user_has_email

logger = logging.getLogger(__name__)

INVITATION_TTL = timedelta(days=7)


class InvitationError(Exception):
    """An invitation cannot be used; the message is safe to show to the person holding it."""


@transaction.atomic
def workspace_create(*, name: str, slug: str, is_demo: bool = False) -> Workspace:
    return Workspace.objects.create(name=name, slug=slug, is_demo=is_demo)


@transaction.atomic
def membership_create(*, workspace: Workspace, user: AbstractBaseUser, role: str) -> Membership:
    membership, created = Membership.objects.for_workspace(workspace).get_or_create(
        user=user, defaults={"role": role, "workspace": workspace}
    )
    if not created and membership.role != role:
        membership.role = role
        membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def invitation_create(
    *,
    workspace: Workspace,
    email: str,
    role: str = Role.AGENT,
    invited_by: AbstractBaseUser | None = None,
) -> tuple[Invitation, bool]:
    """Return the pending invitation for this address, creating it if there is none.

    Re-inviting the same address does not create a second invitation: it extends the existing
    one (and updates its role), so running a setup command twice duplicates nothing.
    """
    email = email.strip().lower()
    expires_at = timezone.now() + INVITATION_TTL
    pending = (
        Invitation.objects.for_workspace(workspace)
        .select_for_update()
        .filter(email=email, accepted_at__isnull=True, revoked_at__isnull=True)
        .first()
    )
    if pending is not None:
        pending.role = role
        pending.expires_at = expires_at
        pending.save(update_fields=["role", "expires_at"])
        return pending, False
    try:
        with transaction.atomic():
            invitation = Invitation.objects.for_workspace(workspace).create(
                workspace=workspace,
                email=email,
                role=role,
                invited_by=invited_by,
                expires_at=expires_at,
            )
    except IntegrityError:  # a concurrent invite of the same address won the race
        invitation = (
            Invitation.objects.for_workspace(workspace)
            .filter(email=email, accepted_at__isnull=True, revoked_at__isnull=True)
            .get()
        )
        return invitation, False
    return invitation, True


def invitation_url(*, invitation: Invitation) -> str:
    path = reverse("tenancy:invitation-accept", kwargs={"token": invitation.token})
    return f"{settings.APP_BASE_URL}{path}"


def invitation_send(*, invitation: Invitation) -> None:
    """Email the invitation link. Links are built from APP_BASE_URL, never from the request."""
    context = {
        "invitation": invitation,
        "workspace": invitation.workspace,
        "accept_url": invitation_url(invitation=invitation),
        "expires_at": invitation.expires_at,
    }
    subject = f"You are invited to {invitation.workspace.name} on chatdesk"
    body = render_to_string("tenancy/email/invitation.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [invitation.email])
    logger.info(
        "invitation sent",
        extra={"workspace_id": invitation.workspace_id, "invitation_id": invitation.pk},
    )


def invitation_validate(*, invitation: Invitation, user: AbstractBaseUser | None = None) -> None:
    """Raise InvitationError when `invitation` cannot be accepted (by `user`, when given).

    An invitation already accepted by this very user is valid: accepting it again is a no-op.
    """
    if invitation.accepted_at is not None:
        if user is None or invitation.accepted_by_id != user.pk:
            raise InvitationError("This invitation has already been used.")
        return
    if invitation.revoked_at is not None:
        raise InvitationError("This invitation was withdrawn. Ask for a new one.")
    if invitation.expires_at <= timezone.now():
        raise InvitationError("This invitation has expired. Ask for a new one.")
    if user is not None and not user_has_email(user=user, email=invitation.email):
        raise InvitationError(
            f"This invitation is for {invitation.email}. Sign in with that address to accept it."
        )


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: AbstractBaseUser) -> Membership:
    """Turn a pending invitation into a membership for `user`, whose email must match it."""
    # Locked, so two concurrent accepts of one token cannot both pass the checks.
    invitation = Invitation.dangerously_unscoped_objects.select_for_update().get(pk=invitation.pk)
    invitation_validate(invitation=invitation, user=user)
    if invitation.accepted_at is not None:  # accepted earlier by this same user
        membership = (
            Membership.objects.for_workspace(invitation.workspace).filter(user=user).first()
        )
        if membership is None:  # removed from the workspace since: the link cannot bring them back
            raise InvitationError("This invitation has already been used.")
        return membership
    existing = Membership.objects.for_workspace(invitation.workspace).filter(user=user).first()
    if existing is not None and existing.has_role(invitation.role):
        membership = existing  # never downgrade someone through an old invitation
    else:
        membership = membership_create(
            workspace=invitation.workspace, user=user, role=invitation.role
        )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    logger.info(
        "invitation accepted",
        extra={"workspace_id": invitation.workspace_id, "invitation_id": invitation.pk},
    )
    return membership


@transaction.atomic
def invitation_revoke(*, invitation: Invitation) -> None:
    if invitation.accepted_at is None and invitation.revoked_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
