"""Jobs for tests/jobs, importable by worker subprocesses (they run with cwd = repo root)."""

import time
from datetime import timedelta
from pathlib import Path

from django_tasks_db.models import DBTaskResult

from chatdesk.jobs import PermanentJobError, RetryJobLater, current_job, job
from tests.support.models import JobEffect


class ProviderDownError(ConnectionError):
    pass


@job(queue="default", max_attempts=3, backoff_base=2, backoff_max=600)
def always_fails(key: str) -> None:
    raise ProviderDownError(f"provider unavailable for {key}")


@job(queue="default", max_attempts=5)
def fails_until_third_attempt(key: str) -> int:
    attempt = current_job().attempt
    if attempt < 3:
        raise ProviderDownError("try again")
    JobEffect.objects.get_or_create(key=f"{key}:{attempt}")
    return attempt


@job(queue="default", max_attempts=5)
def refused_for_good(key: str) -> None:
    raise PermanentJobError(f"recipient {key} outside the 24-hour window")


@job(queue="default", max_attempts=5)
def asks_to_retry_later(key: str) -> None:
    raise RetryJobLater("rate limited", delay_seconds=42)


@job(queue="default", max_attempts=5)
def fails_after_being_reaped(key: str) -> None:
    # Stands for a worker that lost its row to the reaper while still running the job.
    DBTaskResult.objects.filter(id=current_job().task_id).update(status="FAILED")
    raise ProviderDownError("late failure")


@job(queue="inbound", max_attempts=3)
def apply_effect(key: str) -> str:
    JobEffect.objects.get_or_create(key=key)
    return key


@job(queue="default", max_attempts=2, stale_after=timedelta(seconds=1))
def slow_effect(key: str, marker_dir: str) -> str:
    """Applies its effect, then (on its first run only) hangs so the test can kill the worker."""
    JobEffect.objects.get_or_create(key=key)
    markers = Path(marker_dir)
    with (markers / "runs").open("a") as runs:
        runs.write("run\n")
    first_run = not (markers / "started").exists()
    (markers / "started").touch()
    if first_run:
        time.sleep(60)
    return key


@job(queue="inbound", max_attempts=1)
def sleeps_then_applies(key: str, seconds: float) -> str:
    time.sleep(seconds)
    JobEffect.objects.get_or_create(key=key)
    return key


@job(queue="default")
def tick() -> None:
    """A periodic job body for the scheduler tests (registered in a local registry there)."""


@job(queue="default")
def tock() -> None:
    """A second periodic job body."""
