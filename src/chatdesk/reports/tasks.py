"""The periodic rollup job: keeps yesterday's and today's dashboard rollups fresh."""

from __future__ import annotations

from chatdesk.jobs.periodic import periodic
from chatdesk.reports.services import REFRESH_EVERY, daily_rollups_refresh


# Bulk queue: a rebuild reads a day of every workspace's messages; it must not delay the
# shared queue's short jobs. Each run repeats the whole work, so a failed run needs no retry.
@periodic(every=REFRESH_EVERY, queue="bulk", max_attempts=1)
def refresh_daily_rollups() -> int:
    return daily_rollups_refresh()
