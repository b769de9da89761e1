import pytest

from tests.accounts.helpers import user_create


@pytest.fixture
def alice(db):
    return user_create(email="alice@example.com")
