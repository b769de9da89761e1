"""HMAC-SHA256 webhook signatures over the raw request bytes, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable


def hmac_sha256_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_matches(*, body: bytes, received: str, secrets: Iterable[str | None]) -> bool:
    """True when `received` (hex digest) matches the HMAC of `body` under any given secret.

    Several secrets are accepted during a rotation. Every secret is tried even after a match so
    the timing does not reveal which one matched.
    """
    received = (received or "").strip().lower()
    if not received:
        return False
    matched = False
    for secret in secrets:
        if secret:
            expected = hmac_sha256_hex(secret, body)
            matched |= hmac.compare_digest(expected, received)
    return matched
