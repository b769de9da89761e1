"""Tables the jobs module adds around django-tasks-db's DBTaskResult (which stays untouched)."""

from __future__ import annotations

from django.db import models


class PeriodicSchedule(models.Model):
    """One row per periodic job: the slot a scheduler must win before it enqueues the job.

    Schedulers in several worker processes race for the same row with a compare-and-swap UPDATE
    on `next_run_at`, so a job is enqueued at most once per interval (see periodic.py).
    """

    name = models.CharField(max_length=255, unique=True)
    next_run_at = models.DateTimeField()
    last_enqueued_at = models.DateTimeField(null=True, blank=True)
    last_task_id = models.UUIDField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} (next {self.next_run_at:%Y-%m-%d %H:%M:%S})"


class WorkerHeartbeat(models.Model):
    """Liveness of one worker process; the reaper only touches jobs of workers that went silent."""

    worker_id = models.CharField(max_length=64, primary_key=True)
    hostname = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    queues = models.CharField(max_length=255)
    started_at = models.DateTimeField()
    last_seen_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.worker_id} ({self.queues})"


class JobFailure(models.Model):
    """A job that will not run again by itself: attempts exhausted, permanent error, or lost.

    Every attempt also leaves a FAILED DBTaskResult row with its traceback; this table is the
    operator's list of terminal failures, and `job_failure_retry` re-enqueues one.
    """

    task_id = models.UUIDField(db_index=True, help_text="the DBTaskResult of the last attempt")
    task_path = models.TextField()
    queue_name = models.CharField(max_length=32)
    args_kwargs = models.JSONField()
    attempts = models.PositiveIntegerField()
    exception_class_path = models.TextField()
    reason = models.TextField()
    failed_at = models.DateTimeField(auto_now_add=True, db_index=True)
    retried_at = models.DateTimeField(null=True, blank=True)
    retried_task_id = models.UUIDField(null=True, blank=True)

    class Meta:
        ordering = ["-failed_at"]

    def __str__(self) -> str:
        return f"{self.task_path} failed after {self.attempts} attempt(s)"
