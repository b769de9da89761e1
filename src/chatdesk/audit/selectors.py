"""Reading the audit log: newest first, keyset-paginated on (created_at, id)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Q

from chatdesk.audit.models import AuditEvent
from chatdesk.tenancy.models import Workspace

PAGE_SIZE = 50
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class CursorError(ValueError):
    pass


@dataclass(frozen=True)
class Cursor:
    """The position after the last row shown: `<microseconds since epoch>_<id>` in URLs."""

    created_at: datetime
    id: int

    def __str__(self) -> str:
        return f"{(self.created_at - _EPOCH) // _MICROSECOND}_{self.id}"

    @classmethod
    def parse(cls, text: str) -> Cursor:
        stamp, _, pk = text.partition("_")
        if not (stamp.isdigit() and pk.isdigit()) or len(stamp) > 20 or len(pk) > 20:
            raise CursorError("This page link is not valid. Start again from the first page.")
        try:
            created_at = _EPOCH + int(stamp) * _MICROSECOND
        except OverflowError:
            raise CursorError(
                "This page link is not valid. Start again from the first page."
            ) from None
        return cls(created_at=created_at, id=int(pk))


@dataclass(frozen=True)
class AuditPage:
    events: list[AuditEvent]
    next_cursor: Cursor | None


def audit_event_list(
    *,
    workspace: Workspace,
    action: str = "",
    after: Cursor | None = None,
    limit: int = PAGE_SIZE,
) -> AuditPage:
    events = AuditEvent.objects.for_workspace(workspace)
    if action:
        events = events.filter(action=action)
    if after is not None:
        events = events.filter(
            Q(created_at__lt=after.created_at) | Q(created_at=after.created_at, id__lt=after.id)
        )
    rows = list(events.order_by("-created_at", "-id")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = Cursor(created_at=rows[-1].created_at, id=rows[-1].pk) if more else None
    return AuditPage(events=rows, next_cursor=next_cursor)
