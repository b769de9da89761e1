"""Shared by the devtools tests: a valid production environment and subprocess runners."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Passes every production rule of the settings schema (nothing local, nothing test-looking).
PRODUCTION_ENV = {
    "APP_ENV": "production",
    "SECRET_KEY": "Xk2v9Qp7Lm4Rt8Wz1Nb6Hc3Jd5Fg0Ys7Ua2Ie9Ow4Pq1Lr8Tk3Mz6Vb5Nc0Xa7Sd",
    "DATABASE_URL": "postgres://chatdesk:pw@db.internal.example.com:5432/chatdesk",
    "REDIS_URL": "redis://cache.internal.example.com:6379/0",
    "APP_BASE_URL": "https://crm.example.com",
    "ALLOWED_HOSTS": "crm.example.com",
    "ENCRYPTION_KEYS": "q8mJ1ZkK3f0b1c6B5lW8oY4tqjz3r8Fv0Qp2XhN6dHo=",
    "EMAIL_PROVIDER": "resend",
    "RESEND_API_KEY": "re_live_abcdefghijklmnop",
    "DEFAULT_FROM_EMAIL": "chatdesk <noreply@example.com>",
}


def base_env(env: dict[str, str]) -> dict[str, str]:
    """Only what a process needs plus `env`: nothing leaks in from the test runner's own env."""
    base = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    return {**base, **env, "DJANGO_SETTINGS_MODULE": "chatdesk.config.settings"}


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        env=base_env(env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def run_chatdesk(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "chatdesk", *args],
        env=base_env(env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check: Callable[[], object], *, timeout: float = 10.0, what: str = "it") -> object:
    """Poll `check` until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)
