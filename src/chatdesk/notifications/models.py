"""In-app notifications for the team: a conversation escalated, a draft waiting for review, a
conversation assigned by someone else. One row per recipient; read by setting `read_at`."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from chatdesk.tenancy.scoping import WorkspaceScopedModel


class NotificationKind(models.TextChoices):
    ESCALATED = "escalated", "Needs a human"
    REVIEW_WAITING = "review_waiting", "Draft waiting for review"
    ASSIGNED = "assigned", "Assigned to you"


class Notification(WorkspaceScopedModel):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    conversation = models.ForeignKey("crm.Conversation", on_delete=models.CASCADE, related_name="+")
    text = models.CharField(max_length=300)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    # Escalations are also emailed (a job, after commit); set once the email went out.
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The list pages newest first by id (keyset), one user at a time.
            models.Index(fields=["workspace", "user", "-id"], name="notif_list_idx"),
            # The bell counts unread rows on every page: only those are indexed.
            models.Index(
                fields=["workspace", "user"],
                condition=Q(read_at__isnull=True),
                name="notif_unread_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.user_id} on {self.conversation_id}"
