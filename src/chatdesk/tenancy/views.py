"""Workspace pages. Thin: tenant resolution lives in WorkspaceViewMixin, rules in services."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View
from django.views.decorators.http import require_http_methods
from django.views.generic import TemplateView

from chatdesk.audit.models import AuditAction
from chatdesk.audit.services import audit_actor, audit_record
from chatdesk.tenancy.forms import InvitationForm
from chatdesk.tenancy.invitation_session import invitation_forget, invitation_remember
from chatdesk.tenancy.mixins import SESSION_KEY, WorkspaceViewMixin
from chatdesk.tenancy.models import Invitation, Role
from chatdesk.tenancy.selectors import (
    invitation_get_by_token,
    invitation_list_pending,
    membership_get,
    membership_list,
    user_exists_with_email,
    workspace_list_for_user,
)
from chatdesk.tenancy.services import (
    InvitationError,
    invitation_accept,
    invitation_create,
    invitation_revoke,
    invitation_send,
    invitation_validate,
)

logger = logging.getLogger(__name__)


@login_required
def home(request):
    """Go straight to the last used workspace (or the only one); otherwise offer a choice."""
    workspaces = list(workspace_list_for_user(user=request.user))
    last_used = request.session.get(SESSION_KEY)
    chosen = next((w for w in workspaces if w.pk == last_used), None)
    if chosen is None and len(workspaces) == 1:
        chosen = workspaces[0]
    if chosen is not None:
        return redirect("tenancy:workspace-home", workspace_slug=chosen.slug)
    return render(request, "tenancy/workspace_list.html", {"workspaces": workspaces})


@login_required
def workspace_list(request):
    """The picker, always: how someone with a last used workspace switches to another."""
    context = {
        "workspaces": workspace_list_for_user(user=request.user),
        "last_used_id": request.session.get(SESSION_KEY),
    }
    return render(request, "tenancy/workspace_list.html", context)


class WorkspaceHomeView(WorkspaceViewMixin, TemplateView):
    template_name = "tenancy/workspace_home.html"


class TeamView(WorkspaceViewMixin, TemplateView):
    """Members are visible to every member; invitations only to admins and owners."""

    template_name = "tenancy/team.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["members"] = membership_list(workspace=self.workspace)
        context["can_manage"] = self.membership.has_role(Role.ADMIN)
        if context["can_manage"]:
            invitations = list(invitation_list_pending(workspace=self.workspace))
            for invitation in invitations:
                invitation.can_revoke = self.membership.has_role(invitation.role)
            context["invitations"] = invitations
            context.setdefault("form", InvitationForm(membership=self.membership))
        return context


def invitation_invite(request, *, workspace, form: InvitationForm) -> None:
    """Create (or refresh) the invitation, audit it, email it, and tell the user what happened.

    Shared by the team page and Settings > Team, which differ only in where they return to.
    """
    with transaction.atomic():
        invitation, created = invitation_create(
            workspace=workspace,
            email=form.cleaned_data["email"],
            role=form.cleaned_data["role"],
            invited_by=request.user,
        )
        audit_record(
            workspace=workspace,
            action=AuditAction.INVITATION_CREATED,
            actor=audit_actor(request),
            target=invitation,
            target_label=invitation.email,
            details={"role": invitation.role, "resent": not created},
        )
    try:
        invitation_send(invitation=invitation)
    except Exception:
        # The invitation is saved; inviting the address again re-sends the same one.
        logger.exception("invitation email failed", extra={"invitation_id": invitation.pk})
        messages.error(
            request,
            f"The invitation for {invitation.email} is saved, but the email could not be "
            "sent. Invite the address again to retry.",
        )
    else:
        verb = "Invitation sent" if created else "Invitation sent again"
        messages.success(request, f"{verb} to {invitation.email}.")


def invitation_withdraw(request, *, workspace, membership, invitation_id: int) -> None:
    """Withdraw an open invitation of this workspace (404 otherwise) and audit it."""
    # Looked up inside this workspace only: another workspace's id is a 404, and so is an
    # invitation already accepted or withdrawn.
    open_invitations = Invitation.objects.for_workspace(workspace).filter(
        accepted_at__isnull=True, revoked_at__isnull=True
    )
    invitation = get_object_or_404(open_invitations, pk=invitation_id)
    if not membership.has_role(invitation.role):
        raise PermissionDenied(f"Only an {invitation.role} can withdraw this invitation.")
    with transaction.atomic():
        invitation_revoke(invitation=invitation)
        audit_record(
            workspace=workspace,
            action=AuditAction.INVITATION_REVOKED,
            actor=audit_actor(request),
            target=invitation,
            target_label=invitation.email,
            details={"role": invitation.role},
        )
    messages.success(request, f"Invitation for {invitation.email} withdrawn.")


class InvitationCreateView(TeamView):
    required_role = Role.ADMIN
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        form = InvitationForm(request.POST, membership=self.membership)
        if not form.is_valid():
            # The team page again, with the errors next to the fields; nothing was saved.
            return self.render_to_response(self.get_context_data(form=form), status=400)
        invitation_invite(request, workspace=self.workspace, form=form)
        return redirect("tenancy:team", workspace_slug=self.workspace.slug)


class InvitationRevokeView(WorkspaceViewMixin, View):
    required_role = Role.ADMIN
    http_method_names = ["post"]

    def post(self, request, *args, invitation_id: int, **kwargs):
        invitation_withdraw(
            request,
            workspace=self.workspace,
            membership=self.membership,
            invitation_id=invitation_id,
        )
        return redirect("tenancy:team", workspace_slug=self.workspace.slug)


@require_http_methods(["GET", "POST"])
def invitation_accept_view(request, token: str):
    """The page an emailed invitation link opens.

    Unknown token: 404. Used, withdrawn or expired: 410 Gone, with the reason. Signed-out
    visitor: the invitation is remembered in the session and the page offers sign-up or sign-in
    (either one accepts it). Signed-in invitee: a button to join. Signed in as someone else: 403
    with the reason.
    """
    invitation = invitation_get_by_token(token=token)
    if invitation is None:
        return render(request, "tenancy/invitation_invalid.html", status=404)
    user = request.user if request.user.is_authenticated else None

    already_joined = (
        user is not None
        and invitation.accepted_by_id == user.pk
        and membership_get(user=user, workspace=invitation.workspace) is not None
    )
    if already_joined:
        return redirect("tenancy:workspace-home", workspace_slug=invitation.workspace.slug)
    try:
        invitation_validate(invitation=invitation)
    except InvitationError as error:
        return render(request, "tenancy/invitation_gone.html", {"reason": str(error)}, status=410)

    context = {"invitation": invitation, "workspace": invitation.workspace}
    if user is None:
        invitation_remember(request, invitation=invitation)
        context["has_account"] = user_exists_with_email(email=invitation.email)
        return render(request, "tenancy/invitation_accept.html", context)

    try:
        invitation_validate(invitation=invitation, user=user)
    except InvitationError as error:
        context["mismatch"] = str(error)
        return render(request, "tenancy/invitation_accept.html", context, status=403)

    if request.method == "POST":
        try:
            membership = invitation_accept(invitation=invitation, user=user)
        except InvitationError as error:  # used or withdrawn since the page was shown
            return render(
                request, "tenancy/invitation_gone.html", {"reason": str(error)}, status=410
            )
        invitation_forget(request)
        request.session[SESSION_KEY] = membership.workspace_id
        messages.success(
            request,
            f"You joined {invitation.workspace.name} as {membership.get_role_display().lower()}.",
        )
        return redirect("tenancy:workspace-home", workspace_slug=invitation.workspace.slug)
    return render(request, "tenancy/invitation_accept.html", context)
