from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.generic import TemplateView

from chatdesk.tenancy.mixins import SESSION_KEY, WorkspaceViewMixin
from chatdesk.tenancy.selectors import workspace_list_for_user


@login_required
def home(request):
    workspaces = list(workspace_list_for_user(user=request.user))
    last = request.session.get(SESSION_KEY)
    for workspace in workspaces:
        if workspace.pk == last or len(workspaces) == 1:
            return redirect("tenancy:workspace-home", workspace_slug=workspace.slug)
    return render(request, "tenancy/workspace_list.html", {"workspaces": workspaces})


def invitation_accept(request, token):
    return HttpResponse(status=501)


class WorkspaceHomeView(WorkspaceViewMixin, TemplateView):
    template_name = "tenancy/workspace_home.html"
