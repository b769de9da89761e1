"""`chatdesk worker` as real processes on a file SQLite database (no pytest test database)."""

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

ROOT = Path(__file__).resolve().parents[2]
TASKS_TABLE = "django_tasks_database_dbtaskresult"
ON_POSTGRES = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


class WorkerDatabase:
    """The database the worker processes share: a SQLite file, or a PostgreSQL database when the
    suite runs on PostgreSQL (then the real SKIP LOCKED claims are exercised too)."""

    def __init__(self, *, sqlite_path: Path | None = None, pg_name: str | None = None):
        self.sqlite_path = sqlite_path
        self.pg_name = pg_name

    @property
    def url(self) -> str:
        if self.sqlite_path is not None:
            return f"sqlite:///{self.sqlite_path}"
        return _pg_url(self.pg_name)

    def query(self, sql: str, *params) -> list[tuple]:
        if self.sqlite_path is not None:
            with sqlite3.connect(self.sqlite_path) as db:
                return db.execute(sql.replace("%s", "?"), params).fetchall()
        with psycopg.connect(self.url, autocommit=True) as db:
            return db.execute(sql, params).fetchall()


def _pg_url(name: str) -> str:
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"


def _pg_admin(statement: str) -> None:
    with psycopg.connect(_pg_url("postgres"), autocommit=True) as db:
        db.execute(statement)


def worker_env(database: WorkerDatabase, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "APP_ENV": "test",
        "DATABASE_URL": database.url,
        "DJANGO_SETTINGS_MODULE": "tests.jobs.worker_settings",
        **extra,
    }


def chatdesk(
    database: WorkerDatabase, *args: str, timeout: float = 30
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "chatdesk", *args],
        env=worker_env(database),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_chatdesk(database: WorkerDatabase, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "chatdesk", *args],
        env=worker_env(database),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def enqueue(database: WorkerDatabase, job_name: str, *args) -> str:
    code = (
        "import django, json, sys; django.setup()\n"
        "from tests.jobs import jobs_for_tests as jobs\n"
        f"print(jobs.{job_name}.enqueue(*json.loads(sys.argv[1])).id)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, json.dumps(args)],
        env=worker_env(database),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def task_rows(database: WorkerDatabase, job_name: str) -> list[tuple[str, str, dict]]:
    rows = database.query(
        f"SELECT id, status, args_kwargs FROM {TASKS_TABLE} WHERE task_path = %s "
        "ORDER BY enqueued_at",
        f"tests.jobs.jobs_for_tests.{job_name}",
    )
    return [
        (str(row_id), status, json.loads(args) if isinstance(args, str) else args)
        for row_id, status, args in rows
    ]


def effects(database: WorkerDatabase, key: str) -> int:
    return database.query("SELECT count(*) FROM test_support_jobeffect WHERE key = %s", key)[0][0]


def wait_for(condition, timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def migrated_template(tmp_path_factory):
    if ON_POSTGRES:
        template = WorkerDatabase(pg_name=f"chatdesk_jobs_tpl_{uuid.uuid4().hex[:12]}")
        _pg_admin(f'CREATE DATABASE "{template.pg_name}"')
    else:
        template = WorkerDatabase(
            sqlite_path=tmp_path_factory.mktemp("jobs-template") / "db.sqlite3"
        )
    result = chatdesk(template, "migrate", "--run-syncdb", "-v0", timeout=120)
    assert result.returncode == 0, result.stderr
    yield template
    if ON_POSTGRES:
        _pg_admin(f'DROP DATABASE IF EXISTS "{template.pg_name}" WITH (FORCE)')


@pytest.fixture
def database(migrated_template, tmp_path):
    """A fresh migrated database per test (a copy of the module's template)."""
    if not ON_POSTGRES:
        shutil.copy(migrated_template.sqlite_path, tmp_path / "db.sqlite3")
        yield WorkerDatabase(sqlite_path=tmp_path / "db.sqlite3")
        return
    name = f"chatdesk_jobs_{uuid.uuid4().hex[:12]}"
    _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{migrated_template.pg_name}"')
    yield WorkerDatabase(pg_name=name)
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_worker_once_runs_an_enqueued_job_on_its_own_queue(database):
    enqueue(database, "apply_effect", "hello")

    result = chatdesk(
        database, "worker", "--once", "--outbound", "0", "--default", "0", "--interval", "0.05"
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 process(es) [inbound] + scheduler" in result.stdout
    [(_, status, _)] = task_rows(database, "apply_effect")
    assert status == "SUCCESSFUL"
    assert effects(database, "hello") == 1
    # The scheduler ticked: the reaper is enqueued (left for the default queue, not run here).
    assert database.query("SELECT count(*) FROM jobs_periodicschedule")[0][0] >= 1


def test_job_of_a_worker_killed_mid_job_is_reaped_and_completed_exactly_once(database, tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    enqueue(database, "slow_effect", "kill-me", str(markers))
    worker = start_chatdesk(
        database, "worker", "--queues", "default", "--interval", "0.05", "--no-scheduler"
    )
    try:
        wait_for((markers / "started").exists, what="the job to start")
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    killed_at = time.monotonic()
    [(first_id, status, _)] = task_rows(database, "slow_effect")
    assert status == "RUNNING"  # what django-tasks-db leaves behind on its own

    # Past the test settings' heartbeat timeout (1 s) and the job's stale_after (1 s).
    time.sleep(max(0.0, 1.2 - (time.monotonic() - killed_at)))
    result = chatdesk(
        database, "worker", "--once", "--inbound", "0", "--outbound", "0", "--interval", "0.05"
    )

    assert result.returncode == 0, result.stdout + result.stderr
    (_, first_status, _), (_, retry_status, retry_args) = task_rows(database, "slow_effect")
    assert first_status == "FAILED"
    [(reason,)] = database.query(
        f"SELECT exception_class_path FROM {TASKS_TABLE} WHERE id = %s",
        first_id,
    )
    assert reason == "chatdesk.jobs.reaper.WorkerLostError"
    assert retry_status == "SUCCESSFUL"
    assert retry_args["kwargs"]["_attempt"] == 2
    # The body ran twice (killed once), its effect exists once.
    assert (markers / "runs").read_text().count("run") == 2
    assert effects(database, "kill-me") == 1


def test_sigterm_lets_the_running_job_finish_then_stops_every_worker(database):
    enqueue(database, "sleeps_then_applies", "graceful", 1.0)
    supervisor = start_chatdesk(
        database,
        "worker",
        "--outbound",
        "0",
        "--default",
        "0",
        "--no-scheduler",
        "--interval",
        "0.05",
    )
    wait_for(
        lambda: task_rows(database, "sleeps_then_applies")[0][1] == "RUNNING",
        what="the job to start",
    )

    supervisor.send_signal(signal.SIGTERM)
    output, _ = supervisor.communicate(timeout=20)

    assert supervisor.returncode == 0, output
    assert task_rows(database, "sleeps_then_applies")[0][1] == "SUCCESSFUL"
    assert effects(database, "graceful") == 1
    # The worker removed its heartbeat on the way out.
    assert database.query("SELECT count(*) FROM jobs_workerheartbeat")[0][0] == 0


def heartbeat_pids(database: WorkerDatabase) -> set[int]:
    return {pid for (pid,) in database.query("SELECT pid FROM jobs_workerheartbeat")}


def test_supervisor_restarts_a_worker_process_that_died(database):
    supervisor = start_chatdesk(
        database, "worker", "--outbound", "0", "--default", "0", "--no-scheduler"
    )
    try:
        wait_for(lambda: heartbeat_pids(database), what="the worker's first heartbeat")
        [first_pid] = heartbeat_pids(database)

        os.kill(first_pid, signal.SIGKILL)

        wait_for(lambda: heartbeat_pids(database) - {first_pid}, what="a replacement worker")
    finally:
        supervisor.send_signal(signal.SIGTERM)
        output, _ = supervisor.communicate(timeout=20)
    assert supervisor.returncode == 0, output
    assert "exited with code -9; restarting" in output


def test_worker_refuses_to_start_with_an_invalid_configuration(database):
    result = subprocess.run(
        [sys.executable, "-m", "chatdesk", "worker", "--once"],
        env={**worker_env(database), "APP_ENV": "production"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode == 2
    assert "SECRET_KEY" in result.stderr


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"queues": "inbound,nope"}, "unknown queue"),
        (
            {"inbound": 0, "outbound": 0, "default_workers": 0, "no_scheduler": True},
            "nothing to run",
        ),
    ],
)
def test_worker_rejects_options_that_cannot_work(options, message):
    with pytest.raises(CommandError, match=message):
        call_command("worker", **options)
