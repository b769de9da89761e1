"""Periodic jobs: `@periodic(every=timedelta(minutes=1))` and the scheduler tick that enqueues them.

Every `chatdesk worker` runs the tick, so several processes may tick at the same moment. Each
periodic job has a PeriodicSchedule row; a tick enqueues the job only if it wins a
compare-and-swap UPDATE moving `next_run_at` from the value it read to the next slot, in the same
transaction as the enqueue. Only one concurrent tick can match the old value (PostgreSQL re-checks
the WHERE clause after the row lock; SQLite serialises writers), so a job is enqueued at most once
per interval, on both engines, without a leader election.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.tasks import DEFAULT_TASK_QUEUE_NAME, Task, TaskResultStatus
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules

from chatdesk.jobs.retry import job

logger = logging.getLogger("chatdesk.jobs")

MIN_INTERVAL = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class PeriodicJob:
    task: Task
    every: timedelta

    @property
    def name(self) -> str:
        return self.task.module_path


class PeriodicRegistry:
    def __init__(self) -> None:
        self._jobs: dict[str, PeriodicJob] = {}

    def periodic(
        self,
        *,
        every: timedelta,
        queue: str = DEFAULT_TASK_QUEUE_NAME,
        priority: int = 0,
        **job_options,
    ) -> Callable[[Callable | Task], Task]:
        """Declare a job that the scheduler enqueues every `every` (no arguments).

        Wraps the function with @job (retry policy options pass through), or takes a Task that is
        already one.
        """
        if every < MIN_INTERVAL:
            raise ValueError(f"periodic interval must be at least {MIN_INTERVAL}, got {every}")

        def register(function_or_task: Callable | Task) -> Task:
            if isinstance(function_or_task, Task):
                job_task = function_or_task
            else:
                job_task = job(queue=queue, priority=priority, **job_options)(function_or_task)
            if _required_parameters(getattr(job_task.func, "job_body", job_task.func)):
                raise TypeError(f"periodic job {job_task.module_path} must take no arguments")
            self._jobs[job_task.module_path] = PeriodicJob(task=job_task, every=every)
            return job_task

        return register

    def all(self) -> list[PeriodicJob]:
        return list(self._jobs.values())


def _required_parameters(function: Callable) -> list[str]:
    return [
        parameter.name
        for parameter in inspect.signature(function).parameters.values()
        if parameter.default is parameter.empty
        and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
    ]


registry = PeriodicRegistry()
periodic = registry.periodic


def autodiscover() -> None:
    """Import every installed app's `tasks` module, where periodic jobs are declared."""
    autodiscover_modules("tasks")


def next_slot(previous: datetime, every: timedelta, now: datetime) -> datetime:
    """The first slot after `now` on the grid previous + k*every (no burst of catch-up runs)."""
    if previous > now:
        return previous
    missed = (now - previous) // every
    return previous + every * (missed + 1)


def periodic_jobs_enqueue_due(
    *, jobs: Iterable[PeriodicJob] | None = None, now: datetime | None = None
) -> list[str]:
    """One scheduler tick: enqueue each due periodic job; returns the names enqueued."""
    from chatdesk.jobs.models import PeriodicSchedule

    now = now or timezone.now()
    jobs = registry.all() if jobs is None else list(jobs)
    if not jobs:
        return []
    names = [periodic_job.name for periodic_job in jobs]
    seen = dict(PeriodicSchedule.objects.filter(name__in=names).values_list("name", "next_run_at"))
    if missing := [name for name in names if name not in seen]:
        # A new job is due at once; concurrent first ticks insert the same row, one wins.
        PeriodicSchedule.objects.bulk_create(
            [PeriodicSchedule(name=name, next_run_at=now) for name in missing],
            ignore_conflicts=True,
        )
        seen.update(
            PeriodicSchedule.objects.filter(name__in=missing).values_list("name", "next_run_at")
        )
    enqueued = []
    for periodic_job in jobs:
        if seen[periodic_job.name] <= now and periodic_job_claim_slot(
            periodic_job=periodic_job, seen_next_run_at=seen[periodic_job.name], now=now
        ):
            enqueued.append(periodic_job.name)
    return enqueued


@transaction.atomic
def periodic_job_claim_slot(
    *, periodic_job: PeriodicJob, seen_next_run_at: datetime, now: datetime
) -> bool:
    """Advance the job's slot from the value this tick read; enqueue it if this tick won."""
    from django_tasks_db.models import DBTaskResult

    from chatdesk.jobs.models import PeriodicSchedule

    won = PeriodicSchedule.objects.filter(
        name=periodic_job.name, next_run_at=seen_next_run_at
    ).update(next_run_at=next_slot(seen_next_run_at, periodic_job.every, now))
    if not won:
        return False
    # Workers behind (or stopped) must not find a pile of identical runs when they catch up.
    if DBTaskResult.objects.filter(
        task_path=periodic_job.name, status=TaskResultStatus.READY
    ).exists():
        logger.info(
            "periodic job still waiting from its last slot; not enqueued again",
            extra={"job": periodic_job.name},
        )
        return False
    result = periodic_job.task.enqueue()
    PeriodicSchedule.objects.filter(name=periodic_job.name).update(
        last_enqueued_at=now, last_task_id=result.id
    )
    return True
