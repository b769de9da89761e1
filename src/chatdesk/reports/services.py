"""Building daily rollups, and the one hook that keeps first responses current between builds."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date, datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from chatdesk.crm.models import Conversation
from chatdesk.reports.days import day_end, day_start, days_between
from chatdesk.reports.first_response import REPLY_AUTHORS, conversation_days_build
from chatdesk.reports.live import draft_counts_by_day, message_counts_by_day
from chatdesk.reports.models import ConversationDay, DailyRollup
from chatdesk.tenancy.models import Workspace

logger = logging.getLogger(__name__)

# The dashboard's longest range is 90 days; rollups cover it, and conversation days a margin
# beyond it (older ones are pruned: a row stores its previous day, so nothing reads them).
WINDOW_DAYS = 90
CONVERSATION_DAYS_KEPT = 120
# A fresh installation is backfilled a few days per run (the dashboard computes the missing
# days live meanwhile); `chatdesk reports-rebuild` does it at once.
MISSING_DAYS_PER_RUN = 7
PRUNE_BATCH = 5000


def rollup_is_final(rollup: DailyRollup) -> bool:
    """Built after its day ended: it saw the whole day. (A day's messages arriving later than
    that are caught by the rebuild of yesterday, which the job repeats all day long.)"""
    return rollup.built_at >= day_end(rollup.day)


@transaction.atomic
def daily_rollup_build(*, workspace: Workspace, day: date) -> DailyRollup:
    """(Re)build one day's rollup and conversation days from the source tables; idempotent."""
    started = timezone.now()  # before reading: what the build saw was committed by then
    messages = message_counts_by_day(workspace=workspace, days=[day])[day]
    drafts = draft_counts_by_day(workspace=workspace, days=[day])[day]
    conversation_days = conversation_days_build(workspace=workspace, day=day)
    ConversationDay.objects.for_workspace(workspace).filter(day=day).delete()
    ConversationDay.objects.for_workspace(workspace).bulk_create(conversation_days, batch_size=1000)
    rollup, _ = DailyRollup.objects.for_workspace(workspace).update_or_create(
        workspace=workspace,
        day=day,
        defaults={
            "new_leads": messages.new_leads,
            "messages_in": messages.messages_in,
            "messages_out": messages.messages_out,
            "messages_out_assistant": messages.messages_out_assistant,
            "drafts": drafts.drafts,
            "sent_autonomous": drafts.sent_autonomous,
            "approved": drafts.approved,
            "edited": drafts.edited,
            "rejected": drafts.rejected,
            "pending_review": drafts.pending_review,
            "escalated": drafts.escalated,
            "complaints": drafts.complaints,
            "escalation_reasons": dict(sorted(drafts.escalation_reasons.items())),
            "guard_blocks": dict(sorted(drafts.guard_blocks.items())),
            "built_at": started,
        },
    )
    return rollup


def daily_rollups_rebuild(*, workspace: Workspace, first_day: date, last_day: date) -> int:
    """Rebuild every day from first_day to last_day, oldest first, one transaction per day (a
    day's worth of rows at a time: bounded memory whatever the history)."""
    days = days_between(first_day, last_day)
    for day in days:
        daily_rollup_build(workspace=workspace, day=day)
    return len(days)


def _days_to_build(rollups: dict[date, DailyRollup], today: date) -> list[date]:
    yesterday = today - timedelta(days=1)
    due = {today, yesterday}
    missing = []
    for day in days_between(today - timedelta(days=WINDOW_DAYS - 1), yesterday - timedelta(days=1)):
        rollup = rollups.get(day)
        if rollup is None or not rollup_is_final(rollup):
            missing.append(day)
        elif rollup.pending_review:
            due.add(day)  # drafts still waiting: their review outcomes are still to come
    # Newest first: the 7-day range becomes fast first.
    due.update(sorted(missing, reverse=True)[:MISSING_DAYS_PER_RUN])
    return sorted(due)


def daily_rollups_refresh(*, now: datetime | None = None) -> int:
    """The periodic job: for every workspace rebuild today and yesterday, days whose drafts
    still wait for review, and a few missing or partial days; prune old conversation days.
    Returns how many days were built."""
    today = timezone.localdate(now or timezone.now())
    by_workspace: dict[int, dict[date, DailyRollup]] = defaultdict(dict)
    # A maintenance job over every tenant: each workspace's rows are then rebuilt through
    # scoped queries.
    for rollup in DailyRollup.dangerously_unscoped_objects.filter(
        day__gte=today - timedelta(days=WINDOW_DAYS - 1)
    ).only("workspace_id", "day", "built_at", "pending_review"):
        by_workspace[rollup.workspace_id][rollup.day] = rollup
    built = 0
    for workspace in Workspace.objects.order_by("pk"):
        for day in _days_to_build(by_workspace[workspace.pk], today):
            daily_rollup_build(workspace=workspace, day=day)
            built += 1
    _conversation_days_prune(before=today - timedelta(days=CONVERSATION_DAYS_KEPT))
    return built


def _conversation_days_prune(*, before: date) -> None:
    old = ConversationDay.dangerously_unscoped_objects.filter(day__lt=before)
    while ids := list(old.values_list("pk", flat=True)[:PRUNE_BATCH]):
        ConversationDay.dangerously_unscoped_objects.filter(pk__in=ids).delete()


def daily_rollups_invalidate(*, workspace: Workspace, at: datetime) -> None:
    """Something changed on the day of `at` after its rollup was built (e.g. an agent flagged
    a complaint on an older draft): the dashboard computes that day live again and the next
    job run rebuilds it."""
    day = timezone.localdate(at)
    DailyRollup.objects.for_workspace(workspace).filter(day=day).update(built_at=day_start(day))


def conversation_days_record_reply(
    *, conversation: Conversation, author: str, at: datetime
) -> None:
    """An outbound message was recorded at `at`. If an agent or the assistant wrote it, it is
    the first reply of every day whose first customer message came at or before it and which
    has no earlier reply. One UPDATE, no read; keeps closed days exact when a conversation is
    answered days later."""
    if author not in REPLY_AUTHORS:
        return
    # The scope needs only the workspace's id: no query to load the workspace row.
    workspace = Workspace(pk=conversation.workspace_id)
    ConversationDay.objects.for_workspace(workspace).filter(
        Q(first_reply_at__isnull=True) | Q(first_reply_at__gt=at),
        conversation_id=conversation.pk,
        first_inbound_at__lte=at,
    ).update(first_reply_at=at)
