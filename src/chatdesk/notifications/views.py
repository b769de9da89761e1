"""The signed-in member's notifications in this workspace: list, mark read, mark all read.

Each member sees only their own rows; another member's notification id is a 404, the same as
one that does not exist.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View

from chatdesk.notifications.models import Notification
from chatdesk.notifications.selectors import PAGE_SIZE, notifications_for_user
from chatdesk.notifications.services import notification_mark_read, notifications_mark_all_read
from chatdesk.tenancy.mixins import WorkspaceViewMixin


class NotificationListView(WorkspaceViewMixin, View):
    def get(self, request, *args, **kwargs):
        raw = request.GET.get("before", "")
        before = int(raw) if raw.isdigit() else None
        rows = notifications_for_user(workspace=self.workspace, user=request.user, before_id=before)
        page = rows[:PAGE_SIZE]
        return render(
            request,
            "notifications/index.html",
            {
                "workspace": self.workspace,
                "notifications": page,
                "older_url": (
                    f"{request.path}?before={page[-1].pk}" if len(rows) > PAGE_SIZE else ""
                ),
                "is_first_page": before is None,
                "has_unread": any(n.read_at is None for n in page),
            },
        )


class NotificationReadView(WorkspaceViewMixin, View):
    """Mark one read; with `open`, go on to its conversation (the list's "Open" button)."""

    http_method_names = ["post"]

    def post(self, request, *args, notification_id: int, **kwargs):
        notification = (
            Notification.objects.for_workspace(self.workspace)
            .filter(pk=notification_id, user=request.user)
            .first()
        )
        if notification is None:
            raise Http404("No such notification")
        notification_mark_read(notification=notification)
        if request.POST.get("open"):
            return redirect(
                "inbox:thread",
                workspace_slug=self.workspace.slug,
                conversation_id=notification.conversation_id,
            )
        return redirect(reverse("notifications:index", args=[self.workspace.slug]))


class NotificationReadAllView(WorkspaceViewMixin, View):
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        count = notifications_mark_all_read(workspace=self.workspace, user=request.user)
        messages.success(
            request, f"Marked {count} notification{'s' if count != 1 else ''} as read."
        )
        return redirect(reverse("notifications:index", args=[self.workspace.slug]))
