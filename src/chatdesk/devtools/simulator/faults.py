"""Fault injection settings (`POST /control/faults`), validated with clear errors.

Example: `{"duplicates": 3, "reorder": true, "delay_ms": 200, "errors": ["130429", {"code":
"131047", "mode": "async"}, {"code": "timeout", "seconds": 12}], "throughput_per_second": 5}`.
Keys not given keep their value; `errors` replaces the queue of errors for the next sends.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from chatdesk.devtools.simulator.payloads import PROVIDER_CODES

# Besides Meta's codes: plain HTTP failures, a 429 with Retry-After, and a request held longer than
# chatdesk's read timeout (10 s) before it is accepted anyway (the outcome the client cannot know).
HTTP_FAULTS = ("http_500", "http_503", "http_429", "timeout")
ERROR_KINDS = (*PROVIDER_CODES, *HTTP_FAULTS)
STATUSES = ("sent", "delivered", "read")
DEFAULT_TIMEOUT_SECONDS = 12.0


class FaultError(ValueError):
    """An invalid fault request; the message says what is allowed."""


@dataclass(frozen=True)
class ErrorFault:
    kind: str  # a key of ERROR_KINDS
    # "sync": the send is refused in the HTTP answer. "async": it is accepted, then reported
    # `failed` by webhook (how Meta reports 131047 and 131026 in practice).
    mode: str = "sync"
    seconds: float = DEFAULT_TIMEOUT_SECONDS  # "timeout" only

    def public(self) -> dict:
        data: dict[str, Any] = {"code": self.kind, "mode": self.mode}
        if self.kind == "timeout":
            data["seconds"] = self.seconds
        return data


@dataclass
class Faults:
    duplicates: int = 1  # every webhook is delivered this many times, byte for byte
    reorder: bool = False  # shuffle the status webhooks of each send
    delay_ms: int = 0  # wait before emitting any webhook
    status_interval_ms: int = 150  # between a send's status webhooks
    statuses: tuple[str, ...] = STATUSES  # which statuses a successful send reports
    errors: deque[ErrorFault] = field(default_factory=deque)  # consumed by the next sends
    throughput_per_second: int | None = None  # per business number; 130429 above it
    pair_per_minute: int | None = None  # per business number and customer; 131056 above it

    def public(self) -> dict:
        return {
            "duplicates": self.duplicates,
            "reorder": self.reorder,
            "delay_ms": self.delay_ms,
            "status_interval_ms": self.status_interval_ms,
            "statuses": list(self.statuses),
            "errors": [e.public() for e in self.errors],
            "throughput_per_second": self.throughput_per_second,
            "pair_per_minute": self.pair_per_minute,
        }


def _int(data: dict, key: str, low: int, high: int, *, nullable: bool = False) -> int | None:
    value = data[key]
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        extra = " or null" if nullable else ""
        raise FaultError(f"{key} must be an integer from {low} to {high}{extra}")
    return value


def _error(item: Any) -> list[ErrorFault]:
    if isinstance(item, str | int) and not isinstance(item, bool):
        item = {"code": item}
    if not isinstance(item, dict):
        raise FaultError('each error is a code ("130429") or {"code": ..., "mode": ..., ...}')
    unknown = set(item) - {"code", "mode", "seconds", "times"}
    if unknown:
        raise FaultError(f"unknown error field(s): {', '.join(sorted(unknown))}")
    kind = str(item.get("code", ""))
    if kind not in ERROR_KINDS:
        raise FaultError(f"error code must be one of: {', '.join(ERROR_KINDS)}")
    mode = item.get("mode", "sync")
    if mode not in ("sync", "async"):
        raise FaultError('error mode must be "sync" or "async"')
    if mode == "async" and kind not in PROVIDER_CODES:
        raise FaultError("only provider codes can be reported asynchronously")
    seconds = item.get("seconds", DEFAULT_TIMEOUT_SECONDS)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 < seconds <= 120:
        raise FaultError("seconds must be a number above 0 and at most 120")
    times = item.get("times", 1)
    if isinstance(times, bool) or not isinstance(times, int) or not 1 <= times <= 100:
        raise FaultError("times must be an integer from 1 to 100")
    return [ErrorFault(kind=kind, mode=mode, seconds=float(seconds))] * times


def faults_update(current: Faults, data: Any) -> Faults:
    """A new Faults: `current` with the keys of `data` applied. Raises FaultError."""
    if not isinstance(data, dict):
        raise FaultError("send a JSON object")
    allowed = set(Faults.__dataclass_fields__)
    unknown = set(data) - allowed
    if unknown:
        raise FaultError(
            f"unknown key(s): {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(allowed))}"
        )
    faults = Faults(**{**current.__dict__, "errors": deque(current.errors)})
    if "duplicates" in data:
        faults.duplicates = _int(data, "duplicates", 1, 20)
    if "reorder" in data:
        if not isinstance(data["reorder"], bool):
            raise FaultError("reorder must be true or false")
        faults.reorder = data["reorder"]
    if "delay_ms" in data:
        faults.delay_ms = _int(data, "delay_ms", 0, 60_000)
    if "status_interval_ms" in data:
        faults.status_interval_ms = _int(data, "status_interval_ms", 0, 10_000)
    if "statuses" in data:
        statuses = data["statuses"]
        if not isinstance(statuses, list) or not set(statuses) <= set(STATUSES):
            raise FaultError(f"statuses must be a list of: {', '.join(STATUSES)}")
        faults.statuses = tuple(dict.fromkeys(statuses))
    if "errors" in data:
        if not isinstance(data["errors"], list) or len(data["errors"]) > 100:
            raise FaultError("errors must be a list of at most 100 items")
        faults.errors = deque(fault for item in data["errors"] for fault in _error(item))
    if "throughput_per_second" in data:
        faults.throughput_per_second = _int(data, "throughput_per_second", 1, 1000, nullable=True)
    if "pair_per_minute" in data:
        faults.pair_per_minute = _int(data, "pair_per_minute", 1, 1000, nullable=True)
    return faults
