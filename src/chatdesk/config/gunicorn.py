"""gunicorn settings for `chatdesk web` (the same values deploy/gunicorn.conf.py documents)."""

from __future__ import annotations

import os


def default_workers() -> int:
    # 2 x cores + 1 is gunicorn's guidance for sync workers; the webhook views are short and
    # I/O-bound (one transaction each), so threads add capacity cheaply.
    return 2 * (os.cpu_count() or 1) + 1


def build_argv(*, bind: str, workers: int | None = None, reload: bool = False) -> list[str]:
    argv = [
        "chatdesk.config.wsgi:application",
        "--bind",
        bind,
        "--workers",
        str(workers or default_workers()),
        "--threads",
        "4",
        "--worker-class",
        "gthread",
        "--timeout",
        "30",
        "--graceful-timeout",
        "20",
        "--keep-alive",
        "5",
        "--max-requests",
        "5000",
        "--max-requests-jitter",
        "500",
        "--access-logfile",
        "-",
    ]
    if reload:
        argv.append("--reload")
    return argv
