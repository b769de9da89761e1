import pytest

from chatdesk.tenancy.models import Membership, Workspace
from chatdesk.tenancy.services import membership_create, workspace_create
from tests.tenancy.factories import user_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def user_in_two(db):
    user = user_make("two@example.com")
    membership_create(
        workspace=workspace_create(name="Alpha", slug="alpha"), user=user, role="owner"
    )
    membership_create(workspace=workspace_create(name="Beta", slug="beta"), user=user, role="agent")
    return user


def test_user_in_two_workspaces_picks_one_then_root_returns_to_the_last_used(client, user_in_two):
    client.force_login(user_in_two)
    picker = client.get("/")
    assert picker.status_code == 200
    assert b"Alpha" in picker.content and b"Beta" in picker.content

    assert client.get("/w/beta/").status_code == 200
    assert client.get("/")["Location"] == "/w/beta/"
    # Switching is visiting another workspace; the role shown is the one in that workspace.
    assert b"<strong>owner</strong>" in client.get("/w/alpha/").content
    assert client.get("/")["Location"] == "/w/alpha/"
    # The picker stays reachable while a last used workspace exists.
    listing = client.get("/workspaces/")
    assert b"/w/alpha/" in listing.content and b"/w/beta/" in listing.content


def test_user_with_one_workspace_goes_straight_to_it(client, db):
    user = user_make("one@example.com")
    membership_create(workspace=workspace_create(name="Solo", slug="solo"), user=user, role="agent")
    client.force_login(user)
    assert client.get("/")["Location"] == "/w/solo/"


def test_user_without_workspace_sees_how_to_get_one(client, db):
    client.force_login(user_make("nobody@example.com"))
    page = client.get("/")
    assert page.status_code == 200
    assert b"not a member of any workspace yet" in page.content


def test_last_used_workspace_the_user_left_is_not_reopened(client, user_in_two):
    client.force_login(user_in_two)
    client.get("/w/beta/")
    beta = Workspace.objects.get(slug="beta")
    Membership.objects.for_workspace(beta).filter(user=user_in_two).delete()
    assert client.get("/")["Location"] == "/w/alpha/"
    assert client.get("/w/beta/").status_code == 404


def test_signed_out_root_goes_to_login(client, db):
    assert client.get("/")["Location"].startswith("/accounts/login/")


def test_the_role_shown_is_the_one_in_the_workspace_being_viewed(client, user_in_two):
    client.force_login(user_in_two)
    assert b"<strong>agent</strong>" in client.get("/w/beta/").content
    assert b"<strong>owner</strong>" in client.get("/w/alpha/").content


def test_header_switcher_lists_only_the_users_workspaces(rf, user_in_two):
    from django.template.loader import render_to_string

    workspace_create(name="Gamma Secret", slug="gamma")
    request = rf.get("/")
    request.user = user_in_two
    html = render_to_string("tenancy/_workspace_switcher.html", request=request)
    assert 'href="/w/alpha/"' in html and 'href="/w/beta/"' in html
    assert "Gamma Secret" not in html
