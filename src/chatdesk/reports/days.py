"""Calendar days in the current time zone, and time ranges covering sets of them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

from django.db.models import Q
from django.utils import timezone

# The dashboard's ranges: whole days ending today.
RANGES = (7, 30, 90)


def day_start(day: date) -> datetime:
    """Midnight at the start of `day`, aware, in the current time zone."""
    return timezone.make_aware(datetime.combine(day, time.min))


def day_end(day: date) -> datetime:
    return day_start(day + timedelta(days=1))


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def spans(days: Iterable[date]) -> list[tuple[datetime, datetime]]:
    """Consecutive days merged into [start, end) time spans (usually one: today)."""
    result: list[tuple[datetime, datetime]] = []
    previous: date | None = None
    for day in sorted(set(days)):
        if previous is not None and day == previous + timedelta(days=1):
            result[-1] = (result[-1][0], day_end(day))
        else:
            result.append((day_start(day), day_end(day)))
        previous = day
    return result


def in_days(field: str, days: Iterable[date]) -> Q:
    """`field` falls on one of `days`: one indexable range per run of consecutive days."""
    q = Q(pk__in=[])
    for start, end in spans(days):
        q |= Q(**{f"{field}__gte": start, f"{field}__lt": end})
    return q
