"""Writes of the jobs module: closing task rows, recording and retrying terminal failures."""

from __future__ import annotations

import logging
from datetime import datetime
from traceback import format_exception
from typing import Any

from django.db import transaction
from django.tasks import Task, TaskResultStatus
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks_db.models import DBTaskResult

from chatdesk.jobs.models import JobFailure
from chatdesk.jobs.retry import ATTEMPT_KWARG

logger = logging.getLogger("chatdesk.jobs")

REASON_MAX_LENGTH = 1000


def exception_class_path(exc: BaseException) -> str:
    return f"{type(exc).__module__}.{type(exc).__qualname__}"


def task_row_close_failed(
    *, task_id: str, exc: BaseException | None = None, reason: str = "", now: datetime
) -> bool:
    """Mark a RUNNING task row FAILED; False when it is no longer RUNNING (someone else won).

    A conditional UPDATE rather than a read-then-save, so the worker, its retry bookkeeping and
    the reaper cannot both act on the same attempt.
    """
    if exc is not None:
        class_path, traceback = exception_class_path(exc), "".join(format_exception(exc))
    else:
        class_path, traceback = "chatdesk.jobs.reaper.WorkerLostError", reason
    closed = DBTaskResult.objects.filter(id=task_id, status=TaskResultStatus.RUNNING).update(
        status=TaskResultStatus.FAILED,
        finished_at=now,
        exception_class_path=class_path,
        traceback=traceback,
    )
    return closed == 1


def job_failure_record(
    *,
    task_id: str,
    task_path: str,
    queue_name: str,
    args: list,
    kwargs: dict,
    attempts: int,
    exc: BaseException | None = None,
    reason: str = "",
) -> JobFailure:
    """Record a job that will not be retried any more, and say so at ERROR level."""
    if exc is not None:
        class_path = exception_class_path(exc)
        reason = f"{type(exc).__name__}: {exc}"
    else:
        class_path = "chatdesk.jobs.reaper.WorkerLostError"
    failure = JobFailure.objects.create(
        task_id=task_id,
        task_path=task_path,
        queue_name=queue_name,
        args_kwargs={
            "args": args,
            "kwargs": {k: v for k, v in kwargs.items() if k != ATTEMPT_KWARG},
        },
        attempts=attempts,
        exception_class_path=class_path,
        reason=reason[:REASON_MAX_LENGTH],
    )
    logger.error(
        "job failed for good after %s attempt(s): %s (job failure #%s)",
        attempts,
        class_path,
        failure.pk,
        extra={"job": task_path, "task_id": str(task_id), "job_failure_id": failure.pk},
    )
    return failure


@transaction.atomic
def job_failure_retry(*, failure: JobFailure) -> str:
    """Enqueue a terminally failed job again, from attempt 1; returns the new task id."""
    if failure.retried_at is not None:
        raise ValueError(
            f"job failure #{failure.pk} was already retried ({failure.retried_task_id})"
        )
    job_task = import_string(failure.task_path)
    if not isinstance(job_task, Task):
        raise ValueError(f"{failure.task_path} is not a task any more; it cannot be retried")
    kwargs: dict[str, Any] = dict(failure.args_kwargs["kwargs"])
    result = job_task.using(queue_name=failure.queue_name).enqueue(
        *failure.args_kwargs["args"], **kwargs
    )
    failure.retried_at = timezone.now()
    failure.retried_task_id = result.id
    failure.save(update_fields=["retried_at", "retried_task_id"])
    return result.id
