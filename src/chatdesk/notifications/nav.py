"""The top bar's badges (review queue, notification bell): counted once per request."""

from __future__ import annotations

from chatdesk.notifications.selectors import nav_badge_counts

_CACHE_ATTR = "_chatdesk_nav_badges"
NONE = {"pending_reviews": 0, "unread_notifications": 0}


def nav_badges(context) -> dict[str, int]:
    """From a template context: zeros outside a workspace; else one query per request, however
    many badges the page renders."""
    request = context.get("request")
    workspace = context.get("current_workspace")
    user = getattr(request, "user", None)
    if request is None or workspace is None or user is None or not user.is_authenticated:
        return NONE
    if not hasattr(request, _CACHE_ATTR):
        setattr(request, _CACHE_ATTR, nav_badge_counts(workspace=workspace, user=user))
    return getattr(request, _CACHE_ATTR)
