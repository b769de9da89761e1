"""Channels (WhatsApp numbers connected through a provider), raw webhook events, status reports."""

from __future__ import annotations

import secrets

from django.db import models

from chatdesk.common.fields import EncryptedTextField
from chatdesk.tenancy.scoping import WorkspaceScopedModel


class ChannelKind(models.TextChoices):
    META = "meta", "Meta WhatsApp Cloud API"
    KAPSO = "kapso", "Kapso"


def new_channel_key() -> str:
    return secrets.token_urlsafe(24)


class Channel(WorkspaceScopedModel):
    kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    name = models.CharField(max_length=120, blank=True)
    phone_number_id = models.CharField(max_length=64)
    display_number = models.CharField(max_length=32)
    channel_key = models.CharField(
        max_length=64, unique=True, default=new_channel_key, editable=False
    )
    # Meta: the app secret; Kapso: the webhook secret. Both sign webhooks with HMAC-SHA256.
    signing_secret = EncryptedTextField()
    # During a rotation both secrets verify, until the previous one is removed.
    previous_signing_secret = EncryptedTextField(null=True, blank=True)
    # Meta: the access token; Kapso: the API key.
    api_token = EncryptedTextField()
    verify_token = EncryptedTextField(null=True, blank=True, help_text="Meta webhook handshake")
    is_active = models.BooleanField(default=True)
    last_webhook_at = models.DateTimeField(null=True, blank=True)
    last_webhook_outcome = models.CharField(max_length=64, blank=True)
    last_signature_failure_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "phone_number_id"], name="channel_unique_phone_number_id"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.display_number}"


class WebhookEvent(WorkspaceScopedModel):
    """A raw provider delivery, kept for replay and audit (see WEBHOOK_EVENT_RETENTION_DAYS)."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="webhook_events")
    # Kapso: X-Idempotency-Key; Meta: sha256 of the body (Meta re-sends identical bytes).
    idempotency_key = models.CharField(max_length=128)
    event_type = models.CharField(max_length=64, blank=True)
    body = models.BinaryField(help_text="The exact bytes received (what the signature covered)")
    request_id = models.CharField(max_length=64, blank=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "idempotency_key"], name="webhook_event_unique_key"
            )
        ]


class StatusReport(WorkspaceScopedModel):
    """A delivery status from the provider, kept even when its message is not (yet) known."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    provider_message_id = models.CharField(max_length=128)
    status = models.CharField(max_length=16)
    provider_timestamp = models.DateTimeField()
    error_code = models.CharField(max_length=32, blank=True)
    error_reason = models.TextField(blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "provider_message_id", "status"],
                name="status_report_unique",
            )
        ]
        indexes = [
            models.Index(fields=["channel", "provider_message_id"], name="status_report_lookup_idx")
        ]
