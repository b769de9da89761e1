"""Delivers webhooks to the app in the background, at their scheduled time, one at a time.

One sender thread and a time-ordered queue: delays and reordering are just scheduling, and what
the app receives is deterministic for a given fault setting. Like the providers, a delivery that
could not reach the app or got a 5xx/429 is retried a few times (Meta retries for days, Kapso at
+10 s, +40 s, +90 s; here the delays are short so a development session does not wait).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from chatdesk.devtools.simulator.payloads import Outgoing

logger = logging.getLogger("chatdesk.simulator")

RETRY_DELAYS = (0.5, 2.0)  # after attempts 1 and 2; three attempts in all
WEBHOOK_TIMEOUT = httpx.Timeout(10.0, connect=3.0)  # Kapso's budget is 10 s, Meta's far less


@dataclass(order=True)
class _Job:
    due: float
    seq: int
    url: str = field(compare=False)
    outgoing: Outgoing = field(compare=False)
    copy: int = field(compare=False, default=1)
    attempt: int = field(compare=False, default=1)
    on_first_attempt: Callable[[int | None], None] | None = field(compare=False, default=None)


class WebhookEmitter:
    def __init__(self, *, on_result: Callable[[dict], None], client: httpx.Client | None = None):
        self._on_result = on_result
        # trust_env=False: the app is local; a developer's HTTP(S)_PROXY must not intercept it.
        self._client = client or httpx.Client(timeout=WEBHOOK_TIMEOUT, trust_env=False)
        self._queue: list[_Job] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._in_flight = 0
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="simulator-webhooks", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stopping = True
            dropped = len(self._queue)
            self._queue.clear()
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._client.close()
        if dropped:
            logger.info("simulator stopped with %d webhook(s) not delivered", dropped)

    def schedule(
        self,
        url: str,
        outgoing: Outgoing,
        *,
        delay: float = 0.0,
        copies: int = 1,
        on_first_attempt: Callable[[int | None], None] | None = None,
    ) -> None:
        """Deliver `outgoing` after `delay` seconds, `copies` times back to back."""
        due = time.monotonic() + delay
        with self._cond:
            for copy in range(1, copies + 1):
                heapq.heappush(
                    self._queue,
                    _Job(
                        due=due,
                        seq=next(self._seq),
                        url=url,
                        outgoing=outgoing,
                        copy=copy,
                        on_first_attempt=on_first_attempt if copy == 1 else None,
                    ),
                )
            self._cond.notify_all()

    def pending(self) -> int:
        with self._cond:
            return len(self._queue) + self._in_flight

    def wait_idle(self, timeout: float) -> bool:
        """True once nothing is queued or being sent (within `timeout` seconds)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and (
                    not self._queue or self._queue[0].due > time.monotonic()
                ):
                    wait = self._queue[0].due - time.monotonic() if self._queue else None
                    self._cond.wait(wait)
                if self._stopping:
                    return
                job = heapq.heappop(self._queue)
                self._in_flight += 1
            try:
                self._deliver(job)
            except Exception:  # the sender thread must survive anything one delivery does
                logger.exception("simulator webhook delivery crashed")
            finally:
                with self._cond:
                    self._in_flight -= 1
                    self._cond.notify_all()

    def _deliver(self, job: _Job) -> None:
        status: int | None = None
        error = ""
        try:
            response = self._client.post(
                job.url, content=job.outgoing.body, headers=job.outgoing.headers
            )
            status = response.status_code
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        if job.on_first_attempt and job.attempt == 1:
            job.on_first_attempt(status)
        retry = (status is None or status >= 500 or status == 429) and job.attempt <= len(
            RETRY_DELAYS
        )
        self._on_result(
            {
                "label": job.outgoing.label,
                "path": urlsplit(job.url).path,
                "status_code": status,
                "error": error,
                "copy": job.copy,
                "attempt": job.attempt,
                "will_retry": retry,
                "at": time.time(),
            }
        )
        logger.info(
            "webhook %s -> %s (copy %d, attempt %d)",
            job.outgoing.label,
            status or error,
            job.copy,
            job.attempt,
        )
        if retry:
            with self._cond:
                if not self._stopping:
                    job.due = time.monotonic() + RETRY_DELAYS[job.attempt - 1]
                    job.attempt += 1
                    job.seq = next(self._seq)
                    heapq.heappush(self._queue, job)
                    self._cond.notify_all()
