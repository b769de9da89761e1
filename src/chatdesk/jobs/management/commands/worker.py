"""`chatdesk worker`: background job workers with dedicated capacity per queue.

Without `--queues` it is a supervisor: it starts one OS process per worker (by default one for
`inbound` alone, so a customer's message never waits behind bulk work, one for `outbound`, one
for `default,bulk`), restarts a process that dies, runs the periodic scheduler tick, and on
SIGTERM/SIGINT forwards SIGTERM to its workers and waits for their current jobs to finish.

With `--queues` it is one worker process (what the supervisor starts; also usable as one process
per container): django-tasks-db's own Worker loop plus a heartbeat thread for the reaper.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections
from django.tasks import DEFAULT_TASK_BACKEND_ALIAS
from django.utils.crypto import get_random_string

logger = logging.getLogger("chatdesk.jobs")

RESTART_BACKOFF_MAX = 60.0
# A worker that ran this long before dying is restarted without waiting.
HEALTHY_RUN_SECONDS = 60.0


def _count(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return number


def _positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return number


def _seconds(value: str) -> float:
    number = float(value)
    if not (number >= 0 and number < float("inf")):
        raise argparse.ArgumentTypeError("must be a number of seconds, 0 or more")
    return number


@dataclass
class Child:
    queues: str
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    failures: int = 0
    restart_at: float = 0.0
    exit_codes: list[int] = field(default_factory=list)


class Command(BaseCommand):
    help = "Run background job workers (per-queue processes plus the periodic scheduler)."
    # The supervisor runs the system checks once (below); its worker processes skip them.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument(
            "--inbound", type=_count, default=1, help="processes for the inbound queue (default 1)"
        )
        parser.add_argument(
            "--outbound",
            type=_count,
            default=1,
            help="processes for the outbound queue (default 1)",
        )
        parser.add_argument(
            "--default",
            type=_count,
            default=1,
            dest="default_workers",
            help="processes for the default and bulk queues (default 1)",
        )
        parser.add_argument(
            "--no-scheduler", action="store_true", help="do not run the periodic scheduler here"
        )
        parser.add_argument(
            "--once",
            action="store_true",
            help="enqueue due periodic jobs, run every ready job, then exit (tests, cron)",
        )
        parser.add_argument(
            "--max-tasks", type=_positive_int, default=None, help="each worker exits after N jobs"
        )
        parser.add_argument(
            "--interval", type=_seconds, default=1.0, help="poll interval of an idle worker (s)"
        )
        parser.add_argument(
            "--tick", type=_seconds, default=5.0, help="scheduler tick interval (s, default 5)"
        )
        parser.add_argument(
            "--grace",
            type=_seconds,
            default=60.0,
            help="on shutdown, wait this long for running jobs before killing workers (s)",
        )
        parser.add_argument(
            "--queues",
            default=None,
            help="run ONE worker process in the foreground for these comma-separated queues",
        )
        parser.add_argument("--worker-id", default=None, help=argparse.SUPPRESS)
        parser.add_argument("--supervisor-pid", type=int, default=None, help=argparse.SUPPRESS)

    def handle(self, *args, **options):
        known = set(settings.TASKS[DEFAULT_TASK_BACKEND_ALIAS].get("QUEUES", ["default"]))
        if options["queues"] is not None:
            queues = [name.strip() for name in options["queues"].split(",") if name.strip()]
            unknown = [name for name in queues if name not in known]
            if not queues or unknown:
                raise CommandError(
                    f"--queues: unknown queue(s) {', '.join(unknown) or '(none given)'}; "
                    f"known: {', '.join(sorted(known))}"
                )
            self._run_worker(queues, options)
            return
        plan = (
            [Child("inbound") for _ in range(options["inbound"])]
            + [Child("outbound") for _ in range(options["outbound"])]
            + [Child("default,bulk") for _ in range(options["default_workers"])]
        )
        if not plan and options["no_scheduler"]:
            raise CommandError("nothing to run: every worker count is 0 and --no-scheduler is set")
        self.check()
        Supervisor(plan, options, self.stdout).run()

    def _run_worker(self, queues: list[str], options) -> None:
        from django_tasks_db.management.commands.db_worker import Worker

        from chatdesk.jobs.heartbeat import HeartbeatThread, worker_heartbeat_remove

        _configure_worker_logging(options["verbosity"])
        worker_id = options["worker_id"] or (
            f"{socket.gethostname()[:32]}:{os.getpid()}:{get_random_string(8)}"
        )
        queue_list = ",".join(queues)
        worker = Worker(
            queue_names=queues,
            interval=options["interval"],
            batch=options["once"],
            backend_name=DEFAULT_TASK_BACKEND_ALIAS,
            # Spread the first polls of workers started together (up to 1 s; pointless when they
            # poll more often than that, or run once).
            startup_delay=(
                options["supervisor_pid"] is not None
                and not options["once"]
                and options["interval"] >= 1
            ),
            max_tasks=options["max_tasks"],
            worker_id=worker_id,
            excluded_queue_names=[],
        )
        heartbeat = HeartbeatThread(
            worker_id=worker_id, queues=queue_list, supervisor_pid=options["supervisor_pid"]
        )
        # The first beat is written before any job is claimed, so no job of a live worker is
        # ever without a heartbeat.
        heartbeat.beat()
        heartbeat.start()
        worker.configure_signals()
        try:
            worker.run()
        finally:
            heartbeat.stop()
            try:
                worker_heartbeat_remove(worker_id=worker_id)
            except Exception:
                logger.warning("could not remove worker heartbeat", exc_info=True)


def _configure_worker_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity == 0 else logging.INFO
    if verbosity >= 2:
        level = logging.DEBUG
    for name in ("django_tasks_db", "django.tasks", "chatdesk.jobs"):
        logging.getLogger(name).setLevel(level)


class Supervisor:
    def __init__(self, children: list[Child], options: dict, stdout):
        self.children = children
        self.options = options
        self.stdout = stdout
        self.once = options["once"]
        self.scheduler = not options["no_scheduler"]
        self.signals_received = 0

    def _on_signal(self, signum, frame) -> None:
        self.signals_received += 1
        # Every signal is passed on: a second Ctrl+C makes the workers stop their current job
        # too (the job's retry is recorded before it exits).
        for child in self.children:
            if child.process and child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)

    def _command(self, child: Child) -> list[str]:
        command = [
            sys.executable,
            "-m",
            "chatdesk",
            "worker",
            "--queues",
            child.queues,
            "--interval",
            str(self.options["interval"]),
            "--supervisor-pid",
            str(os.getpid()),
            "--verbosity",
            str(self.options["verbosity"]),
        ]
        if self.once:
            command.append("--once")
        if self.options["max_tasks"]:
            command += ["--max-tasks", str(self.options["max_tasks"])]
        return command

    def _start(self, child: Child) -> None:
        # A session of its own: a terminal's Ctrl+C reaches the supervisor only, which forwards
        # exactly one SIGTERM (two would abort the running job).
        child.process = subprocess.Popen(self._command(child), start_new_session=True)
        child.started_at = time.monotonic()
        logger.info(
            "started worker pid=%s queues=%s",
            child.process.pid,
            child.queues,
        )

    def _tick(self) -> None:
        from chatdesk.jobs.periodic import periodic_jobs_enqueue_due

        try:
            close_old_connections()
            enqueued = periodic_jobs_enqueue_due()
            if enqueued:
                logger.info("enqueued periodic jobs: %s", ", ".join(enqueued))
        except Exception:
            # The database may be briefly unavailable; the next tick catches up.
            logger.exception("periodic scheduler tick failed")

    def run(self) -> None:
        from chatdesk.jobs.periodic import autodiscover

        _configure_worker_logging(self.options["verbosity"])
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        if self.scheduler:
            autodiscover()
            # Before starting one-shot workers, so they find what is due.
            self._tick()
        for child in self.children:
            self._start(child)
        self.stdout.write(
            f"chatdesk worker: {len(self.children)} process(es) "
            f"[{', '.join(child.queues for child in self.children)}]"
            f"{' + scheduler' if self.scheduler else ''}\n"
        )
        self.stdout.flush()
        next_tick = time.monotonic() + self.options["tick"]
        try:
            while not self.signals_received:
                now = time.monotonic()
                if self.scheduler and not self.once and now >= next_tick:
                    self._tick()
                    next_tick = now + self.options["tick"]
                if self._supervise(now) and self.once:
                    break
                time.sleep(0.1)
        except BaseException:
            logger.exception("worker supervisor failed; stopping its workers")
            if not self.signals_received:
                self._on_signal(signal.SIGTERM, None)
            raise
        finally:
            self._shutdown()
        # A child ended by the same SIGINT/SIGTERM that stopped us (Ctrl+C reaches the whole process
        # group) is a normal shutdown, not an error.
        stopped_by = {-int(signal.SIGTERM), -int(signal.SIGINT)} if self.signals_received else set()
        failed = [
            code
            for child in self.children
            for code in child.exit_codes
            if code != 0 and code not in stopped_by
        ]
        if failed:
            raise CommandError(f"{len(failed)} worker process(es) exited with an error: {failed}")

    def _supervise(self, now: float) -> bool:
        """Reap exited workers and restart them; True when none is running any more."""
        running = 0
        for child in self.children:
            process = child.process
            if process is None:
                if not self.once and now >= child.restart_at:
                    self._start(child)
                    running += 1
                continue
            code = process.poll()
            if code is None:
                running += 1
                continue
            child.process = None
            if self.once:
                child.exit_codes.append(code)
                continue
            # A clean exit is a recycled worker (--max-tasks). Otherwise it crashed or was killed:
            # restart with a growing delay if it keeps dying at once, so a broken deploy does not
            # spin. Its RUNNING job, if any, is re-queued by the reaper.
            ran_for = now - child.started_at
            crashed_at_once = code != 0 and ran_for < HEALTHY_RUN_SECONDS
            child.failures = child.failures + 1 if crashed_at_once else 0
            delay = 0.0 if child.failures <= 1 else min(RESTART_BACKOFF_MAX, 2.0**child.failures)
            child.restart_at = now + delay
            logger.log(
                logging.INFO if code == 0 else logging.ERROR,
                "worker pid=%s queues=%s exited with code %s; restarting in %.0fs",
                process.pid,
                child.queues,
                code,
                delay,
            )
        return running == 0

    def _shutdown(self) -> None:
        # The signal handler already forwarded SIGTERM; a second one here would abort the jobs.
        live = [child for child in self.children if child.process and child.process.poll() is None]
        deadline = time.monotonic() + self.options["grace"]
        for child in live:
            try:
                child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.error(
                    "worker pid=%s did not stop within %.0fs; killing it (its job will be reaped)",
                    child.process.pid,
                    self.options["grace"],
                )
                child.process.kill()
                child.process.wait()
        for child in live:
            child.exit_codes.append(child.process.returncode)
