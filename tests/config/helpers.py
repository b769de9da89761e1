"""Environments and a subprocess runner for the configuration tests.

Process-start behaviour (refusing to start, exit codes, what reaches the terminal) is tested by
running `python -m chatdesk` with a minimal, fully controlled environment: PATH, HOME, the
settings module, and the variables of the case. Everything else calls functions directly.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

# Fixed, valid Fernet keys (32 url-safe base64 bytes). Not used anywhere but these tests.
FERNET_KEY = "Y2hhdGRlc2sgdGVzdHM6IGN1cnJlbnQga2V5IDAwMDE="
FERNET_KEY_OLD = "Y2hhdGRlc2sgdGVzdHM6IHByZXZpb3VzIGtleSAwMDI="

# Nothing listens on port 1 of the loopback address: a connection attempt fails at once.
VALID_PRODUCTION = {
    "APP_ENV": "production",
    "SECRET_KEY": "Zq8vN3kLw9Xr2Tf7Yp4Hm6Jc1Bd5Gs0Ua8Ke3Wn7Rx2Vy9Lq4Pt6Mh1Cj5Fb0Oz",
    "DATABASE_URL": "postgres://chatdesk:Pg-pass-4711@127.0.0.1:1/chatdesk",
    "REDIS_URL": "redis://127.0.0.1:1/0",
    "APP_BASE_URL": "https://crm.example.com",
    "ALLOWED_HOSTS": "crm.example.com",
    "ENCRYPTION_KEYS": FERNET_KEY,
    "EMAIL_PROVIDER": "resend",
    "RESEND_API_KEY": "re_Resend0123456789abcdef",
    "DEFAULT_FROM_EMAIL": "chatdesk <noreply@example.com>",
}

PRODUCTION_DEFAULTS = {"APP_ENV": "production"}

# The variables production requires; with only APP_ENV=production each is reported missing.
REQUIRED_IN_PRODUCTION = (
    "SECRET_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "APP_BASE_URL",
    "ALLOWED_HOSTS",
    "ENCRYPTION_KEYS",
    "RESEND_API_KEY",
    "DEFAULT_FROM_EMAIL",
)


def run_chatdesk(*args: str, env: dict[str, str], python: list[str] | None = None):
    """Run `python -m chatdesk ARGS` (or `python PYTHON...`) with exactly `env` plus the basics."""
    process_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "PYTHONPATH": str(REPO_ROOT / "src"),
        "DJANGO_SETTINGS_MODULE": "chatdesk.config.settings",
        **env,
    }
    command = [sys.executable, *(python or ["-m", "chatdesk", *args])]
    return subprocess.run(
        command,
        env=process_env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def output_of(result) -> str:
    return result.stdout + result.stderr
