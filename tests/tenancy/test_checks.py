import pytest
from django.core import checks

from chatdesk.tenancy.checks import check_first_workspace_has_owner
from chatdesk.tenancy.models import Invitation
from chatdesk.tenancy.services import invitation_accept, invitation_create, workspace_create
from tests.tenancy.factories import user_make


def w001(messages):
    return [m for m in messages if m.id == "chatdesk.W001"]


@pytest.mark.django_db
def test_production_without_an_accepted_owner_warns_in_check_deploy(settings):
    settings.APP_ENV = "production"
    workspace = workspace_create(name="Acme", slug="acme")
    invitation_create(workspace=workspace, email="boss@example.com", role="owner")  # not accepted
    found = w001(checks.run_checks(include_deployment_checks=True))
    assert len(found) == 1
    assert found[0].level == checks.WARNING
    assert "chatdesk create-workspace" in found[0].hint


@pytest.mark.django_db
def test_warning_disappears_once_an_owner_accepted(settings):
    settings.APP_ENV = "production"
    workspace = workspace_create(name="Acme", slug="acme")
    invitation, _ = invitation_create(workspace=workspace, email="boss@example.com", role="owner")
    invitation_accept(
        invitation=Invitation.objects.for_workspace(workspace).get(pk=invitation.pk),
        user=user_make("boss@example.com"),
    )
    assert w001(checks.run_checks(include_deployment_checks=True)) == []


@pytest.mark.django_db
def test_only_production_gets_the_warning(settings):
    settings.APP_ENV = "development"
    assert w001(checks.run_checks(include_deployment_checks=True)) == []


@pytest.mark.django_db
def test_the_check_is_a_deployment_check(settings):
    settings.APP_ENV = "production"
    assert w001(checks.run_checks(include_deployment_checks=False)) == []


def test_unreachable_database_skips_the_check_instead_of_crashing(settings, monkeypatch):
    from django.db import OperationalError

    def unreachable(**kwargs):
        raise OperationalError("could not connect to server")

    settings.APP_ENV = "production"
    monkeypatch.setattr("chatdesk.tenancy.checks.workspace_has_accepted_owner", unreachable)
    assert check_first_workspace_has_owner() == []
