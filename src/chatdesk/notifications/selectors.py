"""Reads on notifications (`<entity>_<action>`, keyword-only)."""

from __future__ import annotations

from chatdesk.notifications.models import Notification

PAGE_SIZE = 50


def notifications_for_user(*, workspace, user, before_id: int | None = None) -> list[Notification]:
    """Newest first, one page plus one (to tell whether there is an older page); keyset on id."""
    queryset = (
        Notification.objects.for_workspace(workspace)
        .filter(user=user)
        .select_related("conversation__contact")
        .order_by("-id")
    )
    if before_id is not None:
        queryset = queryset.filter(pk__lt=before_id)
    return list(queryset[: PAGE_SIZE + 1])


def nav_badge_counts(*, workspace, user) -> dict[str, int]:
    """The top bar's two badges, drafts waiting for review and my unread notifications, in ONE
    query (two indexed COUNT subqueries), since the nav renders on every page."""
    from django.db.models import Count, IntegerField, Subquery, Value
    from django.db.models.functions import Coalesce

    from chatdesk.assistant.models import AssistantDraft, DraftStatus
    from chatdesk.tenancy.models import Workspace

    def counted(queryset):
        rows = queryset.order_by().values("workspace").annotate(n=Count("id")).values("n")
        return Coalesce(Subquery(rows, output_field=IntegerField()), Value(0))

    pending = AssistantDraft.objects.for_workspace(workspace).filter(
        status=DraftStatus.PENDING_REVIEW
    )
    unread = Notification.objects.for_workspace(workspace).filter(user=user, read_at__isnull=True)
    row = (
        Workspace.objects.filter(pk=workspace.pk)
        .annotate(pending_reviews=counted(pending), unread_notifications=counted(unread))
        .values("pending_reviews", "unread_notifications")
        .first()
    )
    return row or {"pending_reviews": 0, "unread_notifications": 0}
