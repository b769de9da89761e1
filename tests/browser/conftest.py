"""A real Chromium against the running app, the WhatsApp simulator and a background worker.

- Chromium: Debian's `/usr/bin/chromium`, driven by Playwright for Python (its own browser
  downloads are never used). When it is missing, the session installs it with apt-get once (a
  lock file keeps parallel runs from installing twice); the browser tests skip, saying why, only
  when that is impossible (not root, no apt-get, the install failed or timed out).
- The app: Django's threaded test server on a free port, each thread on its own database
  connection (see tests/devtools/conftest.py), seeded with the demo workspace of `make demo`,
  with the simulator playing the demo's WhatsApp number and a worker thread delivering replies.
- Screenshots: `test-artifacts/screenshots/<test>.png` (git-ignored), kept for every test, plus
  `<test>-failed-<n>.png` of every open page when a test fails.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.servers.basehttp import ThreadedWSGIServer
from django.db import connections
from django.test.testcases import LiveServerThread
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect, sync_playwright

from chatdesk.devtools.seed import demo_seed
from chatdesk.devtools.simulator import Simulator
from chatdesk.jobs.testing import drain
from tests.browser.helpers import DESKTOP, LiveApp, sign_in_directly
from tests.devtools.conftest import _every_thread_on_its_own_connection, sim_channel

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# fonts-liberation: legible screenshots without the ~100 packages chromium merely recommends.
APT_PACKAGES = ["chromium", "fonts-liberation"]
INSTALL_TIMEOUT_SECONDS = 600
INSTALL_LOCK = Path(tempfile.gettempdir()) / "chatdesk-chromium-install.lock"

# Playwright's default for expect() is 5 s; a webhook, a job and a 1 s poll fit well inside.
EXPECT_TIMEOUT_MS = 10_000
# The inbox polls every few seconds in production; once a second keeps the suite quick.
POLL_SECONDS = 1


# --- Chromium ---------------------------------------------------------------------------------


def chromium_install() -> str:
    """Install Debian's chromium if it is missing. Returns "" when it is there, else why not."""
    if CHROMIUM.exists():
        return ""
    apt_get = shutil.which("apt-get")
    if apt_get is None:
        return f"{CHROMIUM} is missing and there is no apt-get to install Debian's chromium"
    if os.geteuid() != 0:
        return (
            f"{CHROMIUM} is missing and installing it needs root: "
            f"run `apt-get install -y {' '.join(APT_PACKAGES)}` as root"
        )
    deadline = time.monotonic() + INSTALL_TIMEOUT_SECONDS
    with INSTALL_LOCK.open("w") as lock:
        # Another run may be installing right now: wait for it, within the same deadline.
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return f"timed out waiting for another run's chromium install ({INSTALL_LOCK})"
                time.sleep(1)
        try:
            if CHROMIUM.exists():  # the other run installed it
                return ""
            for arguments in (
                ["update"],
                ["install", "-y", "--no-install-recommends", *APT_PACKAGES],
            ):
                failure = _apt_get(apt_get, arguments, deadline=deadline)
                if failure:
                    return failure
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return "" if CHROMIUM.exists() else f"apt-get installed chromium but {CHROMIUM} is missing"


def _apt_get(apt_get: str, arguments: list[str], *, deadline: float) -> str:
    """Run apt-get; "" on success, else what went wrong (its last line of output)."""
    command = " ".join(["apt-get", *arguments])
    try:
        subprocess.run(
            # apt waits for its own lock (an unattended upgrade, say) instead of failing at once.
            [apt_get, "-o", "DPkg::Lock::Timeout=120", *arguments],
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            capture_output=True,
            text=True,
            check=True,
            timeout=max(1.0, deadline - time.monotonic()),
        )
    except subprocess.TimeoutExpired:
        return f"`{command}` did not finish within {INSTALL_TIMEOUT_SECONDS} s"
    except subprocess.CalledProcessError as error:
        last_line = ((error.stderr or error.stdout or "").strip().splitlines() or [""])[-1]
        return f"`{command}` failed with exit code {error.returncode}: {last_line}"
    return ""


@pytest.fixture(scope="session")
def chromium_path() -> str:
    reason = chromium_install()
    if reason:
        pytest.skip(f"browser tests need Chromium: {reason}")
    return str(CHROMIUM)


@pytest.fixture(scope="module")
def browser(chromium_path):
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with pytest.MonkeyPatch.context() as patch:
        # Playwright's sync API marks its event loop as running in this thread between calls
        # (it runs in a greenlet), which makes Django refuse ORM calls here as "async". The
        # test code is synchronous all the same; the flag lives only while this module's
        # browser does, and Playwright stops (clearing the loop) before it is removed.
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True
            )
            try:
                yield chromium
            finally:
                chromium.close()


# --- The app, the simulator and a worker ------------------------------------------------------


class _QuickStopWSGIServer(ThreadedWSGIServer):
    def serve_forever(self, poll_interval: float = 0.05):
        # socketserver checks for shutdown every 0.5 s by default; each test stops a server.
        super().serve_forever(poll_interval)


class ServerThread(LiveServerThread):
    """Django's live server, whose terminate() also waits for the requests in progress: a
    browser poll still writing when the test database is flushed could leak into the next test
    (its handler threads are daemons that server_close() does not join)."""

    server_class = _QuickStopWSGIServer

    def __init__(self, host: str):
        self._busy = 0
        self._idle = threading.Condition()
        super().__init__(host, self._counting_handler)
        self.daemon = True

    def _counting_handler(self, application):
        handler = StaticFilesHandler(application)

        def counted(environ, start_response):
            with self._idle:
                self._busy += 1
            try:
                return handler(environ, start_response)
            finally:
                with self._idle:
                    self._busy -= 1
                    self._idle.notify_all()

        return counted

    def terminate(self):
        super().terminate()
        with self._idle:
            if not self._idle.wait_for(lambda: self._busy == 0, timeout=10):
                raise RuntimeError("the test server still handles a request after 10 s")


class WorkerThread(threading.Thread):
    """`chatdesk worker` in miniature: runs the ready jobs of `queues`, on its own database
    connection."""

    def __init__(self, *, queues: list[str]):
        super().__init__(name="browser-test-worker", daemon=True)
        self.queues = queues
        self._stop_event = threading.Event()
        self.error: BaseException | None = None

    def run(self):
        try:
            while not self._stop_event.is_set():
                if not drain(queues=self.queues, worker_id="browser-test-worker"):
                    self._stop_event.wait(0.1)
        except BaseException as error:
            self.error = error
        finally:
            connections.close_all()

    def stop(self):
        self._stop_event.set()
        self.join(timeout=10)


@pytest.fixture
def live(transactional_db, tmp_path, settings, monkeypatch) -> Iterator[LiveApp]:
    monkeypatch.setattr("chatdesk.inbox.views.POLL_SECONDS", POLL_SECONDS)
    with _every_thread_on_its_own_connection(tmp_path):
        server = ServerThread("127.0.0.1")
        server.start()
        server.is_ready.wait(timeout=10)
        if server.error:
            raise server.error
        url = f"http://127.0.0.1:{server.port}"
        worker = None
        simulator = None
        try:
            # "Send test event" posts to APP_BASE_URL, as it would in production.
            settings.APP_BASE_URL = url
            demo = demo_seed()
            simulator = Simulator(channels=[sim_channel(demo.channel)], app_url=url, port=0)
            simulator.start()
            settings.SIMULATOR_ENABLED = True
            settings.ENV = settings.ENV.model_copy(update={"SIMULATOR_URL": simulator.url})
            # Delivery only: processing inbound messages is where the assistant answers and
            # may escalate or pause a conversation; these tests are about what staff do, so
            # no assistant decision changes a conversation under them.
            worker = WorkerThread(queues=["outbound"])
            worker.start()
            yield LiveApp(url=url, demo=demo, simulator=simulator)
        finally:
            if worker is not None:
                worker.stop()
            if simulator is not None:
                simulator.stop()
            server.terminate()
        if worker.error is not None:
            raise worker.error


# --- Pages ------------------------------------------------------------------------------------


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.browser_test_failed = report.failed
    return report


def screenshot_path(name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.]+', '-', name).strip('-')}.png"


@pytest.fixture
def screenshot(request):
    """screenshot(page, suffix="") saves `<test>[-suffix].png` under test-artifacts/."""

    def take(page, suffix: str = "") -> Path:
        path = screenshot_path(f"{request.node.name}-{suffix}")
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def new_page(browser, request):
    """new_page(viewport=DESKTOP) -> a page in a fresh browser context (its own cookies)."""
    contexts = []

    def open_page(viewport: dict = DESKTOP):
        phone = viewport["width"] < 600
        context = browser.new_context(viewport=viewport, is_mobile=phone, has_touch=phone)
        context.set_default_timeout(EXPECT_TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield open_page
    if getattr(request.node, "browser_test_failed", False):
        for number, page in enumerate(p for context in contexts for p in context.pages):
            with contextlib.suppress(PlaywrightError):  # a crashed page has no picture
                path = screenshot_path(f"{request.node.name}-failed-{number}")
                page.screenshot(path=str(path), full_page=True)
    for context in contexts:
        context.close()


@pytest.fixture
def agent_page(live, new_page):
    """A desktop page signed in as the demo owner, on the demo workspace's home page."""
    page = new_page()
    sign_in_directly(page, live)
    page.goto(live.path("/"))
    expect(page).to_have_url(live.path(f"/w/{live.demo.workspace.slug}/"))
    return page
