import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from chatdesk.jobs import periodic as periodic_module
from chatdesk.jobs.models import PeriodicSchedule
from chatdesk.jobs.periodic import (
    PeriodicJob,
    PeriodicRegistry,
    next_slot,
    periodic_job_claim_slot,
    periodic_jobs_enqueue_due,
)
from chatdesk.jobs.testing import drain
from tests.jobs import jobs_for_tests as jobs

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
TICK = PeriodicJob(task=jobs.tick, every=MINUTE)


def queued(task) -> int:
    return DBTaskResult.objects.filter(task_path=task.module_path).count()


def test_next_slot_skips_missed_slots_without_a_burst_of_catch_up_runs():
    assert next_slot(T0, MINUTE, T0) == T0 + MINUTE
    assert next_slot(T0, MINUTE, T0 + timedelta(seconds=59)) == T0 + MINUTE
    # Down for an hour and a half: one run now, the next on the original grid.
    assert next_slot(T0, MINUTE, T0 + timedelta(minutes=90, seconds=5)) == T0 + 91 * MINUTE
    assert next_slot(T0 + MINUTE, MINUTE, T0) == T0 + MINUTE


@pytest.mark.django_db
def test_due_periodic_job_is_enqueued_once_per_interval():
    assert periodic_jobs_enqueue_due(jobs=[TICK], now=T0) == [jobs.tick.module_path]
    assert periodic_jobs_enqueue_due(jobs=[TICK], now=T0 + timedelta(seconds=30)) == []
    assert queued(jobs.tick) == 1
    drain()

    assert periodic_jobs_enqueue_due(jobs=[TICK], now=T0 + timedelta(seconds=61)) == [
        jobs.tick.module_path
    ]
    assert queued(jobs.tick) == 2
    schedule = PeriodicSchedule.objects.get(name=jobs.tick.module_path)
    assert schedule.next_run_at == T0 + 2 * MINUTE
    assert schedule.last_enqueued_at == T0 + timedelta(seconds=61)


@pytest.mark.django_db
def test_two_ticks_racing_for_the_same_slot_enqueue_the_job_once():
    periodic_jobs_enqueue_due(jobs=[TICK], now=T0)
    drain()
    later = T0 + timedelta(minutes=1, seconds=1)
    # Both schedulers read the row before either writes (the interleaving of a real race)...
    seen_by_first = seen_by_second = PeriodicSchedule.objects.get(name=TICK.name).next_run_at

    first = periodic_job_claim_slot(periodic_job=TICK, seen_next_run_at=seen_by_first, now=later)
    second = periodic_job_claim_slot(periodic_job=TICK, seen_next_run_at=seen_by_second, now=later)

    # ...and only the first compare-and-swap matches.
    assert (first, second) == (True, False)
    assert queued(jobs.tick) == 2
    # A full second tick at the same instant finds the slot taken as well.
    assert periodic_jobs_enqueue_due(jobs=[TICK], now=later) == []
    assert queued(jobs.tick) == 2


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="concurrent connections need PostgreSQL"
)
@pytest.mark.django_db(transaction=True)
def test_concurrent_ticks_in_separate_connections_enqueue_the_job_once():
    barrier = threading.Barrier(4)
    results: list[list[str]] = []

    def tick():
        try:
            barrier.wait()
            results.append(periodic_jobs_enqueue_due(jobs=[TICK], now=T0))
        finally:
            connection.close()

    threads = [threading.Thread(target=tick) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(len(r) for r in results) == [0, 0, 0, 1]
    assert queued(jobs.tick) == 1


@pytest.mark.django_db
def test_periodic_job_still_waiting_in_the_queue_is_not_enqueued_again():
    periodic_jobs_enqueue_due(jobs=[TICK], now=T0)

    assert periodic_jobs_enqueue_due(jobs=[TICK], now=T0 + 5 * MINUTE) == []

    assert DBTaskResult.objects.filter(status=TaskResultStatus.READY).count() == 1
    # The slot still moves on, so the job is due again one interval later.
    schedule = PeriodicSchedule.objects.get(name=TICK.name)
    assert schedule.next_run_at == T0 + 6 * MINUTE


@pytest.mark.django_db
def test_each_periodic_job_keeps_its_own_interval():
    tock = PeriodicJob(task=jobs.tock, every=timedelta(hours=1))
    periodic_jobs_enqueue_due(jobs=[TICK, tock], now=T0)
    drain()

    enqueued = periodic_jobs_enqueue_due(jobs=[TICK, tock], now=T0 + 2 * MINUTE)

    assert enqueued == [jobs.tick.module_path]


def test_registry_wraps_functions_as_jobs_and_validates_declarations():
    registry = PeriodicRegistry()
    registry.periodic(every=timedelta(minutes=5))(jobs.tick)
    assert [(j.name, j.every) for j in registry.all()] == [
        (jobs.tick.module_path, timedelta(minutes=5))
    ]
    with pytest.raises(ValueError, match="at least 0:00:01"):
        registry.periodic(every=timedelta(milliseconds=10))
    with pytest.raises(TypeError, match="must take no arguments"):
        registry.periodic(every=MINUTE)(jobs.apply_effect)


def test_reaper_and_pruning_are_registered_periodic_jobs():
    periodic_module.autodiscover()
    names = {j.name: j.every for j in periodic_module.registry.all()}
    assert names["chatdesk.jobs.tasks.reap_stale_jobs"] == timedelta(minutes=1)
    assert "chatdesk.jobs.tasks.prune_finished_jobs" in names
