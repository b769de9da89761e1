"""Business hours: is the team in, and when is it back?

`AssistantConfig.business_hours` is `{}` (always open) or
`{"days": [0-6, Monday = 0], "start": "HH:MM", "end": "HH:MM", "timezone": "Area/City"}`;
open from `start` (inclusive) to `end` (exclusive) on the listed days, in the given IANA time zone.
Workspaces have no time zone of their own, so a missing "timezone" means settings.TIME_ZONE.

Times shown to customers are language neutral ("2026-11-30 08:00 (UTC+07:00)"): the holding
text around them is the workspace's own, in whatever languages it speaks.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings

NEXT_OPEN_PLACEHOLDER = "{next_open}"


def hours_timezone(hours: dict) -> ZoneInfo:
    name = (hours or {}).get("timezone") or settings.TIME_ZONE
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):  # validated on save; never fail a customer
        return ZoneInfo(settings.TIME_ZONE)


def timezone_name_valid(name: str) -> bool:
    if not isinstance(name, str) or not name or len(name) > 64:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _parsed(hours: dict) -> tuple[set[int], time, time] | None:
    """None for "always open" (and, defensively, for anything malformed)."""
    if not hours:
        return None
    try:
        days = {int(d) for d in hours["days"]}
        start = time.fromisoformat(hours["start"])
        end = time.fromisoformat(hours["end"])
    except (KeyError, TypeError, ValueError):
        return None
    return days, start, end


def hours_is_open(*, hours: dict, at: datetime) -> bool:
    parsed = _parsed(hours)
    if parsed is None:
        return True
    days, start, end = parsed
    local = at.astimezone(hours_timezone(hours))
    return local.weekday() in days and start <= local.time() < end


def hours_next_opening(*, hours: dict, at: datetime) -> datetime | None:
    """The next moment the team opens after `at` (None when always open)."""
    parsed = _parsed(hours)
    if parsed is None or not parsed[0]:
        return None
    days, start, _ = parsed
    zone = hours_timezone(hours)
    today = at.astimezone(zone).date()
    for offset in range(8):
        day = today + timedelta(days=offset)
        if day.weekday() in days:
            opening = datetime.combine(day, start, tzinfo=zone)
            if opening > at:
                return opening
    return None


def opening_text(*, when: datetime) -> str:
    """ "2026-11-30 08:00 (UTC+07:00)", in the time zone `when` carries."""
    offset = when.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    label = "UTC" if minutes == 0 else f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    return f"{when:%Y-%m-%d %H:%M} ({label})"


def after_hours_text(*, template: str, hours: dict, at: datetime) -> str:
    """The after-hours message with {next_open} filled in (replace, not str.format: a stray
    brace in a workspace's text must not break sending)."""
    opening = hours_next_opening(hours=hours, at=at)
    return template.replace(NEXT_OPEN_PLACEHOLDER, opening_text(when=opening) if opening else "")
