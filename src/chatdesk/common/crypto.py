"""Symmetric encryption for secrets at rest: MultiFernet over `settings.ENCRYPTION_KEYS`.

The first key encrypts; every key decrypts. Rotating keys is therefore: put the new key first and
keep the old one after it, run `chatdesk rotate-encryption-keys`, then drop the old key.

Errors never include a key, a token or a plaintext: they end up in logs and terminals.
"""

from __future__ import annotations

import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

NO_KEY_CAN_DECRYPT = (
    "none of ENCRYPTION_KEYS can decrypt it: it was encrypted with a key that is no longer "
    "configured, or the stored value is corrupt. If a key was rotated out too early, add the old "
    "key back to ENCRYPTION_KEYS after the current one (ENCRYPTION_KEYS=<current>,<old>), run "
    "`chatdesk rotate-encryption-keys`, and only then remove the old key"
)


class DecryptionError(Exception):
    """A stored secret cannot be decrypted with any configured key (never silent garbage)."""


def configured_keys() -> tuple[str, ...]:
    keys = settings.ENCRYPTION_KEYS
    if isinstance(keys, str):
        # Accept the environment's comma-separated form too (handy in overrides and shells).
        keys = keys.split(",")
    keys = tuple(key.strip() for key in keys if key and key.strip())
    if not keys:
        raise ImproperlyConfigured(
            "ENCRYPTION_KEYS is empty: set at least one Fernet key "
            "(generate one with `chatdesk generate-key`)"
        )
    return keys


# Keyed on the keys themselves, so a changed setting (tests, a reloaded configuration) builds a
# new MultiFernet instead of silently using the old keys.
@functools.lru_cache(maxsize=4)
def _fernets(keys: tuple[str, ...]) -> tuple[MultiFernet, Fernet]:
    """The MultiFernet over every key, and the current key's Fernet on its own."""
    fernets = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key))
        except (ValueError, TypeError):
            raise ImproperlyConfigured(
                f"ENCRYPTION_KEYS key #{position} is not a valid Fernet key (32 url-safe "
                "base64-encoded bytes); generate one with `chatdesk generate-key`"
            ) from None
    return MultiFernet(fernets), fernets[0]


def multi_fernet() -> MultiFernet:
    return _fernets(configured_keys())[0]


def current_fernet() -> Fernet:
    return _fernets(configured_keys())[1]


def encrypt_str(value: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"encrypt_str() takes a str, not {type(value).__name__}")
    return multi_fernet().encrypt(value.encode("utf-8")).decode("ascii")


def _token_bytes(token: str) -> bytes:
    if not isinstance(token, str):
        raise TypeError(f"expected a Fernet token as str, not {type(token).__name__}")
    try:
        return token.encode("ascii")
    except UnicodeEncodeError:
        # Fernet tokens are url-safe base64; anything else was never one of ours.
        raise DecryptionError(NO_KEY_CAN_DECRYPT) from None


def decrypt_str(token: str) -> str:
    try:
        plaintext = multi_fernet().decrypt(_token_bytes(token))
    except InvalidToken:
        # `from None`: the cryptography traceback adds nothing and must not carry the token.
        raise DecryptionError(NO_KEY_CAN_DECRYPT) from None
    return plaintext.decode("utf-8")


def rotate_str(token: str) -> str | None:
    """Return `token` re-encrypted with the current key, or None when it already uses it.

    Raises DecryptionError when no configured key can decrypt it.
    """
    raw = _token_bytes(token)
    try:
        current_fernet().decrypt(raw)
    except InvalidToken:
        pass
    else:
        return None
    try:
        return multi_fernet().rotate(raw).decode("ascii")
    except InvalidToken:
        raise DecryptionError(NO_KEY_CAN_DECRYPT) from None
