"""A member of workspace A must learn nothing about workspace B: every B URL is a 404 for them."""

import pytest

from chatdesk.tenancy.models import Invitation, Role
from tests.tenancy.tenant_urls import SAMPLE_KWARGS, tenant_url, tenant_urls


def test_every_tenant_url_has_sample_arguments():
    urls = tenant_urls()
    assert urls, "no URL pattern with workspace_slug found: the walker is broken"
    unnamed = [u.route for u in urls if u.name is None]
    assert not unnamed, f"tenant URL patterns need a name: {unnamed}"
    missing = sorted(u.name for u in urls if u.name not in SAMPLE_KWARGS)
    assert not missing, (
        f"add sample kwargs for {missing} to tests/tenancy/tenant_urls.py SAMPLE_KWARGS "
        "so the cross-workspace tests cover them"
    )


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("method", ["get", "post"])
def test_member_of_a_gets_404_for_every_tenant_url_of_b(client, world_a, world_b, role, method):
    client.force_login(world_a.user(role))
    for url in tenant_urls():
        path = tenant_url(url.name, world_b)
        response = getattr(client, method)(path, {"email": "x@example.com", "role": "agent"})
        assert response.status_code == 404, f"{method.upper()} {path} as {role} of A"
    # Nothing of B changed through those requests.
    assert Invitation.objects.for_workspace(world_b.workspace).count() == 1
    world_b.invitation.refresh_from_db()
    assert world_b.invitation.is_pending


def test_unknown_workspace_and_foreign_workspace_look_the_same(client, world_a, world_b):
    client.force_login(world_a.owner)
    foreign = client.get(f"/w/{world_b.workspace.slug}/")
    missing = client.get("/w/no-such-workspace/")
    assert foreign.status_code == missing.status_code == 404


def test_revoking_bs_invitation_through_as_url_is_404_and_leaves_it_pending(
    client, world_a, world_b
):
    client.force_login(world_a.owner)
    response = client.post(
        f"/w/{world_a.workspace.slug}/team/invitations/{world_b.invitation.pk}/revoke/"
    )
    assert response.status_code == 404
    world_b.invitation.refresh_from_db()
    assert world_b.invitation.revoked_at is None


def test_inviting_into_b_as_member_of_a_creates_nothing(client, world_a, world_b, mailoutbox):
    client.force_login(world_a.owner)
    response = client.post(
        f"/w/{world_b.workspace.slug}/team/invitations/",
        {"email": "intruder@example.com", "role": "owner"},
    )
    assert response.status_code == 404
    assert not Invitation.objects.for_workspace(world_b.workspace).filter(
        email="intruder@example.com"
    )
    assert mailoutbox == []


def test_team_page_of_a_lists_none_of_bs_people(client, world_a, world_b):
    client.force_login(world_a.owner)
    page = client.get(f"/w/{world_a.workspace.slug}/team/").content.decode()
    assert world_a.agent.email in page
    assert world_a.invitation.email in page
    for leaked in (world_b.owner.email, world_b.agent.email, world_b.invitation.email):
        assert leaked not in page


@pytest.mark.parametrize("action", ["invite", "revoke"])
def test_agent_gets_403_on_admin_only_actions_and_nothing_changes(
    client, world_a, action, mailoutbox
):
    client.force_login(world_a.agent)
    slug = world_a.workspace.slug
    if action == "invite":
        response = client.post(
            f"/w/{slug}/team/invitations/", {"email": "new@example.com", "role": "agent"}
        )
    else:
        response = client.post(f"/w/{slug}/team/invitations/{world_a.invitation.pk}/revoke/")
    assert response.status_code == 403
    assert Invitation.objects.for_workspace(world_a.workspace).count() == 1
    world_a.invitation.refresh_from_db()
    assert world_a.invitation.is_pending
    assert mailoutbox == []


def test_signed_out_visitor_is_sent_to_login_for_tenant_urls(client, world_a):
    for url in tenant_urls():
        response = client.get(tenant_url(url.name, world_a))
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
