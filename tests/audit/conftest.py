"""Two workspaces (an owner, an admin and an agent each, from tests/tenancy) and their channels."""

import pytest

from tests.tenancy.factories import TenantWorld, world_make


@pytest.fixture
def world_a(db) -> TenantWorld:
    return world_make("alpha")


@pytest.fixture
def world_b(db) -> TenantWorld:
    return world_make("beta")
