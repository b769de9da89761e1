"""Dashboard figures from the daily rollups: closed days from their final rollups, today from
today's rollup while the worker keeps it fresh (the page says as of when), with the range's
figures that are not sums of days (conversations written to and escalated, the median first
response), which the job computes with it. Today when its rollup is missing or stale (the worker
is down), and any closed day without a final rollup, are computed live by the database. A fixed
number of queries, whatever the data size, and the same figures either way
(tests/reports/test_rollups.py compares them).

Definitions (what each figure means, so a test can check it on hand-built data):
- new leads: contacts created in the range, per day;
- open conversations: conversations whose status is open now (a snapshot, not a range);
- messages per day: customer and business messages by `provider_timestamp`, private notes
  excluded;
- assistant share: outbound messages written by the assistant / all outbound messages;
- escalation rate: conversations with an inbound message in the range that are flagged
  "needs a human" now (as of today's rollup when read from it) / conversations with an
  inbound message in the range;
- median first response: for each conversation whose first inbound message in the range is at
  t0, the time from t0 to the first agent or assistant reply at or after t0 (private notes do
  not count); the median over the conversations that got such a reply;
- assistant: the drafts made in the range (one per customer message the assistant handled)
  and what became of them: sent on its own, approved, edited and sent, rejected, waiting for
  review, escalated (by reason), blocked by the guard (by check), flagged as complaints.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.core.cache import cache
from django.db.models import Count, Q
from django.utils import timezone

from chatdesk.crm.models import Conversation, ConversationStatus
from chatdesk.reports.days import RANGES, day_start, days_between
from chatdesk.reports.first_response import (
    conversations_written_to,
    first_response_median_live,
    first_response_median_rollup,
)
from chatdesk.reports.live import (
    DraftCounts,
    MessageCounts,
    draft_counts_by_day,
    message_counts_by_day,
)
from chatdesk.reports.models import DailyRollup
from chatdesk.reports.reasons import CHECK_LABELS, REASON_LABELS
from chatdesk.reports.services import rollup_is_final, rollup_is_fresh
from chatdesk.tenancy.models import Workspace

# RANGES is defined with the days (the rollup job needs it too); views and forms read it here.
__all__ = ["DEFAULT_RANGE", "RANGES", "dashboard_get", "dashboard_get_cached", "dashboard_range"]
DEFAULT_RANGE = 30
# Many agents reloading the page should not repeat the work every time. A minute of staleness
# is fine for a report (the page says when it was made).
CACHE_SECONDS = 60


@dataclass(frozen=True)
class DayCount:
    day: date
    values: dict[str, int]


@dataclass(frozen=True)
class Breakdown:
    code: str
    label: str
    count: int


@dataclass(frozen=True)
class AssistantFigures:
    drafts: int
    sent: int
    sent_autonomous: int
    approved: int
    edited: int
    rejected: int
    pending_review: int
    escalated: int
    complaints: int
    escalation_reasons: tuple[Breakdown, ...]  # most frequent first
    guard_blocks: tuple[Breakdown, ...]
    per_day: list[DayCount]  # drafts, sent, escalated


@dataclass(frozen=True)
class Dashboard:
    days: int
    since: datetime
    until: datetime
    computed_at: datetime
    new_leads: int
    leads_per_day: list[DayCount]
    open_conversations: int
    waiting_for_human: int
    messages_per_day: list[DayCount]
    inbound_total: int
    outbound_total: int
    assistant_replies: int
    assistant_share: float | None  # None: no outbound message in the range
    conversations_with_inbound: int
    escalated_conversations: int
    escalation_rate: float | None  # None: no conversation with an inbound message
    answered_conversations: int
    median_first_response: timedelta | None  # None: no conversation got a reply
    assistant: AssistantFigures
    rollup_days: int  # days read from rollups, today included when fresh (the rest were live)
    # When today's figures (and those of days whose drafts wait for review) were taken: the
    # build time of the rollups they came from, or computed_at when computed live.
    today_as_of: datetime


def dashboard_range(*, days: int, now: datetime | None = None) -> tuple[datetime, datetime]:
    """Whole days: today and the days-1 before it, in the current time zone."""
    today = timezone.localdate(now or timezone.now())
    return day_start(today - timedelta(days=days - 1)), day_start(today + timedelta(days=1))


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _message_counts(rollup: DailyRollup) -> MessageCounts:
    return MessageCounts(
        new_leads=rollup.new_leads,
        messages_in=rollup.messages_in,
        messages_out=rollup.messages_out,
        messages_out_assistant=rollup.messages_out_assistant,
    )


def _draft_counts(rollup: DailyRollup) -> DraftCounts:
    counts = DraftCounts(
        drafts=rollup.drafts,
        sent_autonomous=rollup.sent_autonomous,
        approved=rollup.approved,
        edited=rollup.edited,
        rejected=rollup.rejected,
        pending_review=rollup.pending_review,
        escalated=rollup.escalated,
        complaints=rollup.complaints,
    )
    counts.escalation_reasons.update(rollup.escalation_reasons)
    counts.guard_blocks.update(rollup.guard_blocks)
    return counts


@dataclass(frozen=True)
class DailyFigures:
    messages: dict[date, MessageCounts]
    drafts: dict[date, DraftCounts]
    rollup_days: int  # days whose message counts came from a rollup
    conversation_days_through: date | None  # the range's ConversationDay rows are complete up
    # to this day included (None: a closed day has no final rollup, the median is live)
    as_of: datetime
    today_rollup: DailyRollup | None  # when fresh


def daily_figures_get(
    *, workspace: Workspace, first_day: date, today: date, now: datetime
) -> DailyFigures:
    """Per-day counts for first_day..today from rollups where they are usable, live for the rest.

    Closed days need a final rollup. Today's rollup is usable while fresh (rollup_is_fresh).
    A closed day whose drafts still waited for review at its last build takes its assistant
    counts from that build while it is fresh (the job rebuilds such days every run), live when
    it is not (a review changes them at any moment); its message counts are final either way.
    """
    days = days_between(first_day, today)
    rollups = DailyRollup.objects.for_workspace(workspace).filter(
        day__gte=first_day, day__lte=today
    )
    usable, fresh_at = {}, []
    for rollup in rollups:
        if rollup.day < today and rollup_is_final(rollup):
            usable[rollup.day] = rollup
        elif rollup.day == today and rollup_is_fresh(rollup, now=now):
            usable[rollup.day] = rollup
            fresh_at.append(rollup.built_at)
    messages = message_counts_by_day(workspace=workspace, days=[d for d in days if d not in usable])
    messages.update({day: _message_counts(rollup) for day, rollup in usable.items()})
    settled = {}
    for day, rollup in usable.items():
        if day == today or not rollup.pending_review:
            settled[day] = rollup
        elif rollup_is_fresh(rollup, now=now):
            settled[day] = rollup
            fresh_at.append(rollup.built_at)
    drafts = draft_counts_by_day(workspace=workspace, days=[d for d in days if d not in settled])
    drafts.update({day: _draft_counts(rollup) for day, rollup in settled.items()})
    closed_rolled = all(d in usable for d in days[:-1])
    through = (today if today in usable else today - timedelta(days=1)) if closed_rolled else None
    # What is computed live is as of now; what still changes and came from a rollup is as of
    # its build (all rebuilt by the same job run, so these are minutes apart at most).
    return DailyFigures(
        messages, drafts, len(usable), through, min(fresh_at, default=now), usable.get(today)
    )


def _assistant_figures(drafts: dict[date, DraftCounts]) -> AssistantFigures:
    total = DraftCounts()
    for counts in drafts.values():
        total.add(counts)

    def breakdown(counter, labels) -> tuple[Breakdown, ...]:
        rows = [Breakdown(code, labels.get(code, code), n) for code, n in counter.items() if n]
        return tuple(sorted(rows, key=lambda b: (-b.count, b.label)))

    return AssistantFigures(
        drafts=total.drafts,
        sent=total.sent,
        sent_autonomous=total.sent_autonomous,
        approved=total.approved,
        edited=total.edited,
        rejected=total.rejected,
        pending_review=total.pending_review,
        escalated=total.escalated,
        complaints=total.complaints,
        escalation_reasons=breakdown(total.escalation_reasons, REASON_LABELS),
        guard_blocks=breakdown(total.guard_blocks, CHECK_LABELS),
        per_day=[
            DayCount(day, {"drafts": c.drafts, "sent": c.sent, "escalated": c.escalated})
            for day, c in sorted(drafts.items())
        ],
    )


def _stored_range_figures(daily: DailyFigures, *, days: int, today: date) -> dict | None:
    """The range's figures stored in today's fresh rollup, when every closed day of the range
    is read from its final rollup too (the figures were computed from those days' rows)."""
    if daily.today_rollup is None or daily.conversation_days_through != today:
        return None
    return daily.today_rollup.range_figures.get(str(days))


def dashboard_get(*, workspace: Workspace, days: int, now: datetime | None = None) -> Dashboard:
    now = now or timezone.now()
    since, until = dashboard_range(days=days, now=now)
    first_day, today = timezone.localdate(since), timezone.localdate(now)
    daily = daily_figures_get(workspace=workspace, first_day=first_day, today=today, now=now)
    messages = daily.messages
    ordered = sorted(messages.items())
    leads_per_day = [DayCount(day, {"leads": c.new_leads}) for day, c in ordered]
    messages_per_day = [
        DayCount(day, {"in": c.messages_in, "out": c.messages_out}) for day, c in ordered
    ]
    inbound = sum(c.messages_in for c in messages.values())
    outbound = sum(c.messages_out for c in messages.values())
    by_assistant = sum(c.messages_out_assistant for c in messages.values())

    # A snapshot of now: a small indexed count.
    open_counts = (
        Conversation.objects.for_workspace(workspace)
        .filter(status=ConversationStatus.OPEN)
        .aggregate(open=Count("id"), waiting=Count("id", filter=Q(needs_human=True)))
    )
    # The range's distinct conversations and its median first response: from today's fresh
    # rollup (as of its build), else computed, from the conversation days where they are all
    # there.
    stored = _stored_range_figures(daily, days=days, today=today)
    if stored is not None:
        escalation = {"total": stored["written_to"], "escalated": stored["escalated"]}
        answered = stored["answered"]
        median = (
            None if stored["median_us"] is None else timedelta(microseconds=stored["median_us"])
        )
    else:
        # Counting indexed columns, not the id: conv_written_idx alone answers (index-only).
        escalation = conversations_written_to(
            workspace=workspace, since=since, until=until
        ).aggregate(
            total=Count("last_inbound_at"),
            escalated=Count("needs_human", filter=Q(needs_human=True)),
        )
        if daily.conversation_days_through is None:
            answered, median = first_response_median_live(
                workspace=workspace, since=since, until=until
            )
        else:
            answered, median = first_response_median_rollup(
                workspace=workspace,
                first_day=first_day,
                today=today,
                until=until,
                with_today=daily.conversation_days_through == today,
            )

    return Dashboard(
        days=days,
        since=since,
        until=until,
        computed_at=now,
        new_leads=sum(c.new_leads for c in messages.values()),
        leads_per_day=leads_per_day,
        open_conversations=open_counts["open"],
        waiting_for_human=open_counts["waiting"],
        messages_per_day=messages_per_day,
        inbound_total=inbound,
        outbound_total=outbound,
        assistant_replies=by_assistant,
        assistant_share=_rate(by_assistant, outbound),
        conversations_with_inbound=escalation["total"],
        escalated_conversations=escalation["escalated"],
        escalation_rate=_rate(escalation["escalated"], escalation["total"]),
        answered_conversations=answered,
        median_first_response=median,
        assistant=_assistant_figures(daily.drafts),
        rollup_days=daily.rollup_days,
        today_as_of=daily.as_of,
    )


def dashboard_get_cached(*, workspace: Workspace, days: int) -> Dashboard:
    """dashboard_get(), remembered for CACHE_SECONDS per workspace, range and day."""
    key = f"reports:dashboard:v3:{workspace.pk}:{days}:{timezone.localdate().isoformat()}"
    figures = cache.get(key)
    if figures is None:
        figures = dashboard_get(workspace=workspace, days=days)
        cache.set(key, figures, CACHE_SECONDS)
    return figures
