"""The app over real HTTP and the simulator as its peer, for end-to-end tests.

Why not pytest-django's `live_server`: on SQLite it hands the test thread's single in-memory
connection to the server threads, so the server handling a webhook and the test sending a reply
would interleave transactions on one connection. Here every thread has its own connection to a
database that really commits: PostgreSQL's test database as is, or, on SQLite, a file copy of the
in-memory test database opened with the production options (WAL, busy timeout, IMMEDIATE).
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager

import pytest
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.db import connections
from django.test.testcases import LiveServerThread

from chatdesk.devtools.simulator import SimChannel, Simulator


@contextmanager
def _every_thread_on_its_own_connection(tmp_path):
    connection = connections["default"]
    if connection.vendor != "sqlite":
        yield
        return
    connection.ensure_connection()
    path = tmp_path / "app.sqlite3"
    copy = sqlite3.connect(path)
    connection.connection.backup(copy)
    # WAL now, alone: several first connections switching at once race for an exclusive lock.
    copy.execute("PRAGMA journal_mode=WAL")
    copy.close()
    in_memory = connection.settings_dict["NAME"]
    # New connections (server threads, and this thread's replacement) open the file.
    connection.settings_dict["NAME"] = str(path)
    on_file = connections.create_connection("default")
    connections["default"] = on_file
    try:
        yield
    finally:
        on_file.close()
        connections["default"] = connection
        # Restored before the test database's teardown: Django keeps the in-memory database
        # open only while its NAME says it is in memory.
        connection.settings_dict["NAME"] = in_memory


@pytest.fixture
def app_url(transactional_db, tmp_path):
    """chatdesk served over HTTP by Django's threaded test server."""
    with _every_thread_on_its_own_connection(tmp_path):
        server = LiveServerThread("127.0.0.1", StaticFilesHandler)
        server.daemon = True
        server.start()
        server.is_ready.wait(timeout=10)
        if server.error:
            raise server.error
        try:
            yield f"http://127.0.0.1:{server.port}"
        finally:
            server.terminate()


@pytest.fixture
def start_simulator(app_url, settings):
    """start_simulator(*channels) -> a running Simulator that chatdesk's adapters send to."""
    running: list[Simulator] = []

    def start(*channels) -> Simulator:
        simulator = Simulator(
            channels=[sim_channel(channel) for channel in channels], app_url=app_url, port=0
        )
        simulator.start()
        running.append(simulator)
        settings.SIMULATOR_ENABLED = True
        settings.ENV = settings.ENV.model_copy(update={"SIMULATOR_URL": simulator.url})
        return simulator

    yield start
    for simulator in running:
        simulator.stop()


def sim_channel(channel) -> SimChannel:
    """The provider's side of an app Channel: same keys, same credentials."""
    return SimChannel(
        kind=channel.kind,
        phone_number_id=channel.phone_number_id,
        channel_key=channel.channel_key,
        signing_secret=channel.signing_secret,
        api_token=channel.api_token,
        display_number=channel.display_number,
    )
