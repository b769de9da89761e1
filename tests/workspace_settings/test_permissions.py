"""Who may open Settings: admins and owners. Agents get 403 everywhere, other workspaces 404."""

import pytest

from chatdesk.audit.models import AuditEvent
from chatdesk.messaging.models import Channel
from chatdesk.tenancy.models import Invitation, Membership, Role
from tests.factories import make_channel
from tests.workspace_settings.helpers import settings_url, settings_url_names, url

pytestmark = pytest.mark.django_db


def _state(world):
    """What any settings action could change in a workspace."""
    channels = Channel.objects.for_workspace(world.workspace).order_by("pk")
    return (
        sorted(Membership.objects.for_workspace(world.workspace).values_list("pk", "role")),
        sorted(Invitation.objects.for_workspace(world.workspace).values_list("pk", "revoked_at")),
        [(c.pk, c.is_active, c.signing_secret, c.api_token, c.verify_token) for c in channels],
        AuditEvent.objects.for_workspace(world.workspace).count(),
    )


@pytest.mark.parametrize("method", ["get", "post"])
def test_agent_gets_403_on_every_settings_url_and_nothing_changes(client, world_a, method):
    make_channel(world_a.workspace)
    before = _state(world_a)
    client.force_login(world_a.agent)
    for name in settings_url_names():
        path = settings_url(name, world_a)
        data = {"role": "owner", "active": "false", "channel-1-api_token": "x" * 20}
        response = getattr(client, method)(path, data)
        assert response.status_code == 403, f"{method.upper()} {path} as agent"
    assert _state(world_a) == before


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("method", ["get", "post"])
def test_member_of_another_workspace_gets_404_on_every_settings_url(
    client, world_a, world_b, role, method
):
    make_channel(world_b.workspace)
    before = _state(world_b)
    client.force_login(world_a.user(role))
    for name in settings_url_names():
        path = settings_url(name, world_b)
        response = getattr(client, method)(path, {"role": "agent", "active": "false"})
        assert response.status_code == 404, f"{method.upper()} {path} as {role} of A"
    assert _state(world_b) == before


@pytest.mark.parametrize("role", [Role.ADMIN, Role.OWNER])
@pytest.mark.parametrize("page", ["team", "integrations", "audit"])
def test_admins_and_owners_open_every_settings_page(client, world_a, role, page):
    client.force_login(world_a.user(role))
    assert client.get(url(page, world_a)).status_code == 200


def test_settings_index_goes_to_the_team_page(client, world_a):
    client.force_login(world_a.admin)
    response = client.get(url("index", world_a))
    assert response.status_code == 302
    assert response["Location"] == url("team", world_a)


def test_the_top_bar_offers_settings_to_admins_but_not_to_agents(client, world_a):
    settings_link = f'href="{url("index", world_a)}"'
    client.force_login(world_a.admin)
    assert settings_link in client.get(f"/w/{world_a.workspace.slug}/").content.decode()
    client.force_login(world_a.agent)
    assert settings_link not in client.get(f"/w/{world_a.workspace.slug}/").content.decode()


@pytest.mark.parametrize(
    "action",
    [
        "channel-active",
        "channel-credentials",
        "channel-rotation-finish",
        "channel-verify-token",
        "channel-test-event",
    ],
)
def test_channel_ids_of_another_workspace_are_404_inside_your_own(
    client, world_a, world_b, action, settings
):
    settings.APP_BASE_URL = "http://127.0.0.1:9"  # a test event must not reach anything
    foreign = make_channel(world_b.workspace)
    foreign.previous_signing_secret = "previous-secret-of-b-0001"
    foreign.save()
    before = _state(world_b)
    client.force_login(world_a.owner)
    response = client.post(
        url(action, world_a, channel_id=foreign.pk),
        {"active": "false", f"channel-{foreign.pk}-api_token": "stolen-token-value-123"},
    )
    assert response.status_code == 404
    assert _state(world_b) == before
    assert not AuditEvent.objects.for_workspace(world_a.workspace).exists()


@pytest.mark.parametrize("action", ["member-role", "member-remove"])
def test_member_ids_of_another_workspace_are_404_inside_your_own(client, world_a, world_b, action):
    foreign = Membership.objects.for_workspace(world_b.workspace).get(user=world_b.agent)
    before = _state(world_b)
    client.force_login(world_a.owner)
    response = client.post(url(action, world_a, membership_id=foreign.pk), {"role": "admin"})
    assert response.status_code == 404
    assert _state(world_b) == before


def test_invitation_ids_of_another_workspace_are_404_inside_your_own(client, world_a, world_b):
    client.force_login(world_a.owner)
    response = client.post(
        url("team-invitation-revoke", world_a, invitation_id=world_b.invitation.pk)
    )
    assert response.status_code == 404
    world_b.invitation.refresh_from_db()
    assert world_b.invitation.is_pending
