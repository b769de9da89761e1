"""The invitation a signed-out visitor is holding, carried in their session.

Opening an invitation link while signed out remembers its token here. Sign-up is open only while
a valid invitation is remembered (accounts.adapter), and the next successful sign-in or sign-up
accepts it, so the person lands in the workspace without opening the link a second time.
"""

from __future__ import annotations

import logging

from allauth.account.adapter import get_adapter
from django.contrib import messages
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest
from django.urls import reverse

from chatdesk.tenancy.mixins import SESSION_KEY
from chatdesk.tenancy.models import Invitation
from chatdesk.tenancy.selectors import invitation_get_by_token
from chatdesk.tenancy.services import InvitationError, invitation_accept

logger = logging.getLogger(__name__)

INVITATION_SESSION_KEY = "chatdesk_invitation_token"


def invitation_remember(request: HttpRequest, *, invitation: Invitation) -> None:
    request.session[INVITATION_SESSION_KEY] = invitation.token
    # allauth pre-fills the sign-up form's email from this stash; whether the address counts as
    # verified is decided by AccountAdapter.is_email_verified against the invitation itself.
    get_adapter(request).stash_verified_email(request, invitation.email)


def invitation_from_session(request: HttpRequest) -> Invitation | None:
    """The remembered invitation, only while it can still be accepted."""
    session = getattr(request, "session", None)
    token = session.get(INVITATION_SESSION_KEY) if session is not None else None
    if not token:
        return None
    invitation = invitation_get_by_token(token=token)
    if invitation is None or not invitation.is_pending:
        return None
    return invitation


def invitation_forget(request: HttpRequest) -> None:
    request.session.pop(INVITATION_SESSION_KEY, None)
    request.session.pop("account_verified_email", None)  # allauth's stash key


def invitation_accept_from_session(request: HttpRequest, *, user: AbstractBaseUser) -> str | None:
    """Accept the remembered invitation for `user`; return the URL they should land on.

    None when no invitation is remembered. A refused invitation (wrong account, expired in the
    meantime) sends the user back to the invitation page, which explains why.
    """
    token = request.session.get(INVITATION_SESSION_KEY)
    if not token:
        return None
    invitation_forget(request)
    invitation = invitation_get_by_token(token=token)
    if invitation is None:
        return None
    try:
        membership = invitation_accept(invitation=invitation, user=user)
    except InvitationError as error:
        messages.error(request, str(error))
        return reverse("tenancy:invitation-accept", kwargs={"token": token})
    request.session[SESSION_KEY] = membership.workspace_id
    messages.success(
        request,
        f"You joined {invitation.workspace.name} as {membership.get_role_display().lower()}.",
    )
    return reverse("tenancy:workspace-home", kwargs={"workspace_slug": invitation.workspace.slug})
