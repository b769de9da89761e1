"""Per-day figures computed from the source tables, for any set of days.

The dashboard uses these for today and for any day without a finished rollup; the rollup job
uses them, one day at a time, to build `DailyRollup` rows. So a rollup holds exactly what the
live computation gives for its day. Everything is aggregated by the database (GROUP BY over an
indexed time range), never by looping over rows in Python.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from django.db import connection
from django.db.models import Count, QuerySet
from django.db.models.functions import TruncDate

from chatdesk.assistant.models import AssistantDraft, DraftStatus
from chatdesk.crm.models import Author, Contact, Direction, Message
from chatdesk.reports.days import in_days
from chatdesk.reports.reasons import check_code, reason_case_sql
from chatdesk.tenancy.models import Workspace


@dataclass
class MessageCounts:
    new_leads: int = 0
    messages_in: int = 0
    messages_out: int = 0
    messages_out_assistant: int = 0


@dataclass
class DraftCounts:
    drafts: int = 0
    sent_autonomous: int = 0
    approved: int = 0
    edited: int = 0
    rejected: int = 0
    pending_review: int = 0
    escalated: int = 0
    complaints: int = 0
    escalation_reasons: Counter = field(default_factory=Counter)
    guard_blocks: Counter = field(default_factory=Counter)

    @property
    def sent(self) -> int:
        return self.sent_autonomous + self.approved + self.edited

    def add(self, other: DraftCounts) -> None:
        for name in (
            "drafts",
            "sent_autonomous",
            "approved",
            "edited",
            "rejected",
            "pending_review",
            "escalated",
            "complaints",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.escalation_reasons.update(other.escalation_reasons)
        self.guard_blocks.update(other.guard_blocks)


def _as_date(value) -> date:
    # Raw cursors return SQLite's dates as text.
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def message_counts_by_day(
    *, workspace: Workspace, days: Iterable[date]
) -> dict[date, MessageCounts]:
    """New leads and messages (private notes excluded) per day: two grouped queries."""
    days = list(days)
    result = {day: MessageCounts() for day in days}
    if not days:
        return result
    leads = (
        Contact.objects.for_workspace(workspace)
        .filter(in_days("created_at", days))
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
        .order_by()
    )
    for day, n in leads:
        if day in result:
            result[day].new_leads += n
    messages = (
        Message.objects.for_workspace(workspace)
        .filter(in_days("provider_timestamp", days), is_private_note=False)
        .annotate(day=TruncDate("provider_timestamp"))
        .values("day", "direction", "author")
        .annotate(n=Count("id"))
        .values_list("day", "direction", "author", "n")
        .order_by()
    )
    for day, direction, author, n in messages:
        counts = result.get(day)
        if counts is None:
            continue
        if direction == Direction.INBOUND:
            counts.messages_in += n
        elif direction == Direction.OUTBOUND:
            counts.messages_out += n
            if author == Author.ASSISTANT:
                counts.messages_out_assistant += n
    return result


def _drafts(workspace: Workspace, days: list[date], statuses) -> QuerySet[AssistantDraft]:
    # `status IN (...)` lets PostgreSQL walk draft_queue_idx (workspace, status, created_at) as a
    # few range scans instead of reading every draft the workspace ever had.
    return (
        AssistantDraft.objects.for_workspace(workspace)
        .filter(in_days("created_at", days), status__in=statuses)
        .annotate(day=TruncDate("created_at"))
        .order_by()
    )


def draft_counts_by_day(*, workspace: Workspace, days: Iterable[date]) -> dict[date, DraftCounts]:
    """The assistant's drafts made on each day and what became of them: decisions, sends,
    review outcomes and complaints (one grouped query), escalation reasons and failed guard
    checks (one query unnesting the JSON lists in the database)."""
    days = list(days)
    result = {day: DraftCounts() for day in days}
    if not days:
        return result
    rows = (
        _drafts(workspace, days, DraftStatus.values)
        .values("day", "status")
        .annotate(
            n=Count("id"), reviewed=Count("reviewed_at"), complaints=Count("complaint_flagged_at")
        )
        .values_list("day", "status", "n", "reviewed", "complaints")
        .order_by()
    )
    for day, status, n, reviewed, complaints in rows:
        counts = result.get(day)
        if counts is None:
            continue
        counts.drafts += n
        counts.complaints += complaints
        if status == DraftStatus.SENT:
            counts.approved += reviewed  # an unchanged "edit" is stored as an approval too
            counts.sent_autonomous += n - reviewed
        elif status == DraftStatus.EDITED_SENT:
            counts.edited += n
        elif status == DraftStatus.REJECTED:
            counts.rejected += n
        elif status == DraftStatus.PENDING_REVIEW:
            counts.pending_review += n
        elif status == DraftStatus.ESCALATED:
            counts.escalated += n
    for kind, day, code, n in _escalation_details(workspace, days):
        counts = result.get(_as_date(day))
        if counts is None or code is None:
            continue
        if kind == "reason":
            counts.escalation_reasons[code] += n
        else:
            counts.guard_blocks[check_code(code)] += n
    return result


def _escalation_details(workspace: Workspace, days: list[date]) -> list[tuple]:
    """(kind, day, code, drafts) rows: escalated drafts per reason code, and per failed guard
    check. A draft counts once per code even when two of its reasons share one."""
    inner, params = (
        _drafts(workspace, days, [DraftStatus.ESCALATED])
        .values("id", "day", "reasons", "verdicts")
        .query.sql_with_params()
    )
    if connection.vendor == "postgresql":
        reasons_from = (
            "CROSS JOIN LATERAL jsonb_array_elements_text(CASE WHEN jsonb_typeof(d.reasons) = "
            "'array' THEN d.reasons ELSE '[]'::jsonb END) AS r(value)"
        )
        verdicts_from = (
            "CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(d.verdicts) = "
            "'array' THEN d.verdicts ELSE '[]'::jsonb END) AS v(value)"
        )
        check, failed = "v.value ->> 'check'", "v.value ->> 'passed' = 'false'"
    else:
        reasons_from, verdicts_from = ", json_each(d.reasons) AS r", ", json_each(d.verdicts) AS v"
        check = "json_extract(v.value, '$.check')"
        failed = "json_extract(v.value, '$.passed') = 0"
    case, case_params = reason_case_sql("r.value")
    # S608: the interpolated pieces are constant text and SQL compiled by Django from a scoped
    # queryset; every value is a parameter.
    sql = (
        f"SELECT 'reason', x.\"day\", x.code, COUNT(DISTINCT x.id) FROM ("  # noqa: S608
        f'SELECT d.id, d."day", {case} AS code FROM ({inner}) d {reasons_from}'
        f') x WHERE x.code IS NOT NULL GROUP BY x."day", x.code '
        f"UNION ALL SELECT 'check', d.\"day\", {check}, COUNT(DISTINCT d.id) "
        f"FROM ({inner}) d {verdicts_from} WHERE {failed} "
        f'GROUP BY d."day", {check}'
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*case_params, *params, *params])
        return cursor.fetchall()
