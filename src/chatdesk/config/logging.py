"""Logging configuration: JSON in production, readable text in development, secrets redacted.

One handler on the root logger writes to stdout; every other logger (Django's, gunicorn's,
django-tasks-db's, ours) propagates to it, so each line passes the same two filters: the request
id, then redaction. The filters sit on the handler, not on loggers, because a logger's filters
do not see records that merely propagate through it.
"""

from __future__ import annotations

import logging
from typing import IO, Any

FORMATS = ("json", "text")

# Loggers that install their own handlers (or that Django's defaults give handlers): configured
# here with none, so they propagate to the root handler instead of printing twice or unfiltered.
_PROPAGATING_LOGGERS = (
    "django.request",
    "django.security",
    "django.server",
    "django.tasks",
    "django_tasks_db",
    "gunicorn.error",
    "gunicorn.access",
    "chatdesk",
)


def build_logging_config(
    *, level: str, fmt: str, stream: IO[str] | str = "ext://sys.stdout"
) -> dict[str, Any]:
    """A `dictConfig` dictionary. `fmt` is "json" or "text"; `stream` is for tests."""
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    level = level.upper()
    levelno = logging.getLevelNamesMapping().get(level)
    if levelno is None:
        raise ValueError(f"unknown log level {level!r}")
    # Django's DEBUG-level loggers (SQL with parameters, template variable lookups, autoreload)
    # are noise and can carry data; they stay at INFO even when the application logs DEBUG.
    django_level = level if levelno >= logging.INFO else "INFO"
    loggers: dict[str, dict[str, Any]] = {
        "django": {"handlers": [], "level": django_level, "propagate": True},
    }
    for name in _PROPAGATING_LOGGERS:
        loggers[name] = {"handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": "chatdesk.ops.logging.RequestIdFilter"},
            "redact": {"()": "chatdesk.ops.redaction.RedactionFilter"},
        },
        "formatters": {
            "text": {"()": "chatdesk.ops.logging.TextFormatter"},
            "json": {"()": "chatdesk.ops.logging.JsonFormatter"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "stream": stream,
                "formatter": fmt,
                # Order matters: the id is set first, then everything is redacted.
                "filters": ["request_id", "redact"],
            },
        },
        "loggers": loggers,
        "root": {"handlers": ["console"], "level": level},
    }
