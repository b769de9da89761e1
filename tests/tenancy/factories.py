"""Factories for tenancy tests: users who can sign in, and workspaces with one user per role."""

from __future__ import annotations

from dataclasses import dataclass

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model

from chatdesk.tenancy.models import Invitation, Role, Workspace
from chatdesk.tenancy.services import invitation_create, membership_create, workspace_create

PASSWORD = "correct-horse-battery-staple"


def user_make(email: str, *, password: str = PASSWORD, verified: bool = True):
    """A user who can sign in with allauth (mandatory verification needs a verified address)."""
    user = get_user_model().objects.create_user(
        username=email.split("@")[0], email=email, password=password
    )
    EmailAddress.objects.create(user=user, email=email, verified=verified, primary=True)
    return user


@dataclass
class TenantWorld:
    workspace: Workspace
    owner: object
    admin: object
    agent: object
    invitation: Invitation

    def user(self, role: str):
        return {Role.OWNER: self.owner, Role.ADMIN: self.admin, Role.AGENT: self.agent}[role]


def world_make(slug: str) -> TenantWorld:
    workspace = workspace_create(name=f"Workspace {slug.upper()}", slug=slug)
    users = {}
    for role in Role:
        user = user_make(f"{role.value}-{slug}@example.com")
        membership_create(workspace=workspace, user=user, role=role)
        users[role] = user
    invitation, _ = invitation_create(
        workspace=workspace, email=f"invitee-{slug}@example.com", role=Role.AGENT
    )
    return TenantWorld(
        workspace=workspace,
        owner=users[Role.OWNER],
        admin=users[Role.ADMIN],
        agent=users[Role.AGENT],
        invitation=invitation,
    )
