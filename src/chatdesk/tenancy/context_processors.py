from django.utils.functional import SimpleLazyObject

from chatdesk.tenancy.selectors import workspace_list_for_user


def workspace(request):
    """Expose the workspace resolved by WorkspaceViewMixin (if any) to every template.

    `user_workspaces` feeds the header switcher; it is lazy, so pages that do not render the
    switcher run no query for it.
    """
    user = getattr(request, "user", None)
    return {
        "current_workspace": getattr(request, "workspace", None),
        "current_membership": getattr(request, "membership", None),
        "user_workspaces": SimpleLazyObject(
            lambda: list(workspace_list_for_user(user=user)) if user is not None else []
        ),
    }
