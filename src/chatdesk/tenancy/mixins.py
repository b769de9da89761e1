"""The view side of tenant scoping.

Tenant pages live under `/w/<workspace_slug>/`. `WorkspaceViewMixin` resolves the workspace from
the URL and the signed-in user's membership before any view code runs:
- anonymous: redirect to login;
- not a member (or no such workspace): 404, the same answer, so slugs cannot be probed;
- member without `required_role`: 403.
`get_queryset()` is scoped to the workspace; views never build an unscoped query themselves.
"""

from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404

from chatdesk.tenancy.models import Role, Workspace
from chatdesk.tenancy.selectors import membership_get

SESSION_KEY = "chatdesk_workspace_id"


def resolve_workspace(request, slug: str, required_role: str = Role.AGENT):
    """Set request.workspace / request.membership or raise Http404 / PermissionDenied."""
    workspace = Workspace.objects.filter(slug=slug).first()
    membership = membership_get(user=request.user, workspace=workspace) if workspace else None
    if membership is None:
        raise Http404("No such workspace")
    if not membership.has_role(required_role):
        raise PermissionDenied("Your role does not allow this page.")
    request.workspace = workspace
    request.membership = membership
    # Remember the last workspace so "/" returns to it (switching = visiting another one).
    if request.session.get(SESSION_KEY) != workspace.pk:
        request.session[SESSION_KEY] = workspace.pk
    return workspace, membership


class WorkspaceViewMixin(LoginRequiredMixin):
    required_role: str = Role.AGENT
    workspace_url_kwarg = "workspace_slug"

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.workspace, self.membership = resolve_workspace(
            request, kwargs[self.workspace_url_kwarg], self.required_role
        )
        return super().dispatch(request, *args, **kwargs)

    def get_queryset(self):
        return self.model.objects.for_workspace(self.workspace)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["workspace"] = self.workspace
        context["membership"] = self.membership
        return context
