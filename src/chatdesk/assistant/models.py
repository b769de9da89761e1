from __future__ import annotations

from django.conf import settings
from django.db import models

from chatdesk.assistant.conf import AssistantSettings
from chatdesk.assistant.knowledge import Entry
from chatdesk.tenancy.scoping import WorkspaceScopedModel


class KnowledgeEntry(WorkspaceScopedModel):
    """An approved answer and the example questions it answers; the assistant says nothing else."""

    key = models.SlugField(max_length=64, help_text="Stable id used by YAML import/export")
    topic = models.CharField(max_length=80)
    answer = models.TextField()
    questions = models.JSONField(default=list, help_text="Example questions, any language")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "key"], name="knowledge_unique_key")
        ]
        ordering = ["topic", "key"]

    def __str__(self) -> str:
        return self.key

    def to_entry(self) -> Entry:
        return Entry(
            key=self.key,
            topic=self.topic,
            answer=self.answer,
            questions=tuple(self.questions),
            enabled=self.enabled,
        )


class AssistantMode(models.TextChoices):
    OFF = "off", "Off (human only)"
    REVIEW_ALL = "review_all", "Review every draft"
    SAMPLED = "sampled", "Review 1 in N drafts"
    AUTONOMOUS = "autonomous", "Autonomous"


def _default_forbidden_topics() -> list[str]:
    from chatdesk.assistant.topics import DEFAULT_FORBIDDEN_TOPICS

    return list(DEFAULT_FORBIDDEN_TOPICS)


def _default_holding_message() -> str:
    from chatdesk.assistant.conf import DEFAULT_HOLDING_MESSAGE

    return DEFAULT_HOLDING_MESSAGE


def _default_after_hours_message() -> str:
    from chatdesk.assistant.conf import DEFAULT_AFTER_HOURS_MESSAGE

    return DEFAULT_AFTER_HOURS_MESSAGE


class AssistantConfig(WorkspaceScopedModel):
    """One version of a workspace's assistant configuration; rows are never edited.

    Every change is a new row (`assistant_config_update`), the newest applies from the next
    message, and each draft points at the version it was made under.
    """

    version = models.PositiveIntegerField()
    name = models.CharField(max_length=80, default="Assistant")
    persona = models.TextField(blank=True)
    allowed_topics = models.JSONField(default=list, blank=True)
    forbidden_topics = models.JSONField(default=_default_forbidden_topics, blank=True)
    threshold = models.FloatField(default=0.70)
    mode = models.CharField(
        max_length=16, choices=AssistantMode.choices, default=AssistantMode.REVIEW_ALL
    )
    sample_every = models.PositiveIntegerField(
        default=5, help_text="Sampled mode: one draft in N waits for review"
    )
    holding_message = models.TextField(blank=True, default=_default_holding_message)
    business_hours = models.JSONField(
        default=dict,
        blank=True,
        help_text='Empty means always; else {"days": [0-6], "start": "HH:MM", "end": ...}',
    )
    after_hours_message = models.TextField(
        blank=True,
        default=_default_after_hours_message,
        help_text="Sent instead of the holding message outside business hours; {next_open}",
    )
    review_timeout_minutes = models.PositiveIntegerField(
        default=5, help_text="A draft waiting longer than this sends the holding message"
    )
    temperature = models.FloatField(default=0.1)
    max_reply_chars = models.PositiveIntegerField(default=300)
    use_first_name = models.BooleanField(default=True)
    kill_switch = models.BooleanField(
        default=False, help_text="Human-only mode for the whole workspace, at once"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "version"], name="assistant_config_unique_version"
            )
        ]
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"assistant config v{self.version}"

    @property
    def is_active(self) -> bool:
        return not self.kill_switch and self.mode != AssistantMode.OFF

    def to_settings(self) -> AssistantSettings:
        return AssistantSettings(
            name=self.name,
            persona=self.persona,
            allowed_topics=tuple(self.allowed_topics),
            forbidden_topics=tuple(self.forbidden_topics),
            threshold=self.threshold,
            max_reply_chars=self.max_reply_chars,
            use_first_name=self.use_first_name,
            temperature=self.temperature,
            holding_message=self.holding_message,
        )


class DraftStatus(models.TextChoices):
    PENDING_REVIEW = "pending_review", "Waiting for review"
    SENT = "sent", "Sent"
    REJECTED = "rejected", "Rejected"
    EDITED_SENT = "edited_sent", "Edited and sent"
    ESCALATED = "escalated", "Escalated"


class AssistantDraft(WorkspaceScopedModel):
    """What the assistant did with one inbound message, and what a reviewer did with it."""

    conversation = models.ForeignKey(
        "crm.Conversation", on_delete=models.CASCADE, related_name="assistant_drafts"
    )
    inbound_message = models.OneToOneField(
        "crm.Message", on_delete=models.CASCADE, related_name="assistant_draft"
    )
    config = models.ForeignKey(AssistantConfig, on_delete=models.PROTECT, related_name="drafts")
    decision = models.CharField(max_length=16)  # "answer" | "escalate"
    draft_text = models.TextField(blank=True)
    sent_text = models.TextField(
        blank=True, help_text="What the customer got, if a reviewer edited"
    )
    sources = models.JSONField(default=list, blank=True, help_text="Knowledge entry keys")
    score = models.FloatField(default=0.0)
    verdicts = models.JSONField(default=list, blank=True)
    reasons = models.JSONField(default=list, blank=True)
    composer = models.CharField(max_length=40, blank=True)
    status = models.CharField(max_length=16, choices=DraftStatus.choices)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Escalations: who the conversation went to (round-robin)",
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    outbound_message = models.ForeignKey(
        "crm.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The holding (or after-hours) message a customer got while this draft waited or escalated;
    # set in the transaction that stores that message, so it goes out at most once per draft.
    holding_sent_at = models.DateTimeField(null=True, blank=True)
    holding_message = models.ForeignKey(
        "crm.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # An agent's "customer complained / wrong answer" flag on a reply that went out.
    complaint_flagged_at = models.DateTimeField(null=True, blank=True)
    complaint_flagged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    complaint_note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "status", "-created_at"], name="draft_queue_idx"),
            # The holding-message job scans every workspace: only waiting drafts are indexed.
            models.Index(
                fields=["created_at"],
                condition=models.Q(status="pending_review", holding_sent_at__isnull=True),
                name="draft_holding_due_idx",
            ),
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"assistant draft {self.pk} ({self.status})"
