"""Two workspaces (an owner, an admin and an agent each, from tests/tenancy) and their channels."""

import pytest

from chatdesk.messaging.models import ChannelKind
from tests.factories import make_channel
from tests.tenancy.factories import TenantWorld, world_make


@pytest.fixture
def world_a(db) -> TenantWorld:
    return world_make("alpha")


@pytest.fixture
def world_b(db) -> TenantWorld:
    return world_make("beta")


@pytest.fixture
def meta_channel(world_a):
    return make_channel(world_a.workspace, kind=ChannelKind.META)


@pytest.fixture
def kapso_channel(world_a):
    return make_channel(world_a.workspace, kind=ChannelKind.KAPSO)
