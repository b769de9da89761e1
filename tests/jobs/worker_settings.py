"""Settings for worker subprocesses in tests/jobs: fast heartbeats so a killed worker is seen."""

from tests.settings import *  # noqa: F403

JOBS = {"HEARTBEAT_INTERVAL_SECONDS": 0.2, "HEARTBEAT_TIMEOUT_SECONDS": 1}
