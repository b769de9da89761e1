"""Dashboard figures, computed by the database (aggregations over the range, never a loop over
messages or conversations in Python). A fixed number of queries, whatever the data size.

Definitions (what each figure means, so a test can check it on hand-built data):
- new leads: contacts created in the range, per day;
- open conversations: conversations whose status is open now (a snapshot, not a range);
- messages per day: customer and business messages by `provider_timestamp`, private notes
  excluded;
- assistant share: outbound messages written by the assistant / all outbound messages;
- escalation rate: conversations with an inbound message in the range that are flagged
  "needs a human" / conversations with an inbound message in the range;
- median first response: for each conversation whose first inbound message in the range is at
  t0, the time from t0 to the first agent or assistant reply at or after t0 (private notes do
  not count); the median over the conversations that got such a reply.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.core.cache import cache
from django.db import connection
from django.db.models import (
    Aggregate,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import TruncDate
from django.utils import timezone

from chatdesk.crm.models import (
    Author,
    Contact,
    Conversation,
    ConversationStatus,
    Direction,
    Message,
)
from chatdesk.tenancy.models import Workspace

RANGES = (7, 30, 90)
DEFAULT_RANGE = 30
# The figures scan the range's messages: many agents reloading the page should not repeat that
# work every time. A minute of staleness is fine for a report (the page says when it was made).
CACHE_SECONDS = 60


class Median(Aggregate):
    """PostgreSQL's exact median (percentile_cont interpolates between the two middle values,
    like statistics.median)."""

    function = "PERCENTILE_CONT"
    name = "Median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    allow_distinct = False


@dataclass(frozen=True)
class DayCount:
    day: date
    values: dict[str, int]


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


def dashboard_range(*, days: int, now: datetime | None = None) -> tuple[datetime, datetime]:
    """Whole days: today and the days-1 before it, in the current time zone."""
    today = timezone.localdate(now or timezone.now())
    since = timezone.make_aware(datetime.combine(today - timedelta(days=days - 1), time.min))
    until = timezone.make_aware(datetime.combine(today + timedelta(days=1), time.min))
    return since, until


def _series(since: datetime, days: int, rows, keys: list[str]) -> list[DayCount]:
    """Every day of the range, zeros included (the rows only hold days that had data)."""
    start = timezone.localdate(since)
    counts: dict[date, dict[str, int]] = {
        start + timedelta(days=i): dict.fromkeys(keys, 0) for i in range(days)
    }
    for day, key, n in rows:
        if day in counts and key in counts[day]:
            counts[day][key] += n
    return [DayCount(day=day, values=values) for day, values in counts.items()]


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def dashboard_get(*, workspace: Workspace, days: int, now: datetime | None = None) -> Dashboard:
    since, until = dashboard_range(days=days, now=now)
    in_range = {"provider_timestamp__gte": since, "provider_timestamp__lt": until}
    messages = Message.objects.for_workspace(workspace).filter(is_private_note=False, **in_range)

    # 1. New leads per day.
    lead_rows = (
        Contact.objects.for_workspace(workspace)
        .filter(created_at__gte=since, created_at__lt=until)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    leads_per_day = _series(since, days, [(d, "leads", n) for d, n in lead_rows], ["leads"])

    # 2. Messages per day, by direction and author: one grouped query feeds the chart and the
    # assistant share.
    message_rows = list(
        messages.annotate(day=TruncDate("provider_timestamp"))
        .values("day", "direction", "author")
        .annotate(n=Count("id"))
        .values_list("day", "direction", "author", "n")
        .order_by()
    )
    messages_per_day = _series(
        since,
        days,
        [(d, direction, n) for d, direction, _author, n in message_rows],
        [Direction.INBOUND.value, Direction.OUTBOUND.value],
    )
    inbound = sum(n for _d, direction, _a, n in message_rows if direction == Direction.INBOUND)
    outbound = sum(n for _d, direction, _a, n in message_rows if direction == Direction.OUTBOUND)
    by_assistant = sum(
        n
        for _d, direction, author, n in message_rows
        if direction == Direction.OUTBOUND and author == Author.ASSISTANT
    )

    # 3. Conversations open now, and how many of them wait for a human.
    conversations = Conversation.objects.for_workspace(workspace)
    open_counts = conversations.filter(status=ConversationStatus.OPEN).aggregate(
        open=Count("id"), waiting=Count("id", filter=Q(needs_human=True))
    )

    # 4. Escalation rate over the conversations the customers wrote to in the range. They are
    # found from the range's messages (a time-range index scan), not by probing every
    # conversation the workspace ever had.
    written_to = conversations.filter(
        pk__in=messages.filter(direction=Direction.INBOUND).values("conversation_id")
    )
    escalation = written_to.aggregate(
        total=Count("id"), escalated=Count("id", filter=Q(needs_human=True))
    )

    # 5. Median first response, over the same conversations.
    answered, median = _first_response_median(
        workspace=workspace, conversations=written_to, since=since, until=until
    )

    return Dashboard(
        days=days,
        since=since,
        until=until,
        computed_at=now or timezone.now(),
        new_leads=sum(d.values["leads"] for d in leads_per_day),
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
    )


def dashboard_get_cached(*, workspace: Workspace, days: int) -> Dashboard:
    """dashboard_get(), remembered for CACHE_SECONDS per workspace, range and day."""
    key = f"reports:dashboard:{workspace.pk}:{days}:{timezone.localdate().isoformat()}"
    figures = cache.get(key)
    if figures is None:
        figures = dashboard_get(workspace=workspace, days=days)
        cache.set(key, figures, CACHE_SECONDS)
    return figures


def _first_response_median(
    *,
    workspace: Workspace,
    conversations: QuerySet[Conversation],
    since: datetime,
    until: datetime,
) -> tuple[int, timedelta | None]:
    """One query over `conversations` (those with an inbound message in the range): per
    conversation, two correlated subqueries served by the message index on (conversation,
    direction, time) find the first inbound message in the range (t0) and the first reply at or
    after t0; the database takes the median of the gaps. A conversation without a reply yet has
    a NULL gap, which COUNT and PERCENTILE_CONT skip."""
    scoped = Message.objects.for_workspace(workspace)
    first_inbound = (
        scoped.filter(
            conversation=OuterRef("pk"),
            direction=Direction.INBOUND,
            provider_timestamp__gte=since,
            provider_timestamp__lt=until,
        )
        .order_by("provider_timestamp")
        .values("provider_timestamp")[:1]
    )
    first_reply = (
        scoped.filter(
            conversation=OuterRef("pk"),
            direction=Direction.OUTBOUND,
            author__in=[Author.AGENT, Author.ASSISTANT],
            is_private_note=False,
            provider_timestamp__gte=OuterRef("first_inbound"),
        )
        .order_by("provider_timestamp")
        .values("provider_timestamp")[:1]
    )
    gaps = conversations.annotate(first_inbound=Subquery(first_inbound)).annotate(
        gap=ExpressionWrapper(
            Subquery(first_reply) - F("first_inbound"), output_field=DurationField()
        )
    )
    if connection.vendor == "postgresql":
        result = gaps.aggregate(answered=Count("gap"), median=Median("gap"))
        return result["answered"], result["median"]
    # SQLite has no percentile function: the median of the per-conversation gaps (already
    # computed by the query, one value per conversation) is taken here.
    values = [gap for gap in gaps.values_list("gap", flat=True) if gap is not None]
    return len(values), (statistics.median(values) if values else None)
