"""`@job`: a django.tasks task with a retry policy (exponential backoff with jitter).

Design: every attempt is one DBTaskResult row. When an attempt raises, the wrapper closes its own
row as FAILED and, in the same transaction, enqueues a NEW row with the same arguments, the next
attempt number in the reserved keyword argument `_attempt`, and `run_after = now + backoff`. The
attempt number therefore travels with the row itself: no side table to keep in sync, the reaper
can continue the count for a row whose worker died, and the admin shows each attempt with its
traceback. After the last attempt (or on `PermanentJobError`) a `JobFailure` row is written and an
ERROR line logged: that table is the operator's list of terminal failures.

A job may run more than once (a retry after a partial failure, the reaper re-queueing a job whose
worker died mid-way), so every job body must be idempotent: load by id, check state, use unique
constraints for effects.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from inspect import iscoroutinefunction
from typing import Any

from django.db import InterfaceError, OperationalError, connection, transaction
from django.tasks import DEFAULT_TASK_QUEUE_NAME, Task, TaskContext, task
from django.tasks.base import DEFAULT_TASK_BACKEND_ALIAS, DEFAULT_TASK_PRIORITY
from django.utils import timezone

logger = logging.getLogger("chatdesk.jobs")

ATTEMPT_KWARG = "_attempt"
# Exponents beyond this overflow floats and are far past any sane backoff_max anyway.
_MAX_EXPONENT = 64


class PermanentJobError(Exception):
    """Raise from a job when retrying cannot help (bad input, refused by the provider for good)."""


class RetryJobLater(Exception):
    """Raise to retry with a chosen delay (e.g. a provider's Retry-After) instead of the backoff."""

    def __init__(self, message: str = "", *, delay_seconds: float):
        super().__init__(message or f"retry requested in {delay_seconds}s")
        self.delay_seconds = delay_seconds


def backoff_delay(
    attempt: int, *, base: float, maximum: float, rand: Callable[[], float] = random.random
) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based).

    min(maximum, base ** attempt) scaled by a jitter factor in [0.5, 1.5): spreads the retries of
    many jobs that failed together (a provider outage) instead of retrying them in lockstep.
    """
    if attempt < 1:
        raise ValueError(f"attempt must be 1 or more, got {attempt}")
    return min(maximum, base ** min(attempt, _MAX_EXPONENT)) * (0.5 + rand())


# Replaced by tests (monkeypatch) to make the jitter deterministic.
jitter_source: Callable[[], float] = random.random


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5
    backoff_base: float = 2.0
    backoff_max: float = 600.0
    # None: the JOBS["STALE_AFTER_SECONDS"] default. Must exceed the job's longest normal run.
    stale_after: timedelta | None = None

    def __post_init__(self):
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be 1 or more, got {self.max_attempts}")
        if self.backoff_base < 1:
            raise ValueError(f"backoff_base must be 1 or more, got {self.backoff_base}")
        if self.backoff_max <= 0:
            raise ValueError(f"backoff_max must be positive, got {self.backoff_max}")
        if self.stale_after is not None and self.stale_after <= timedelta(0):
            raise ValueError(f"stale_after must be positive, got {self.stale_after}")

    def delay_after(self, attempt: int) -> float:
        return backoff_delay(
            attempt, base=self.backoff_base, maximum=self.backoff_max, rand=jitter_source
        )


@dataclass(frozen=True, slots=True)
class JobRun:
    """What a running job may want to know about itself (see `current_job()`)."""

    task_id: str | None
    attempt: int
    max_attempts: int

    @property
    def is_last_attempt(self) -> bool:
        return self.attempt >= self.max_attempts


_current_job: contextvars.ContextVar[JobRun | None] = contextvars.ContextVar(
    "chatdesk_current_job", default=None
)


def current_job() -> JobRun | None:
    """The attempt being executed, inside a @job body; None elsewhere."""
    return _current_job.get()


def job_policy(task_obj: Task) -> RetryPolicy | None:
    """The retry policy of a task declared with @job; None for a plain django.tasks task."""
    return getattr(task_obj.func, "job_policy", None)


def job(
    function: Callable | None = None,
    *,
    queue: str = DEFAULT_TASK_QUEUE_NAME,
    priority: int = DEFAULT_TASK_PRIORITY,
    max_attempts: int = 5,
    backoff_base: float = 2.0,
    backoff_max: float = 600.0,
    stale_after: timedelta | None = None,
    backend: str = DEFAULT_TASK_BACKEND_ALIAS,
):
    """Declare a background job: `@job(queue="inbound", max_attempts=8)`.

    Returns a django.tasks `Task`; enqueue it as usual (`my_job.enqueue(message_id=1)`), inside
    the transaction that creates the rows it works on. Arguments must be JSON-serialisable; the
    keyword `_attempt` is reserved.
    """
    policy = RetryPolicy(
        max_attempts=max_attempts,
        backoff_base=backoff_base,
        backoff_max=backoff_max,
        stale_after=stale_after,
    )

    def decorate(body: Callable) -> Task:
        if iscoroutinefunction(body):
            raise TypeError(f"@job does not support async functions ({body.__qualname__})")

        def runner(context: TaskContext | None, *args: Any, _attempt: int = 1, **kwargs: Any):
            return _run_attempt(body, policy, context, args, kwargs, _attempt)

        # Not functools.wraps: its __wrapped__ would make django.tasks inspect the body's
        # signature, which lacks the `context` parameter that takes_context requires.
        for attribute in ("__module__", "__name__", "__qualname__", "__doc__"):
            setattr(runner, attribute, getattr(body, attribute))
        runner.job_policy = policy
        runner.job_body = body  # the undecorated function, for direct calls in tests
        return task(
            runner, queue_name=queue, priority=priority, backend=backend, takes_context=True
        )

    if function is not None:
        return decorate(function)
    return decorate


def _run_attempt(
    body: Callable,
    policy: RetryPolicy,
    context: TaskContext | None,
    args: tuple,
    kwargs: dict,
    attempt: int,
) -> Any:
    task_id = context.task_result.id if context is not None else None
    token = _current_job.set(
        JobRun(task_id=task_id, attempt=attempt, max_attempts=policy.max_attempts)
    )
    try:
        return body(*args, **kwargs)
    except BaseException as exc:
        # BaseException: a worker told to stop mid-job (SystemExit from its second SIGTERM) must
        # leave a retry behind, or the job would be marked FAILED and never run again.
        if context is not None:
            _after_failed_attempt(context, policy, args, kwargs, attempt, exc)
        raise
    finally:
        _current_job.reset(token)


def _after_failed_attempt(
    context: TaskContext,
    policy: RetryPolicy,
    args: tuple,
    kwargs: dict,
    attempt: int,
    exc: BaseException,
) -> None:
    permanent = isinstance(exc, PermanentJobError)
    if isinstance(exc, RetryJobLater):
        delay = max(0.0, exc.delay_seconds)
    else:
        delay = policy.delay_after(attempt)
    with_database_retries(
        functools.partial(
            _record_attempt_outcome, context, policy, args, kwargs, attempt, exc, permanent, delay
        )
    )


def with_database_retries(operation: Callable[[], Any], *, tries: int = 5) -> Any:
    """Run bookkeeping through a short database outage instead of losing the job's next step.

    If the database stays away, the error propagates, the worker's own bookkeeping fails too and
    the worker process exits: its RUNNING row is then re-queued by the reaper.
    """
    for number in range(1, tries + 1):
        if not connection.in_atomic_block:
            # The job's own database error may have left a dead connection behind.
            connection.close_if_unusable_or_obsolete()
        try:
            return operation()
        except (OperationalError, InterfaceError):
            if number == tries or connection.in_atomic_block:
                raise
            logger.warning("database unavailable for job bookkeeping; retrying", exc_info=True)
            time.sleep(0.2 * 2**number)
    return None  # pragma: no cover


def _record_attempt_outcome(
    context: TaskContext,
    policy: RetryPolicy,
    args: tuple,
    kwargs: dict,
    attempt: int,
    exc: BaseException,
    permanent: bool,
    delay: float,
) -> None:
    from chatdesk.jobs.services import job_failure_record, task_row_close_failed

    task_result = context.task_result
    name = task_result.task.module_path
    now = timezone.now()
    with transaction.atomic():
        # Closing our own row and scheduling the next attempt commit together: a crash between
        # them cannot leave both a retry and a RUNNING row for the reaper to re-queue again.
        if not task_row_close_failed(task_id=task_result.id, exc=exc, now=now):
            logger.warning(
                "job attempt finished after its row was reaped; the reaper's retry stands",
                extra={"job": name, "task_id": task_result.id, "attempt": attempt},
            )
            return
        if permanent or attempt >= policy.max_attempts:
            job_failure_record(
                task_id=task_result.id,
                task_path=name,
                queue_name=task_result.task.queue_name,
                args=list(args),
                kwargs=dict(kwargs),
                attempts=attempt,
                exc=exc,
            )
            return
        retry = (
            task_result.task.using(run_after=now + timedelta(seconds=delay))
            # The retry row carries the policy's attempt count; the arguments stay the same.
            .enqueue(*args, **{**kwargs, ATTEMPT_KWARG: attempt + 1})
        )
    logger.warning(
        "job attempt %s/%s failed with %s; retry %s in %.1fs",
        attempt,
        policy.max_attempts,
        type(exc).__name__,
        retry.id,
        delay,
        extra={"job": name, "task_id": task_result.id, "retry_task_id": retry.id},
    )


def enqueue_on_commit(job_task: Task, *args: Any, using: str | None = None, **kwargs: Any) -> None:
    """Enqueue after the current transaction commits (immediately outside one).

    With the database backend, a plain `job.enqueue()` inside the transaction is just as safe and
    preferred: the task row commits or rolls back with the data, and no crash between commit and
    enqueue can lose it. Use this helper when the job must not even be created on rollback paths
    you do not control, or for a backend outside the database.
    """
    transaction.on_commit(functools.partial(job_task.enqueue, *args, **kwargs), using=using)


__all__ = [
    "ATTEMPT_KWARG",
    "JobRun",
    "PermanentJobError",
    "RetryJobLater",
    "RetryPolicy",
    "backoff_delay",
    "current_job",
    "enqueue_on_commit",
    "job",
    "job_policy",
]
