import logging
import random
from datetime import timedelta

import pytest
from django.db import InterfaceError, OperationalError, transaction
from django.tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from chatdesk.jobs import enqueue_on_commit, job, retry
from chatdesk.jobs.models import JobFailure
from chatdesk.jobs.retry import backoff_delay, job_policy, with_database_retries
from chatdesk.jobs.selectors import job_failures_unresolved
from chatdesk.jobs.services import job_failure_retry
from chatdesk.jobs.tasks import ping
from chatdesk.jobs.testing import drain
from tests.jobs import jobs_for_tests as jobs
from tests.support.models import JobEffect


@pytest.fixture
def no_jitter(monkeypatch):
    # rand() == 0.5 makes the jitter factor exactly 1.0.
    monkeypatch.setattr(retry, "jitter_source", lambda: 0.5)


def rows_for(task) -> list[DBTaskResult]:
    return list(DBTaskResult.objects.filter(task_path=task.module_path).order_by("enqueued_at"))


def attempt_of(row: DBTaskResult) -> int:
    return row.args_kwargs["kwargs"].get("_attempt", 1)


def test_backoff_grows_exponentially_up_to_the_cap_with_seeded_jitter():
    rand = random.Random(1234).random
    delays = [backoff_delay(n, base=2, maximum=600, rand=rand) for n in range(1, 13)]
    for attempt, delay in enumerate(delays, start=1):
        nominal = min(600, 2**attempt)
        assert 0.5 * nominal <= delay < 1.5 * nominal
    # Same seed, same sequence: the jitter is reproducible when the random source is injected.
    again = random.Random(1234).random
    assert delays == [backoff_delay(n, base=2, maximum=600, rand=again) for n in range(1, 13)]
    # Jitter actually spreads retries: the factors are not all equal.
    assert len({round(d / min(600, 2**n), 6) for n, d in enumerate(delays, start=1)}) > 1


def test_backoff_without_jitter_doubles_then_stays_at_the_maximum():
    delays = [backoff_delay(n, base=2, maximum=600, rand=lambda: 0.5) for n in range(1, 12)]
    assert delays == [2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600]
    # Huge attempt numbers do not overflow.
    assert backoff_delay(5000, base=10, maximum=30, rand=lambda: 0.5) == 30


@pytest.mark.django_db
def test_failing_job_is_reenqueued_with_growing_run_after_and_attempt_count(no_jitter):
    jobs.always_fails.enqueue("order-1")

    drain()  # attempt 1
    drain(include_delayed=True, max_tasks=1)  # attempt 2

    first, second, third = rows_for(jobs.always_fails)
    assert [attempt_of(row) for row in (first, second, third)] == [1, 2, 3]
    assert first.status == second.status == TaskResultStatus.FAILED
    assert third.status == TaskResultStatus.READY
    assert third.args_kwargs["args"] == ["order-1"]
    # Each retry waits base**attempt seconds after the failure it follows: 2 s, then 4 s.
    assert abs((second.run_after - first.finished_at).total_seconds() - 2) < 0.5
    assert abs((third.run_after - second.finished_at).total_seconds() - 4) < 0.5
    assert "ProviderDownError" in first.exception_class_path
    # The delayed retry is not picked up before its time.
    assert drain() == 0


@pytest.mark.django_db
def test_job_succeeds_on_a_later_attempt_and_knows_its_attempt_number():
    jobs.fails_until_third_attempt.enqueue("sync")

    drain(include_delayed=True)

    statuses = [row.status for row in rows_for(jobs.fails_until_third_attempt)]
    assert statuses == ["FAILED", "FAILED", "SUCCESSFUL"]
    assert JobEffect.objects.filter(key="sync:3").exists()
    assert not JobFailure.objects.exists()


@pytest.mark.django_db
def test_permanent_error_is_not_retried_and_is_recorded_as_terminal(caplog):
    jobs.refused_for_good.enqueue("+15550001")

    with caplog.at_level(logging.ERROR, logger="chatdesk.jobs"):
        drain(include_delayed=True)

    (row,) = rows_for(jobs.refused_for_good)
    assert row.status == TaskResultStatus.FAILED
    failure = JobFailure.objects.get()
    assert failure.attempts == 1
    assert failure.task_id == row.id
    assert failure.exception_class_path == "chatdesk.jobs.retry.PermanentJobError"
    assert "outside the 24-hour window" in failure.reason
    assert any(r.levelno == logging.ERROR and r.name == "chatdesk.jobs" for r in caplog.records)


@pytest.mark.django_db
def test_exhausted_attempts_are_recorded_once_with_the_reason_and_logged_at_error(
    no_jitter, caplog
):
    jobs.always_fails.enqueue("order-2")

    with caplog.at_level(logging.WARNING, logger="chatdesk.jobs"):
        ran = drain(include_delayed=True)

    assert ran == 3  # max_attempts
    rows = rows_for(jobs.always_fails)
    assert [row.status for row in rows] == ["FAILED"] * 3
    failure = job_failures_unresolved().get()
    assert failure.attempts == 3
    assert failure.task_id == rows[-1].id
    assert failure.reason == "ProviderDownError: provider unavailable for order-2"
    assert failure.args_kwargs == {"args": ["order-2"], "kwargs": {}}
    errors = [r for r in caplog.records if r.levelno == logging.ERROR and r.name == "chatdesk.jobs"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(errors) == 1 and "3 attempt(s)" in errors[0].getMessage()
    assert len(warnings) == 2  # one per retry scheduled


@pytest.mark.django_db
def test_retry_later_waits_the_requested_delay_instead_of_the_backoff():
    jobs.asks_to_retry_later.enqueue("x")

    drain()

    first, second = rows_for(jobs.asks_to_retry_later)
    assert abs((second.run_after - first.finished_at).total_seconds() - 42) < 0.5
    assert attempt_of(second) == 2


@pytest.mark.django_db
def test_attempt_whose_row_was_already_reaped_does_not_schedule_a_second_retry():
    jobs.fails_after_being_reaped.enqueue("x")

    drain()

    assert len(rows_for(jobs.fails_after_being_reaped)) == 1
    assert not JobFailure.objects.exists()


@pytest.mark.django_db
def test_terminal_failure_can_be_retried_from_attempt_one(no_jitter):
    jobs.refused_for_good.enqueue("+15550002")
    drain()
    failure = JobFailure.objects.get()

    new_id = job_failure_retry(failure=failure)

    retried = DBTaskResult.objects.get(id=new_id)
    assert retried.status == TaskResultStatus.READY
    assert retried.args_kwargs == {"args": ["+15550002"], "kwargs": {}}
    failure.refresh_from_db()
    assert failure.retried_at is not None
    assert not job_failures_unresolved().exists()
    with pytest.raises(ValueError, match="already retried"):
        job_failure_retry(failure=failure)


@pytest.mark.django_db
def test_enqueue_inside_a_rolled_back_transaction_leaves_no_task_row():
    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        JobEffect.objects.create(key="rolled-back")
        jobs.apply_effect.enqueue("rolled-back")
        raise Boom

    assert not JobEffect.objects.exists()
    assert not DBTaskResult.objects.exists()


@pytest.mark.django_db
def test_enqueue_on_commit_creates_the_task_only_when_the_transaction_commits(
    django_capture_on_commit_callbacks,
):
    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue_on_commit(jobs.apply_effect, "never")
        raise RuntimeError
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        enqueue_on_commit(jobs.apply_effect, "committed")
        assert not DBTaskResult.objects.exists()

    (row,) = DBTaskResult.objects.all()
    assert row.args_kwargs["args"] == ["committed"]
    assert row.queue_name == "inbound"


@pytest.mark.django_db
def test_job_declares_its_queue_and_policy():
    assert jobs.apply_effect.queue_name == "inbound"
    policy = job_policy(jobs.slow_effect)
    assert policy.max_attempts == 2
    assert policy.stale_after == timedelta(seconds=1)
    assert job_policy(ping) is not None
    assert jobs.apply_effect.func.job_body("direct-call") == "direct-call"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_attempts": 0}, "max_attempts must be 1 or more"),
        ({"backoff_base": 0.5}, "backoff_base must be 1 or more"),
        ({"backoff_max": 0}, "backoff_max must be positive"),
        ({"stale_after": timedelta(0)}, "stale_after must be positive"),
    ],
)
def test_job_rejects_an_invalid_retry_policy(options, message):
    with pytest.raises(ValueError, match=message):
        job(**options)


def test_job_rejects_an_unknown_queue():
    from django.tasks.exceptions import InvalidTask

    with pytest.raises(InvalidTask, match="Queue 'nope'"):
        job(queue="nope")(jobs.tick.func.job_body)


@pytest.mark.django_db
def test_bookkeeping_inside_a_transaction_is_not_retried_blindly():
    calls = []

    def broken():
        calls.append(1)
        raise OperationalError("server closed the connection")

    with pytest.raises(OperationalError), transaction.atomic():
        with_database_retries(broken)
    assert len(calls) == 1


@pytest.mark.django_db(transaction=True)
def test_bookkeeping_rides_out_a_brief_database_outage(monkeypatch):
    monkeypatch.setattr(retry.time, "sleep", lambda seconds: None)
    outcomes = [OperationalError("database is starting up"), InterfaceError("closed"), "done"]

    def flaky():
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert with_database_retries(flaky) == "done"

    outcomes[:] = [OperationalError("down")] * 5
    with pytest.raises(OperationalError):
        with_database_retries(flaky)
