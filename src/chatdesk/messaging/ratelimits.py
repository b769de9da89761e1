"""Outbound send limits, shared by every worker through the `limits` storage (Redis in
production; process memory is development-only and production refuses it via REDIS_URL).

Rules are `(seconds, count)` pairs in settings.OUTBOUND_RATE_LIMITS (Zulip's style):
- "number": the business number's throughput (Meta default 80 msg/s);
- "pair":   one customer, about 1 message per 6 s with bursts up to 45.
A send over a limit is not refused: its job is retried when the window frees up.
"""

from __future__ import annotations

import functools
import time

from django.conf import settings
from limits import RateLimitItemPerSecond
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter


@functools.cache
def _limiter(uri: str) -> MovingWindowRateLimiter:
    return MovingWindowRateLimiter(storage_from_string(uri))


def limiter() -> MovingWindowRateLimiter:
    return _limiter(settings.RATE_LIMIT_STORAGE_URI)


def _items(kind: str) -> list[RateLimitItemPerSecond]:
    return [
        RateLimitItemPerSecond(count, seconds)
        for seconds, count in settings.OUTBOUND_RATE_LIMITS[kind]
    ]


def send_slot_acquire(*, phone_number_id: str, wa_id: str) -> float:
    """Take one send slot for this number and customer. 0 when taken, else seconds to wait.

    Every limit is tested before any is consumed, so a send refused by the pair limit does not
    use up the number's throughput. Each hit is itself atomic in the storage: when concurrent
    workers race for the last slot, the loser is told to wait too (the slots it took before
    losing are lost, which errs on the side of sending less).
    """
    rules = [(item, ("number", phone_number_id)) for item in _items("number")]
    rules += [(item, ("pair", phone_number_id, wa_id)) for item in _items("pair")]
    rate_limiter = limiter()
    for item, key in rules:
        if not rate_limiter.test(item, *key):
            return _wait(rate_limiter, item, key)
    for item, key in rules:
        if not rate_limiter.hit(item, *key):
            return _wait(rate_limiter, item, key)
    return 0.0


def _wait(rate_limiter: MovingWindowRateLimiter, item: RateLimitItemPerSecond, key) -> float:
    reset_at = rate_limiter.get_window_stats(item, *key).reset_time
    return max(0.5, reset_at - time.time())
