"""Median first response over a range of days, live or from `ConversationDay` rows.

Definition (unchanged from the first dashboard): for each conversation whose customer wrote in
the range, t0 = its first customer message in the range; its first response is the time from
t0 to the first agent or assistant reply at or after t0 (private notes do not count); the
figure is the median over the conversations that got such a reply.

t0 depends on where the range starts, so no single number per conversation or per day can
serve every range. A `ConversationDay` row holds, for one conversation and one day on which the
customer wrote, that day's first customer message and the first reply after it, plus the
customer's previous day of writing: for a range starting on day D, a conversation's t0 is on
the first of its days >= D, which is the row whose previous day is before D (or none). Closed
days come from those rows; today too while its rollup is fresh, otherwise live from today's
messages only.
"""

from __future__ import annotations

import statistics
from datetime import UTC, date, datetime, timedelta

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
from django.utils import timezone

from chatdesk.crm.models import Author, Conversation, Direction, Message
from chatdesk.reports.days import day_end, day_start
from chatdesk.reports.models import ConversationDay
from chatdesk.tenancy.models import Workspace

REPLY_AUTHORS = (Author.AGENT, Author.ASSISTANT)


class Median(Aggregate):
    """PostgreSQL's exact median (percentile_cont interpolates between the two middle values,
    like statistics.median)."""

    function = "PERCENTILE_CONT"
    name = "Median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    allow_distinct = False


def conversations_written_to(
    *, workspace: Workspace, since: datetime, until: datetime
) -> QuerySet[Conversation]:
    """Conversations with a customer message in [since, until).

    `last_inbound_at` is the customer's latest message time, only ever moved forward
    (messaging.services), so "wrote in the range" is "latest message on or after `since`"
    (nothing is dated in the future): one range of crm's conv_written_idx instead of a scan
    of the range's messages.
    """
    return Conversation.objects.for_workspace(workspace).filter(
        last_inbound_at__gte=since, last_inbound_at__lt=until
    )


def _first_reply(workspace: Workspace, after) -> Subquery:
    return Subquery(
        Message.objects.for_workspace(workspace)
        .filter(
            conversation=OuterRef("pk"),
            direction=Direction.OUTBOUND,
            author__in=REPLY_AUTHORS,
            is_private_note=False,
            provider_timestamp__gte=after,
        )
        .order_by("provider_timestamp")
        .values("provider_timestamp")[:1]
    )


def _first_inbound(workspace: Workspace, since: datetime, until: datetime) -> Subquery:
    return Subquery(
        Message.objects.for_workspace(workspace)
        .filter(
            conversation=OuterRef("pk"),
            direction=Direction.INBOUND,
            is_private_note=False,
            provider_timestamp__gte=since,
            provider_timestamp__lt=until,
        )
        .order_by("provider_timestamp")
        .values("provider_timestamp")[:1]
    )


def first_response_median_live(
    *, workspace: Workspace, since: datetime, until: datetime
) -> tuple[int, timedelta | None]:
    """(answered conversations, median) from the messages: two correlated index lookups per
    conversation written to in the range. Used when a closed day of the range has no rollup."""
    gaps = (
        conversations_written_to(workspace=workspace, since=since, until=until)
        .annotate(first_inbound=_first_inbound(workspace, since, until))
        .annotate(
            gap=ExpressionWrapper(
                _first_reply(workspace, OuterRef("first_inbound")) - F("first_inbound"),
                output_field=DurationField(),
            )
        )
    )
    if connection.vendor == "postgresql":
        result = gaps.aggregate(answered=Count("gap"), median=Median("gap"))
        return result["answered"], result["median"]
    # SQLite has no percentile function: the median of the per-conversation gaps (computed by
    # the query, one value per conversation) is taken here.
    values = [gap for gap in gaps.values_list("gap", flat=True) if gap is not None]
    return len(values), (statistics.median(values) if values else None)


def conversation_days_build(*, workspace: Workspace, day: date) -> list[ConversationDay]:
    """The `ConversationDay` rows of one day (unsaved): one query, three index lookups per
    conversation the customer wrote to that day (a day's worth, so bounded)."""
    start, end = day_start(day), day_end(day)
    wrote_that_day = Message.objects.for_workspace(workspace).filter(
        direction=Direction.INBOUND,
        is_private_note=False,
        provider_timestamp__gte=start,
        provider_timestamp__lt=end,
    )
    previous = Subquery(
        Message.objects.for_workspace(workspace)
        .filter(
            conversation=OuterRef("pk"),
            direction=Direction.INBOUND,
            is_private_note=False,
            provider_timestamp__lt=start,
        )
        .order_by("-provider_timestamp")
        .values("provider_timestamp")[:1]
    )
    rows = (
        Conversation.objects.for_workspace(workspace)
        .filter(pk__in=wrote_that_day.values("conversation_id"))
        .annotate(first_inbound=_first_inbound(workspace, start, end), previous=previous)
        .annotate(first_reply=_first_reply(workspace, OuterRef("first_inbound")))
        .values_list("pk", "first_inbound", "first_reply", "previous")
        .order_by("pk")
    )
    return [
        ConversationDay(
            workspace=workspace,
            conversation_id=pk,
            day=day,
            first_inbound_at=first_inbound,
            first_reply_at=first_reply,
            previous_day=timezone.localdate(prev) if prev else None,
        )
        for pk, first_inbound, first_reply, prev in rows
    ]


def first_response_median_rollup(
    *, workspace: Workspace, first_day: date, today: date, until: datetime, with_today: bool
) -> tuple[int, timedelta | None]:
    """(answered conversations, median) for the days first_day..today, every closed one having
    its `ConversationDay` rows: one query over those rows (an index-only range). Today's come
    from its rows too when `with_today` (today's rollup is fresh: rows as of its build, replies
    since then kept current by `conversation_days_record_reply`); otherwise from the
    conversations written to today (a few index lookups each, as many as today's traffic)."""
    through = {"day__lte": today} if with_today else {"day__lt": today}
    scoped_days = ConversationDay.objects.for_workspace(workspace).filter(
        day__gte=first_day, **through
    )
    closed, closed_params = (
        scoped_days.filter(Q(previous_day__isnull=True) | Q(previous_day__lt=first_day))
        .values("first_inbound_at", "first_reply_at")
        .query.sql_with_params()
    )
    # (S608: the interpolated pieces are SQL compiled by Django from scoped querysets; every
    # value is a parameter.)
    gaps = f"SELECT c.first_inbound_at AS t0, c.first_reply_at AS reply FROM ({closed}) c"  # noqa: S608
    params = list(closed_params)
    if not with_today:
        todays, todays_params = _todays_first_responses(workspace, scoped_days, today, until)
        gaps += f" UNION ALL SELECT t.t0, t.reply FROM ({todays}) t"  # noqa: S608
        params += todays_params
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT COUNT(u.reply - u.t0), PERCENTILE_CONT(0.5) WITHIN GROUP "  # noqa: S608
                f"(ORDER BY u.reply - u.t0) FROM ({gaps}) u",
                params,
            )
            answered, median = cursor.fetchone()
            return answered, median
        sql = f"SELECT u.t0, u.reply FROM ({gaps}) u WHERE u.reply IS NOT NULL"  # noqa: S608
        cursor.execute(sql, params)
        values = [_sqlite_datetime(reply) - _sqlite_datetime(t0) for t0, reply in cursor]
    return len(values), (statistics.median(values) if values else None)


def _todays_first_responses(
    workspace: Workspace, scoped_days: QuerySet[ConversationDay], today: date, until: datetime
) -> tuple[str, tuple]:
    """(SQL, params) of today's (t0, reply) rows computed live: the conversations written to
    today (conv_written_idx) that were not written to on an earlier day of the range (those
    have their t0 in the closed rows), their first customer message today (t0) and the first
    reply at or after it. "Not written to earlier" is a scalar subquery, not NOT EXISTS:
    PostgreSQL then probes conversation_day_unique_day once per conversation instead of hashing
    every conversation day of the range."""
    start = day_start(today)
    earlier = Subquery(
        scoped_days.filter(conversation=OuterRef("pk")).values("conversation_id")[:1]
    )
    return (
        conversations_written_to(workspace=workspace, since=start, until=until)
        .annotate(earlier=earlier)
        .filter(earlier__isnull=True)
        .annotate(t0=_first_inbound(workspace, start, until))
        .annotate(reply=_first_reply(workspace, OuterRef("t0")))
        .values("t0", "reply")
        .order_by()
        .query.sql_with_params()
    )


def _sqlite_datetime(value) -> datetime:
    # A raw SQLite cursor returns Django's stored text ("YYYY-MM-DD HH:MM:SS[.ffffff]", UTC).
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value).replace(tzinfo=UTC)
