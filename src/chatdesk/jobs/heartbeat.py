"""Worker liveness: each worker process writes a heartbeat row from a background thread.

The thread lives in the process that executes the jobs, so the heartbeat stops exactly when that
process dies (SIGKILL, OOM, host crash), which is what the reaper needs to know.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from datetime import datetime

from django.db import IntegrityError, close_old_connections, connection
from django.utils import timezone

from chatdesk.jobs.conf import jobs_setting
from chatdesk.jobs.models import WorkerHeartbeat

logger = logging.getLogger("chatdesk.jobs")


def worker_heartbeat_record(*, worker_id: str, queues: str, now: datetime | None = None) -> None:
    now = now or timezone.now()
    if WorkerHeartbeat.objects.filter(worker_id=worker_id).update(last_seen_at=now):
        return
    try:
        WorkerHeartbeat.objects.create(
            worker_id=worker_id,
            hostname=socket.gethostname()[:255],
            pid=os.getpid(),
            queues=queues[:255],
            started_at=now,
            last_seen_at=now,
        )
    except IntegrityError:  # pragma: no cover - only if two processes share a worker id
        WorkerHeartbeat.objects.filter(worker_id=worker_id).update(last_seen_at=now)


def worker_heartbeat_remove(*, worker_id: str) -> None:
    WorkerHeartbeat.objects.filter(worker_id=worker_id).delete()


class HeartbeatThread(threading.Thread):
    """Beats every JOBS["HEARTBEAT_INTERVAL_SECONDS"]; stops the worker if its supervisor died."""

    def __init__(self, *, worker_id: str, queues: str, supervisor_pid: int | None = None):
        super().__init__(name=f"heartbeat-{worker_id}", daemon=True)
        self.worker_id = worker_id
        self.queues = queues
        self.supervisor_pid = supervisor_pid
        self.interval = jobs_setting("HEARTBEAT_INTERVAL_SECONDS")
        self._stopped = threading.Event()

    def beat(self) -> None:
        close_old_connections()
        worker_heartbeat_record(worker_id=self.worker_id, queues=self.queues)

    def run(self) -> None:
        try:
            while not self._stopped.wait(self.interval):
                if self.supervisor_pid and os.getppid() != self.supervisor_pid:
                    # Orphaned (the supervisor was killed): stop gracefully rather than work on
                    # unsupervised next to the workers a restarted supervisor will start.
                    logger.warning(
                        "worker supervisor is gone; stopping", extra={"worker_id": self.worker_id}
                    )
                    os.kill(os.getpid(), signal.SIGTERM)
                    return
                try:
                    self.beat()
                except Exception:
                    # A database blip must not kill the worker; missing beats only make the
                    # reaper consider it gone after the timeout, which the next beat undoes.
                    logger.warning(
                        "worker heartbeat failed",
                        exc_info=True,
                        extra={"worker_id": self.worker_id},
                    )
        finally:
            connection.close()

    def stop(self) -> None:
        self._stopped.set()
