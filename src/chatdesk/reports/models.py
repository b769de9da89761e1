"""Pre-aggregated dashboard data, so the page costs the same at 10k and at 1M messages.

- `DailyRollup`: one row per workspace and day with the day's additive counts (leads, messages,
  assistant drafts and what became of them). Built by `daily_rollup_build` (the periodic job,
  `chatdesk reports-rebuild`); the dashboard reads closed days from it, and today while the
  worker keeps today's row fresh (live otherwise).
- `ConversationDay`: one row per conversation and day on which the customer wrote, with the
  first customer message of that day and the first reply at or after it. The median first
  response depends on the range (t0 = the conversation's first customer message *in the range*),
  so it cannot be a per-day number: it is the median over these rows, taking for each
  conversation the row of its first day in the range (`previous_day` before the range start).

Days are calendar days in the current time zone (settings.TIME_ZONE; chatdesk has no
per-workspace zone yet), the same days the dashboard's range and its `TruncDate` use.
"""

from __future__ import annotations

from django.db import models

from chatdesk.tenancy.scoping import WorkspaceScopedModel


class DailyRollup(WorkspaceScopedModel):
    day = models.DateField()
    new_leads = models.PositiveIntegerField(default=0)
    messages_in = models.PositiveIntegerField(default=0)
    messages_out = models.PositiveIntegerField(default=0)
    messages_out_assistant = models.PositiveIntegerField(default=0)
    # Assistant drafts made that day, and what became of them so far (drafts are attributed to
    # the day they were made, so a day's review outcomes settle once its queue is empty).
    drafts = models.PositiveIntegerField(default=0)
    sent_autonomous = models.PositiveIntegerField(default=0)
    approved = models.PositiveIntegerField(default=0)
    edited = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    pending_review = models.PositiveIntegerField(default=0)
    escalated = models.PositiveIntegerField(default=0)
    complaints = models.PositiveIntegerField(default=0)
    escalation_reasons = models.JSONField(default=dict, help_text="{reason code: drafts}")
    guard_blocks = models.JSONField(default=dict, help_text="{guard check: drafts}")
    built_at = models.DateTimeField(
        help_text="A rollup built before its day ended is partial: the dashboard ignores it"
    )
    # Today's row only: the figures over each dashboard range ending that day that are not sums
    # of days (conversations written to, escalated; answered, median first response), computed
    # when the row is built, so the page reads them instead of scanning the range's
    # conversations on every load. {"30": {"written_to": n, "escalated": n, "answered": n,
    # "median_us": microseconds or null}}; a range is left out when one of its closed days had
    # no final rollup then.
    range_figures = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "day"], name="daily_rollup_unique_day")
        ]

    def __str__(self) -> str:
        return f"rollup {self.workspace_id} {self.day}"


class ConversationDay(WorkspaceScopedModel):
    conversation = models.ForeignKey("crm.Conversation", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    first_inbound_at = models.DateTimeField(help_text="The customer's first message that day")
    first_reply_at = models.DateTimeField(
        null=True, blank=True, help_text="First agent or assistant reply at or after it"
    )
    previous_day = models.DateField(
        null=True, blank=True, help_text="The customer's previous day of writing, if any"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "day"], name="conversation_day_unique_day"
            )
        ]
        indexes = [
            # The median reads a range of days through this index alone (index-only scan on
            # PostgreSQL): every column it needs is in the key.
            models.Index(
                fields=["workspace", "day", "previous_day", "first_inbound_at", "first_reply_at"],
                name="conversation_day_range_idx",
            )
        ]

    def __str__(self) -> str:
        return f"conversation {self.conversation_id} on {self.day}"
