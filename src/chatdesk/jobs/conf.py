"""Operational settings of the jobs module: `settings.JOBS` overrides these defaults."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

DEFAULTS: dict[str, float] = {
    # A RUNNING job older than this whose worker stopped heartbeating is re-queued by the reaper.
    # Per job: @job(stale_after=...).
    "STALE_AFTER_SECONDS": 15 * 60,
    # Each worker process writes a heartbeat this often...
    "HEARTBEAT_INTERVAL_SECONDS": 10,
    # ...and counts as gone when its last heartbeat is older than this.
    "HEARTBEAT_TIMEOUT_SECONDS": 60,
    # Finished task rows are pruned after these many days (terminal failures stay in JobFailure).
    "KEEP_SUCCESSFUL_DAYS": 7,
    "KEEP_FAILED_DAYS": 30,
}


def jobs_setting(name: str) -> float:
    overrides = getattr(settings, "JOBS", {})
    unknown = set(overrides) - set(DEFAULTS)
    if unknown:
        raise ImproperlyConfigured(
            f"Unknown JOBS setting(s): {', '.join(sorted(unknown))}. "
            f"Known: {', '.join(sorted(DEFAULTS))}."
        )
    value = overrides.get(name, DEFAULTS[name])
    if not isinstance(value, int | float) or value <= 0:
        raise ImproperlyConfigured(f"JOBS[{name!r}] must be a positive number, got {value!r}.")
    return value


def jobs_duration(name: str) -> timedelta:
    return timedelta(seconds=jobs_setting(name))
