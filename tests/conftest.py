import pytest
from django.conf import settings
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _clear_shared_cache():
    # Rate-limit counters live in the shared cache. The database cache is rolled back with each
    # test; Redis (CI's second pass) is not, so it is emptied between tests.
    if "redis" in settings.CACHES["default"]["BACKEND"].lower():
        cache.clear()
    yield
