"""The audit log: who changed a workspace's settings, roles, credentials or assistant, when, and
from where. Rows are written by `chatdesk.audit.services.audit_record` and never updated."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from chatdesk.tenancy.scoping import WorkspaceScopedModel


class AuditAction(models.TextChoices):
    INVITATION_CREATED = "invitation.created", "Invitation sent"
    INVITATION_REVOKED = "invitation.revoked", "Invitation withdrawn"
    MEMBER_ROLE_CHANGED = "member.role_changed", "Role changed"
    MEMBER_REMOVED = "member.removed", "Member removed"
    CHANNEL_ACTIVATED = "channel.activated", "Channel activated"
    CHANNEL_DEACTIVATED = "channel.deactivated", "Channel deactivated"
    CHANNEL_CREDENTIALS_UPDATED = "channel.credentials_updated", "Channel credentials updated"
    CHANNEL_ROTATION_FINISHED = "channel.rotation_finished", "Signing secret rotation finished"
    CHANNEL_VERIFY_TOKEN_REVEALED = "channel.verify_token_revealed", "Verify token revealed"
    CHANNEL_TEST_EVENT_SENT = "channel.test_event_sent", "Test event sent"
    ASSISTANT_CONFIG_CHANGED = "assistant.config_changed", "Assistant configuration changed"
    ASSISTANT_KNOWLEDGE_CHANGED = "assistant.knowledge_changed", "Assistant knowledge changed"
    TEMPLATE_CREATED = "template.created", "Message template added"
    TEMPLATE_UPDATED = "template.updated", "Message template changed"
    TEMPLATE_ENABLED = "template.enabled", "Message template enabled"
    TEMPLATE_DISABLED = "template.disabled", "Message template disabled"
    TEMPLATE_DELETED = "template.deleted", "Message template deleted"


class AuditEvent(WorkspaceScopedModel):
    # SET_NULL keeps the entry when the account is deleted; `actor_label` still says who it was.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=64, choices=AuditAction.choices)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=200, blank=True)
    # Names and before/after of non-secret values only (audit_record refuses secret-like keys).
    details = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The log page: newest first, keyset on (created_at, id), optionally by action.
            models.Index(fields=["workspace", "-created_at", "-id"], name="audit_list_idx"),
            models.Index(
                fields=["workspace", "action", "-created_at", "-id"], name="audit_action_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_label or 'system'} in {self.workspace_id}"
