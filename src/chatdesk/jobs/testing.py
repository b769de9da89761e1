"""Run queued jobs in the test process, through django-tasks-db's own Worker.run_task."""

from __future__ import annotations

from django.tasks import TaskResultStatus
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult


def drain(
    *,
    queues: list[str] | None = None,
    include_delayed: bool = False,
    max_tasks: int = 100,
    worker_id: str = "test-worker",
) -> int:
    """Run READY tasks one by one until none is left (or max_tasks); returns how many ran.

    `include_delayed=True` also runs tasks whose run_after is in the future (retries with backoff)
    instead of waiting for them. Retries enqueued by a failing task are picked up in the same call.
    """
    worker = Worker(
        queue_names=queues or ["*"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id=worker_id,
        excluded_queue_names=[],
    )
    ran = 0
    while ran < max_tasks:
        rows = (
            DBTaskResult.objects.filter(status=TaskResultStatus.READY)
            if include_delayed
            else DBTaskResult.objects.ready()
        )
        if queues:
            rows = rows.filter(queue_name__in=queues)
        row = rows.order_by("run_after", "enqueued_at").first()
        if row is None:
            break
        row.claim(worker_id)
        worker.run_task(row)
        ran += 1
    return ran
