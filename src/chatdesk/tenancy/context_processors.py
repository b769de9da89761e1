def workspace(request):
    """Expose the workspace resolved by WorkspaceViewMixin (if any) to every template."""
    return {
        "current_workspace": getattr(request, "workspace", None),
        "current_membership": getattr(request, "membership", None),
    }
