import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _clear_cache():
    # The cache may be Redis (CI's second pass); rate-limit counters must not leak between tests.
    cache.clear()
    yield
    cache.clear()
