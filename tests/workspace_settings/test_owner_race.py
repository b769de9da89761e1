"""Two owners demoting each other at the same instant: the owner rows are locked while the
"another owner remains" rule is checked, so at most one succeeds and the workspace keeps an
owner. (Each thread needs its own database connection: PostgreSQL only; in-memory SQLite shares
one connection between threads.)"""

import contextlib
import threading

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection

from chatdesk.audit.services import audit_system_actor
from chatdesk.tenancy.models import Membership, Role
from chatdesk.tenancy.services import membership_create
from chatdesk.workspace_settings import services
from chatdesk.workspace_settings.services import TeamRuleError, membership_role_change
from tests.tenancy.factories import user_make, world_make

ON_SQLITE = settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")


@pytest.mark.skipif(ON_SQLITE, reason="needs one database connection per thread (PostgreSQL)")
@pytest.mark.django_db(transaction=True)
def test_two_owners_demoting_each_other_at_once_leave_one_owner(monkeypatch):
    world = world_make("race")
    second = user_make("second-owner@example.com")
    membership_create(workspace=world.workspace, user=second, role=Role.OWNER)
    first = Membership.objects.for_workspace(world.workspace).get(user=world.owner)
    other = Membership.objects.for_workspace(world.workspace).get(user=second)

    # Both threads meet after reading the owners and before deciding: without the lock both
    # would see two owners and both demotions would pass. With it, the second thread cannot
    # read until the first commits, the meeting times out, and the second sees one owner.
    barrier = threading.Barrier(2)
    real_member_locked = services._member_locked

    def member_locked_then_meet(**kwargs):
        member = real_member_locked(**kwargs)
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=2)
        return member

    monkeypatch.setattr(services, "_member_locked", member_locked_then_meet)
    outcomes: list[str] = []

    def demote(target: Membership, by: Membership):
        try:
            membership_role_change(
                membership=target, role=Role.ADMIN, by=by, actor=audit_system_actor("race")
            )
            outcomes.append("demoted")
        except (TeamRuleError, PermissionDenied):
            # The last owner rule, or the actor's own role already taken away by the other.
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=demote, args=(other, first)),
        threading.Thread(target=demote, args=(first, other)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["demoted", "refused"]
    owners = Membership.objects.for_workspace(world.workspace).filter(role=Role.OWNER)
    assert owners.count() == 1
