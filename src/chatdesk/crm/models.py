"""Contacts, conversations and messages: the CRM's records of what customers said and got."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from chatdesk.tenancy.scoping import WorkspaceScopedModel

# WhatsApp's customer service window: free text is allowed for 24 h after the customer's last
# message; outside it only approved templates.
SERVICE_WINDOW = timedelta(hours=24)


class Label(WorkspaceScopedModel):
    name = models.CharField(max_length=50)
    color = models.CharField(max_length=7, default="#0f766e", help_text="#rrggbb")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="label_unique_name")
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class LeadStatus(models.TextChoices):
    NEW = "new", "New"
    CONTACTED = "contacted", "Contacted"
    QUALIFIED = "qualified", "Qualified"
    APPLIED = "applied", "Applied"
    ENROLLED = "enrolled", "Enrolled"
    LOST = "lost", "Lost"


class LeadSource(models.TextChoices):
    WHATSAPP = "whatsapp", "WhatsApp"
    AUTOMATION = "automation", "Automation (n8n)"
    IMPORT = "import", "Import"
    MANUAL = "manual", "Manual"


class Contact(WorkspaceScopedModel):
    wa_id = models.CharField(max_length=32, help_text="WhatsApp id (digits of the number)")
    phone = models.CharField(max_length=32, help_text="E.164, e.g. +6281234567890")
    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    lead_status = models.CharField(
        max_length=16, choices=LeadStatus.choices, default=LeadStatus.NEW
    )
    source = models.CharField(
        max_length=16, choices=LeadSource.choices, default=LeadSource.WHATSAPP
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_contacts",
    )
    custom_fields = models.JSONField(default=dict, blank=True)
    labels = models.ManyToManyField(Label, blank=True, related_name="contacts")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "wa_id"], name="contact_unique_wa_id")
        ]
        # The contact list pages by (created_at, id); each filter's index ends in that order.
        indexes = [
            models.Index(fields=["workspace", "-created_at", "-id"], name="contact_list_idx"),
            models.Index(
                fields=["workspace", "lead_status", "-created_at", "-id"],
                name="contact_status_idx",
            ),
            models.Index(
                fields=["workspace", "source", "-created_at", "-id"], name="contact_source_idx"
            ),
            models.Index(
                fields=["workspace", "owner", "-created_at", "-id"], name="contact_owner_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.phone


class ConversationStatus(models.TextChoices):
    OPEN = "open", "Open"
    PENDING = "pending", "Pending"
    RESOLVED = "resolved", "Resolved"


class Conversation(WorkspaceScopedModel):
    """One thread per channel and contact; resolving and reopening keeps the history together."""

    channel = models.ForeignKey(
        "messaging.Channel", on_delete=models.PROTECT, related_name="conversations"
    )
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="conversations")
    status = models.CharField(
        max_length=16, choices=ConversationStatus.choices, default=ConversationStatus.OPEN
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_conversations",
    )
    last_message_at = models.DateTimeField(null=True, blank=True)
    last_inbound_at = models.DateTimeField(
        null=True, blank=True, help_text="Customer's last message: opens the 24-hour window"
    )
    needs_human = models.BooleanField(default=False)
    needs_template = models.BooleanField(
        default=False, help_text="A free-text send failed outside the 24-hour window"
    )
    assistant_paused = models.BooleanField(
        default=False, help_text="A human took over: the assistant does not answer here"
    )
    unread_count = models.PositiveIntegerField(default=0)
    labels = models.ManyToManyField(Label, blank=True, related_name="conversations")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "contact"], name="conversation_unique_channel_contact"
            )
        ]
        # The inbox lists newest activity first and pages by (last_message_at, id): each filter
        # gets an index that ends with that order, so a filtered page is one index range scan.
        indexes = [
            models.Index(fields=["workspace", "-last_message_at", "-id"], name="conv_inbox_idx"),
            models.Index(
                fields=["workspace", "status", "-last_message_at", "-id"], name="conv_status_idx"
            ),
            models.Index(
                fields=["workspace", "assignee", "-last_message_at", "-id"],
                name="conv_assignee_idx",
            ),
            models.Index(
                fields=["workspace", "channel", "-last_message_at", "-id"],
                name="conv_channel_idx",
            ),
            # Partial: only the few flagged conversations are indexed.
            models.Index(
                fields=["workspace", "-last_message_at", "-id"],
                condition=Q(needs_human=True),
                name="conv_needs_human_idx",
            ),
            models.Index(
                fields=["workspace", "-last_message_at", "-id"],
                condition=Q(needs_template=True),
                name="conv_needs_template_idx",
            ),
            # Dashboard: the conversations a range's customers wrote to, and how many of them
            # need a human, counted from this index alone (no scan of the range's messages).
            models.Index(
                fields=["workspace", "last_inbound_at", "needs_human"], name="conv_written_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"conversation {self.pk} with {self.contact_id}"

    def window_open(self, now=None) -> bool:
        if self.last_inbound_at is None:
            return False
        return (now or timezone.now()) < self.last_inbound_at + SERVICE_WINDOW


class Direction(models.TextChoices):
    INBOUND = "in", "Inbound"
    OUTBOUND = "out", "Outbound"


class Author(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    AGENT = "agent", "Agent"
    ASSISTANT = "assistant", "Assistant"
    SYSTEM = "system", "System"


class MessageStatus(models.TextChoices):
    RECEIVED = "received", "Received"  # inbound
    QUEUED = "queued", "Queued"  # outbound, recorded before the provider call
    SENDING = "sending", "Sending"  # provider call in flight (never repeated after a crash)
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    READ = "read", "Read"
    PLAYED = "played", "Played"
    FAILED = "failed", "Failed"


# Statuses only move forward. `failed` ranks after `sent` but before `delivered`: a message that
# was delivered or read is not marked failed by a late report.
STATUS_RANK = {
    MessageStatus.RECEIVED: 0,
    MessageStatus.QUEUED: 0,
    MessageStatus.SENDING: 10,
    MessageStatus.SENT: 20,
    MessageStatus.FAILED: 25,
    MessageStatus.DELIVERED: 30,
    MessageStatus.READ: 40,
    MessageStatus.PLAYED: 50,
}


class MediaState(models.TextChoices):
    NONE = "", "No media"
    PENDING = "pending", "Pending"
    STORED = "stored", "Stored"
    FAILED = "failed", "Failed"


class Message(WorkspaceScopedModel):
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    channel = models.ForeignKey(
        "messaging.Channel", on_delete=models.PROTECT, related_name="messages"
    )
    direction = models.CharField(max_length=3, choices=Direction.choices)
    is_private_note = models.BooleanField(
        default=False, help_text="Visible to the team only; never sent to the customer"
    )
    author = models.CharField(max_length=16, choices=Author.choices)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    type = models.CharField(max_length=32, help_text="WhatsApp message type (text, image, ...)")
    text = models.TextField(blank=True, help_text="Body, caption or title, for display and search")
    payload = models.JSONField(default=dict, blank=True, help_text="The type's own fields")
    provider_message_id = models.CharField(max_length=128, null=True, blank=True)
    provider_timestamp = models.DateTimeField(
        help_text="When the provider says it happened; threads are ordered by it"
    )
    reply_to_provider_id = models.CharField(max_length=128, blank=True)
    status = models.CharField(max_length=16, choices=MessageStatus.choices)
    status_at = models.DateTimeField(null=True, blank=True)
    error_code = models.CharField(max_length=32, blank=True)
    error_reason = models.TextField(blank=True)
    unsupported = models.BooleanField(
        default=False, help_text="Stored but not understood: a human must look at it"
    )
    media_id = models.CharField(max_length=128, blank=True)
    media_mime_type = models.CharField(max_length=128, blank=True)
    media_state = models.CharField(
        max_length=16, choices=MediaState.choices, default=MediaState.NONE, blank=True
    )
    media_error = models.TextField(blank=True)
    media_file = models.FileField(upload_to="media/%Y/%m/", blank=True)
    processed_at = models.DateTimeField(
        null=True, blank=True, help_text="Inbound: processing job finished"
    )
    send_attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "provider_message_id"],
                condition=Q(provider_message_id__isnull=False),
                name="message_unique_provider_id",
            )
        ]
        indexes = [
            models.Index(
                fields=["conversation", "-provider_timestamp", "-id"], name="msg_thread_idx"
            ),
            models.Index(
                fields=["direction", "processed_at", "created_at"], name="msg_unprocessed_idx"
            ),
            # The open thread polls for messages stored after the newest one it shows.
            models.Index(fields=["conversation", "id"], name="msg_conv_id_idx"),
            # Dashboard: activity of a workspace in a time range, and first messages per thread.
            models.Index(fields=["workspace", "provider_timestamp"], name="msg_ws_time_idx"),
            models.Index(
                fields=["conversation", "direction", "provider_timestamp"],
                name="msg_conv_dir_time_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.type} {self.provider_message_id or self.pk}"


class ContactNote(WorkspaceScopedModel):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]


class LeadStatusChange(WorkspaceScopedModel):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="status_history")
    from_status = models.CharField(max_length=16, choices=LeadStatus.choices, blank=True)
    to_status = models.CharField(max_length=16, choices=LeadStatus.choices)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-changed_at"]
