"""The reaper: re-queues jobs left RUNNING by a worker that died.

django-tasks-db marks a task RUNNING when a worker claims it and never looks at it again, so a
worker killed mid-job would leave it RUNNING forever. A task is stale when it has been RUNNING
longer than its job's `stale_after` AND the worker that claimed it has stopped heartbeating (a
long job on a live worker is left alone). The reaper closes the stale row as FAILED
(WorkerLostError) and, in the same transaction, enqueues the next attempt, or records a
JobFailure once the job's attempts are used up. The job may have done part of its work before the
worker died: jobs are idempotent, so running it again is safe.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from chatdesk.jobs.conf import jobs_duration
from chatdesk.jobs.models import WorkerHeartbeat
from chatdesk.jobs.retry import ATTEMPT_KWARG, RetryPolicy, job_policy
from chatdesk.jobs.services import job_failure_record, task_row_close_failed

logger = logging.getLogger("chatdesk.jobs")


class WorkerLostError(Exception):
    """Recorded on a task row whose worker died while running it."""


@dataclass
class ReapReport:
    requeued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def _policy_of(row: DBTaskResult) -> RetryPolicy | None:
    try:
        return job_policy(row.task)
    except (ImportError, SuspiciousOperation):
        return None  # the code is gone: nothing to run again


def stale_jobs_reap(
    *, now: datetime | None = None, heartbeat_timeout: timedelta | None = None
) -> ReapReport:
    now = now or timezone.now()
    heartbeat_timeout = heartbeat_timeout or jobs_duration("HEARTBEAT_TIMEOUT_SECONDS")
    default_stale_after = jobs_duration("STALE_AFTER_SECONDS")
    live_workers = set(
        WorkerHeartbeat.objects.filter(last_seen_at__gte=now - heartbeat_timeout).values_list(
            "worker_id", flat=True
        )
    )
    report = ReapReport()
    # RUNNING rows are few (one per busy worker plus the stuck ones): filter per job in Python.
    for row in DBTaskResult.objects.running().order_by("started_at"):
        policy = _policy_of(row)
        stale_after = (policy.stale_after if policy else None) or default_stale_after
        if row.started_at is None or row.started_at > now - stale_after:
            continue
        worker_id = row.worker_ids[-1] if row.worker_ids else ""
        if worker_id in live_workers:
            logger.warning(
                "job running longer than its stale timeout on a live worker; left alone",
                extra={"task_id": str(row.id), "job": row.task_path, "worker_id": worker_id},
            )
            continue
        outcome = _reap_row(row, policy=policy, worker_id=worker_id, now=now)
        if outcome is True:
            report.requeued.append(str(row.id))
        elif outcome is False:
            report.failed.append(str(row.id))
    return report


@transaction.atomic
def _reap_row(
    row: DBTaskResult, *, policy: RetryPolicy | None, worker_id: str, now: datetime
) -> bool | None:
    """Close one stale row: True if re-queued, False if failed for good, None if it moved on."""
    args = list(row.args_kwargs.get("args", []))
    kwargs = dict(row.args_kwargs.get("kwargs", {}))
    attempt = int(kwargs.get(ATTEMPT_KWARG, 1))
    reason = (
        f"WorkerLostError: worker {worker_id or '(unknown)'} stopped heartbeating while running "
        f"this job (started {row.started_at:%Y-%m-%d %H:%M:%S} UTC)"
    )
    if not task_row_close_failed(task_id=str(row.id), reason=reason, now=now):
        return None  # finished or reaped by someone else since we read it
    if policy is not None and attempt < policy.max_attempts:
        # A crash is not the job's fault: the next attempt may start at once.
        task = replace(row.task, run_after=None)
        retry = task.enqueue(*args, **{**kwargs, ATTEMPT_KWARG: attempt + 1})
        logger.warning(
            "re-queued job left RUNNING by a dead worker (attempt %s/%s)",
            attempt + 1,
            policy.max_attempts,
            extra={"job": row.task_path, "task_id": str(row.id), "retry_task_id": retry.id},
        )
        return True
    if policy is None:
        reason += "; not declared with @job, so not retried"
    job_failure_record(
        task_id=str(row.id),
        task_path=row.task_path,
        queue_name=row.queue_name,
        args=args,
        kwargs=kwargs,
        attempts=attempt,
        reason=reason,
    )
    return False
