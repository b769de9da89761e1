"""Log filters and formatters: a request id on every record, JSON or one-line text output.

Both formatters redact their output again (see `chatdesk.ops.redaction`): `extra` objects are
only turned into text here, after the filter ran.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pythonjsonlogger.json import JsonEncoder
from pythonjsonlogger.json import JsonFormatter as _BaseJsonFormatter

from chatdesk.ops.redaction import record_extra_names, redact_text, redact_value
from chatdesk.ops.request_id import REQUEST_ID_HEADER, get_request_id, request_id_is_sane

NO_REQUEST_ID = "-"


class RequestIdFilter(logging.Filter):
    """Sets `record.request_id`: the current request or job id, else "-"."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            request_id = get_request_id()
            if request_id is None:
                # django.request and django.security pass the request in `extra`; their
                # "Not Found"/"Forbidden" lines are logged after our middleware returned.
                request_id = getattr(getattr(record, "request", None), "request_id", None)
            if request_id is None and record.name == "gunicorn.access":
                # gunicorn logs the access line after the response left Django; its atoms
                # (the record's args) hold the response headers, ours included.
                request_id = _gunicorn_response_request_id(record.args)
            record.request_id = request_id if isinstance(request_id, str) else NO_REQUEST_ID
        except Exception:
            record.request_id = NO_REQUEST_ID
        return True


def _gunicorn_response_request_id(args: object) -> str | None:
    if not isinstance(args, Mapping):
        return None
    value = args.get(f"{{{REQUEST_ID_HEADER.lower()}}}o")
    return value if request_id_is_sane(value) else None


def _describe(value: object) -> object:
    """A loggable stand-in for objects passed in `extra` (a request becomes "GET /path")."""
    method = getattr(value, "method", None)
    get_full_path = getattr(value, "get_full_path", None)
    if isinstance(method, str) and callable(get_full_path):
        return f"{method} {get_full_path()}"
    return value


def _record_extras(record: logging.LogRecord) -> dict[str, Any]:
    extras = {}
    for name in record_extra_names(record):
        value = _describe(record.__dict__[name])
        # django.server (runserver) passes its socket as `request`: noise, not data.
        if name == "request" and not isinstance(value, str):
            continue
        if name == "server_time":
            continue
        extras[name] = value
    return extras


class TextFormatter(logging.Formatter):
    """`2026-11-27 10:00:00 INFO chatdesk.x [req=ab12…] message key=value`, times in UTC.

    The line itself never spans lines (newlines in the message are escaped, so a value cannot
    forge a second log line); a traceback follows on the next lines.
    """

    converter = time.gmtime
    default_time_format = "%Y-%m-%d %H:%M:%S"
    default_msec_format = None

    def format(self, record: logging.LogRecord) -> str:
        try:
            return redact_text(self._format(record))
        except Exception as exc:
            name = getattr(record, "name", "?")
            return f"log record from {name} could not be formatted ({type(exc).__name__})"

    def _format(self, record: logging.LogRecord) -> str:
        message = _one_line(record.getMessage())
        request_id = getattr(record, "request_id", NO_REQUEST_ID)
        parts = [
            self.formatTime(record),
            record.levelname,
            record.name,
            f"[req={request_id}]",
            message,
        ]
        parts.extend(f"{k}={_text_value(v)}" for k, v in _record_extras(record).items())
        line = " ".join(parts)
        if record.exc_info and not record.exc_text:
            record.exc_text = redact_text(self.formatException(record.exc_info))
        if record.exc_text:
            line = f"{line}\n{record.exc_text}"
        if record.stack_info:
            line = f"{line}\n{self.formatStack(record.stack_info)}"
        return line


def _one_line(text: str) -> str:
    return text.replace("\r", "\\r").replace("\n", "\\n")


def _text_value(value: object) -> str:
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, default=str, ensure_ascii=False)
        except Exception:
            text = str(value)
    if not text or any(c.isspace() or c in "\"'=" for c in text):
        return json.dumps(text, ensure_ascii=False)  # quoted, with newlines escaped
    return text


class _RedactingJsonEncoder(JsonEncoder):
    # Objects that are not JSON types are turned into text only here, at the last moment.
    def default(self, o: Any) -> Any:
        return redact_value(super().default(_describe(o)))


class JsonFormatter(_BaseJsonFormatter):
    """One JSON object per line: timestamp (ISO-8601, UTC), level, logger, message, request_id,
    then the record's `extra` fields, and `exc_info` / `stack_info` when present."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("fmt", "{levelname}{name}{message}{request_id}")
        kwargs.setdefault("style", "{")
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("json_encoder", _RedactingJsonEncoder)
        super().__init__(*args, **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        try:
            return super().format(record)
        except Exception as exc:
            return json.dumps(
                {
                    "timestamp": _utc_iso(record),
                    "level": getattr(record, "levelname", "ERROR"),
                    "logger": getattr(record, "name", ""),
                    "message": "log record could not be formatted",
                    "error": type(exc).__name__,
                    "request_id": getattr(record, "request_id", NO_REQUEST_ID),
                }
            )

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        log_data["timestamp"] = _utc_iso(record)
        super().add_fields(log_data, record, message_dict)
        if "request" in log_data:
            request = _describe(log_data.pop("request"))
            if isinstance(request, str):  # an HttpRequest; runserver's socket is dropped
                log_data["request"] = request
        log_data.pop("server_time", None)
        if log_data.get("request_id") is None:
            log_data["request_id"] = NO_REQUEST_ID

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        redacted = redact_value(log_data)
        assert isinstance(redacted, dict)
        return redacted

    def formatException(self, ei: Any) -> str:
        return redact_text(str(super().formatException(ei)))

    def formatStack(self, stack_info: str) -> str:
        return redact_text(str(super().formatStack(stack_info)))


def _utc_iso(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds")
