import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from chatdesk.tenancy.models import Invitation, Membership, Role, Workspace
from chatdesk.tenancy.services import invitation_accept, workspace_create
from tests.tenancy.factories import user_make

pytestmark = pytest.mark.django_db

ARGS = ["--name", "Acme Education", "--slug", "acme", "--owner-email", "Owner@Acme.example"]


def run(*args: str) -> str:
    out = StringIO()
    call_command("create-workspace", *args, stdout=out)
    return out.getvalue()


@pytest.fixture(autouse=True)
def _public_base_url(settings):
    settings.APP_BASE_URL = "https://desk.acme.example"


def test_creates_the_workspace_and_emails_an_owner_invitation_linking_to_app_base_url(
    mailoutbox,
):
    output = run(*ARGS)
    workspace = Workspace.objects.get(slug="acme")
    invitation = Invitation.objects.for_workspace(workspace).get()
    assert (workspace.name, invitation.email, invitation.role) == (
        "Acme Education",
        "owner@acme.example",
        Role.OWNER,
    )
    link = f"https://desk.acme.example/invitations/{invitation.token}/"
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["owner@acme.example"]
    assert link in mailoutbox[0].body
    assert link in output
    assert "Created workspace 'Acme Education'" in output


def test_running_twice_creates_no_second_workspace_or_invitation_and_resends_the_same_link(
    mailoutbox,
):
    run(*ARGS)
    output = run(*ARGS)
    assert Workspace.objects.filter(slug="acme").count() == 1
    workspace = Workspace.objects.get(slug="acme")
    assert Invitation.objects.for_workspace(workspace).count() == 1
    assert "already exists; reusing it" in output
    assert "already pending" in output
    assert len(mailoutbox) == 2
    links = {re.search(r"https://\S+", m.body).group(0) for m in mailoutbox}
    assert len(links) == 1  # the re-sent email carries the same, still valid link


def test_after_the_owner_accepted_it_says_so_and_sends_nothing(mailoutbox):
    run(*ARGS)
    workspace = Workspace.objects.get(slug="acme")
    invitation = Invitation.objects.for_workspace(workspace).get()
    invitation_accept(invitation=invitation, user=user_make("owner@acme.example"))
    mailoutbox.clear()
    output = run(*ARGS)
    assert "already accepted" in output
    assert mailoutbox == []
    assert Invitation.objects.for_workspace(workspace).count() == 1
    assert Membership.objects.for_workspace(workspace).get().role == Role.OWNER


def test_existing_slug_with_another_name_is_a_clear_error_and_changes_nothing(mailoutbox):
    workspace_create(name="Someone Else", slug="acme")
    with pytest.raises(CommandError, match="already belongs to the workspace 'Someone Else'"):
        run(*ARGS)
    workspace = Workspace.objects.get(slug="acme")
    assert workspace.name == "Someone Else"
    assert not Invitation.objects.for_workspace(workspace).exists()
    assert mailoutbox == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--name", "Acme", "--slug", "acme corp", "--owner-email", "o@acme.example"], "--slug"),
        (["--name", "Acme", "--slug", "Acme", "--owner-email", "o@acme.example"], "lowercase"),
        (["--name", "Acme", "--slug", "acme", "--owner-email", "not-an-email"], "--owner-email"),
        (["--name", "  ", "--slug", "acme", "--owner-email", "o@acme.example"], "--name"),
    ],
)
def test_invalid_arguments_are_clear_errors_and_create_nothing(args, message, mailoutbox):
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert not Workspace.objects.exists()
    assert mailoutbox == []


def test_email_failure_keeps_the_invitation_prints_the_link_and_fails(monkeypatch, mailoutbox):
    def broken_send(*args, **kwargs):
        raise ConnectionError("smtp down")

    monkeypatch.setattr("chatdesk.tenancy.services.send_mail", broken_send)
    out = StringIO()
    with pytest.raises(CommandError, match="could not be sent"):
        call_command("create-workspace", *ARGS, stdout=out)
    workspace = Workspace.objects.get(slug="acme")
    invitation = Invitation.objects.for_workspace(workspace).get()
    assert invitation.token in out.getvalue()
