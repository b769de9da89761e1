"""The jobs module's own jobs: a ping for smoke tests, the reaper, and pruning of old task rows."""

from __future__ import annotations

from datetime import timedelta

from django.tasks import TaskResultStatus
from django.utils import timezone

from chatdesk.jobs.conf import jobs_setting
from chatdesk.jobs.periodic import periodic
from chatdesk.jobs.reaper import stale_jobs_reap
from chatdesk.jobs.retry import job

PRUNE_BATCH = 1000


@job(queue="default", max_attempts=1)
def ping(payload: str = "pong") -> str:
    """Answers at once: proves a worker consumes a queue (`ping.using(queue_name=...)`)."""
    return payload


# High priority: it should not wait behind a backlog of bulk work on the shared queue.
@periodic(every=timedelta(minutes=1), queue="default", priority=50, max_attempts=1)
def reap_stale_jobs() -> dict[str, list[str]]:
    report = stale_jobs_reap()
    return {"requeued": report.requeued, "failed": report.failed}


@periodic(every=timedelta(hours=1), queue="default", max_attempts=1)
def prune_finished_jobs() -> dict[str, int]:
    """Delete old finished task rows (terminal failures stay listed in JobFailure)."""
    from django_tasks_db.models import DBTaskResult

    from chatdesk.jobs.models import WorkerHeartbeat

    now = timezone.now()
    deleted = {}
    for status, setting in (
        (TaskResultStatus.SUCCESSFUL, "KEEP_SUCCESSFUL_DAYS"),
        (TaskResultStatus.FAILED, "KEEP_FAILED_DAYS"),
    ):
        cutoff = now - timedelta(days=jobs_setting(setting))
        old = DBTaskResult.objects.filter(status=status, finished_at__lt=cutoff)
        deleted[status] = 0
        # Small batches keep each write transaction short (SQLite has one writer at a time).
        while ids := list(old.values_list("id", flat=True)[:PRUNE_BATCH]):
            deleted[status] += DBTaskResult.objects.filter(id__in=ids).delete()[0]
    WorkerHeartbeat.objects.filter(last_seen_at__lt=now - timedelta(days=1)).delete()
    return deleted
