from datetime import timedelta

import pytest
from django.tasks import TaskResultStatus
from django.test import override_settings
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from chatdesk.jobs.heartbeat import worker_heartbeat_record
from chatdesk.jobs.models import JobFailure
from chatdesk.jobs.reaper import stale_jobs_reap
from chatdesk.jobs.tasks import prune_finished_jobs
from chatdesk.jobs.testing import drain
from tests.jobs import jobs_for_tests as jobs
from tests.support.models import JobEffect

pytestmark = pytest.mark.django_db


def stuck(task, *args, started_ago: timedelta, worker_id: str = "dead-worker", **kwargs):
    """A task row a worker claimed `started_ago` and never finished."""
    row = DBTaskResult.objects.get(id=task.enqueue(*args, **kwargs).id)
    row.claim(worker_id)
    DBTaskResult.objects.filter(id=row.id).update(started_at=timezone.now() - started_ago)
    return row


def test_reaper_requeues_a_task_stuck_running_after_its_worker_died():
    row = stuck(jobs.apply_effect, "msg-1", started_ago=timedelta(minutes=20))

    report = stale_jobs_reap()

    assert report.requeued == [str(row.id)]
    row.refresh_from_db()
    assert row.status == TaskResultStatus.FAILED
    assert row.exception_class_path == "chatdesk.jobs.reaper.WorkerLostError"
    assert "dead-worker stopped heartbeating" in row.traceback
    retry = DBTaskResult.objects.get(status=TaskResultStatus.READY)
    assert retry.args_kwargs == {"args": ["msg-1"], "kwargs": {"_attempt": 2}}
    assert retry.queue_name == "inbound"
    # The re-queued job runs and its effect is applied once.
    drain()
    retry.refresh_from_db()
    assert retry.status == TaskResultStatus.SUCCESSFUL
    assert JobEffect.objects.filter(key="msg-1").count() == 1


def test_reaper_leaves_a_recently_started_task_alone():
    row = stuck(jobs.apply_effect, "msg-2", started_ago=timedelta(minutes=2))

    assert stale_jobs_reap().requeued == []

    row.refresh_from_db()
    assert row.status == TaskResultStatus.RUNNING
    assert DBTaskResult.objects.count() == 1


def test_reaper_leaves_a_long_task_of_a_live_worker_alone():
    row = stuck(jobs.apply_effect, "msg-3", started_ago=timedelta(hours=2), worker_id="alive")
    worker_heartbeat_record(worker_id="alive", queues="inbound")

    assert stale_jobs_reap().requeued == []

    row.refresh_from_db()
    assert row.status == TaskResultStatus.RUNNING


def test_worker_whose_heartbeat_went_silent_counts_as_gone():
    row = stuck(jobs.apply_effect, "msg-4", started_ago=timedelta(hours=2), worker_id="silent")
    worker_heartbeat_record(
        worker_id="silent", queues="inbound", now=timezone.now() - timedelta(minutes=5)
    )

    assert stale_jobs_reap().requeued == [str(row.id)]


def test_reaper_honours_the_jobs_own_stale_timeout():
    # slow_effect declares stale_after=1s; the default is 15 minutes.
    quick = stuck(jobs.slow_effect, "k", "/nonexistent", started_ago=timedelta(seconds=5))
    stuck(jobs.apply_effect, "msg-5", started_ago=timedelta(seconds=5))

    assert stale_jobs_reap().requeued == [str(quick.id)]


@override_settings(JOBS={"STALE_AFTER_SECONDS": 30})
def test_default_stale_timeout_comes_from_settings():
    row = stuck(jobs.apply_effect, "msg-6", started_ago=timedelta(minutes=1))

    assert stale_jobs_reap().requeued == [str(row.id)]


def test_reaper_fails_the_task_for_good_after_its_last_attempt():
    row = stuck(jobs.apply_effect, "msg-7", _attempt=3, started_ago=timedelta(hours=1))

    report = stale_jobs_reap()

    assert report.failed == [str(row.id)]
    assert not DBTaskResult.objects.filter(status=TaskResultStatus.READY).exists()
    failure = JobFailure.objects.get()
    assert failure.attempts == 3
    assert failure.args_kwargs == {"args": ["msg-7"], "kwargs": {}}
    assert "stopped heartbeating" in failure.reason


def test_reaping_twice_requeues_once():
    stuck(jobs.apply_effect, "msg-8", started_ago=timedelta(hours=1))

    stale_jobs_reap()
    stale_jobs_reap()

    assert DBTaskResult.objects.filter(status=TaskResultStatus.READY).count() == 1


@override_settings(JOBS={"KEEP_SUCCESSFUL_DAYS": 1})
def test_pruning_deletes_old_finished_rows_only():
    jobs.apply_effect.enqueue("old")
    jobs.apply_effect.enqueue("new")
    drain()
    old = DBTaskResult.objects.get(args_kwargs__args=["old"])
    DBTaskResult.objects.filter(id=old.id).update(finished_at=timezone.now() - timedelta(days=2))
    pending = jobs.apply_effect.enqueue("pending")

    assert prune_finished_jobs.func.job_body() == {"SUCCESSFUL": 1, "FAILED": 0}

    remaining = {row.args_kwargs["args"][0] for row in DBTaskResult.objects.all()}
    assert remaining == {"new", "pending"}
    assert DBTaskResult.objects.filter(id=pending.id).exists()


def test_unknown_jobs_setting_is_a_clear_error():
    from django.core.exceptions import ImproperlyConfigured

    with (
        override_settings(JOBS={"STALE_AFTER": 5}),
        pytest.raises(ImproperlyConfigured, match="Unknown JOBS setting"),
    ):
        stale_jobs_reap()
