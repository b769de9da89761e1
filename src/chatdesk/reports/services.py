"""Building daily rollups, and the one hook that keeps first responses current between builds."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date, datetime, timedelta

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from chatdesk.crm.models import Conversation
from chatdesk.reports.days import RANGES, day_end, day_start, days_between
from chatdesk.reports.first_response import (
    REPLY_AUTHORS,
    conversation_days_build,
    conversations_written_to,
    first_response_median_rollup,
)
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
# How often the worker rebuilds today's rollup (tasks.py), and how old that rollup may be for
# the dashboard to show it instead of counting today live: the period plus a minute, because a
# run starts a little after its slot and builds today last, so a worker that keeps up never
# leaves a gap in which every page load counts today live. Older means the worker is down or
# behind; then the dashboard counts live, slower but current.
REFRESH_EVERY = timedelta(minutes=5)
DASHBOARD_TODAY_MAX_AGE = REFRESH_EVERY + timedelta(minutes=1)


def rollup_is_final(rollup: DailyRollup) -> bool:
    """Built after its day ended: it saw the whole day. (A day's messages arriving later than
    that are caught by the rebuild of yesterday, which the job repeats all day long.)"""
    return rollup.built_at >= day_end(rollup.day)


def rollup_is_fresh(rollup: DailyRollup, *, now: datetime) -> bool:
    """Built by the worker within DASHBOARD_TODAY_MAX_AGE before `now`: good enough for figures
    that still change (today's, or a day whose drafts wait for review), as of `built_at`.

    Not fresh: built after `now` (it may count what happened after the moment asked for), or
    at its day's first instant, which is how `daily_rollups_invalidate` marks a day to recount.
    """
    return (
        day_start(rollup.day) < rollup.built_at <= now
        and now - rollup.built_at < DASHBOARD_TODAY_MAX_AGE
    )


@transaction.atomic
def daily_rollup_build(
    *, workspace: Workspace, day: date, now: datetime | None = None
) -> DailyRollup:
    """(Re)build one day's rollup and conversation days from the source tables; idempotent.
    `now` (default: the clock) is the moment the build is stamped with; taken before reading,
    what the build saw was committed by then."""
    started = now or timezone.now()
    messages = message_counts_by_day(workspace=workspace, days=[day])[day]
    drafts = draft_counts_by_day(workspace=workspace, days=[day])[day]
    _conversation_days_save(
        workspace=workspace, day=day, rows=conversation_days_build(workspace=workspace, day=day)
    )
    # Today's figures over whole ranges, once its conversation days are in place (the job
    # builds a workspace's days oldest first, so the closed days of the ranges are done).
    is_today = day == timezone.localdate(started)
    range_figures = _range_figures(workspace=workspace, today=day) if is_today else {}
    rollup, _ = DailyRollup.objects.for_workspace(workspace).update_or_create(
        workspace=workspace,
        day=day,
        defaults={
            "range_figures": range_figures,
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


def _range_figures(*, workspace: Workspace, today: date) -> dict:
    """The non-additive figures of each dashboard range ending today (see
    DailyRollup.range_figures): for the longest range, one query for which closed days have a
    final rollup, then two indexed queries per range whose closed days all do. The same
    queries the dashboard would run, so the same figures."""
    first = today - timedelta(days=max(RANGES) - 1)
    final = {
        rollup.day
        for rollup in DailyRollup.objects.for_workspace(workspace)
        .filter(day__gte=first, day__lt=today)
        .only("day", "built_at")
        if rollup_is_final(rollup)
    }
    figures = {}
    for days in RANGES:
        first_day = today - timedelta(days=days - 1)
        if not final.issuperset(days_between(first_day, today - timedelta(days=1))):
            continue
        until = day_end(today)
        written = conversations_written_to(
            workspace=workspace, since=day_start(first_day), until=until
        ).aggregate(
            total=Count("last_inbound_at"),
            escalated=Count("needs_human", filter=Q(needs_human=True)),
        )
        answered, median = first_response_median_rollup(
            workspace=workspace, first_day=first_day, today=today, until=until, with_today=True
        )
        figures[str(days)] = {
            "written_to": written["total"],
            "escalated": written["escalated"],
            "answered": answered,
            # Whole microseconds: the stored median is exactly the computed one.
            "median_us": None if median is None else median // timedelta(microseconds=1),
        }
    return figures


def _conversation_days_save(
    *, workspace: Workspace, day: date, rows: list[ConversationDay]
) -> None:
    """Store a day's rows, writing only those that changed. Today is rebuilt every few minutes
    and almost all of its rows are as they were (the reply hook already keeps `first_reply_at`
    current): deleting and re-inserting them each run would rewrite every row and its index
    entries all day long, bloating the table the median reads."""
    scoped = ConversationDay.objects.for_workspace(workspace)
    stored = {row.conversation_id: row for row in scoped.filter(day=day)}
    fields = ("first_inbound_at", "first_reply_at", "previous_day")
    new, changed = [], []
    for row in rows:
        old = stored.pop(row.conversation_id, None)
        if old is None:
            new.append(row)
        elif any(getattr(old, f) != getattr(row, f) for f in fields):
            for f in fields:
                setattr(old, f, getattr(row, f))
            changed.append(old)
    if stored:  # the customer's messages of that day are gone (e.g. a contact was erased)
        scoped.filter(pk__in=[row.pk for row in stored.values()]).delete()
    scoped.bulk_update(changed, fields, batch_size=500)
    scoped.bulk_create(new, batch_size=1000)


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
