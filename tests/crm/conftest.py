import pytest

from tests.tenancy.factories import TenantWorld, world_make


@pytest.fixture
def world_a(db) -> TenantWorld:
    return world_make("alpha")


@pytest.fixture
def world_b(db) -> TenantWorld:
    return world_make("beta")
