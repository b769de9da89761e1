"""Keys and helpers for the secrets-at-rest tests."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet


@pytest.fixture
def key_a() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def key_b() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def keys(settings):
    """Set ENCRYPTION_KEYS for the rest of the test: `keys(current, *older)`."""

    def use(*encryption_keys: str) -> None:
        settings.ENCRYPTION_KEYS = list(encryption_keys)

    return use
