import pytest

from chatdesk.tenancy.models import Membership, Role
from chatdesk.tenancy.scoping import UnscopedQueryError
from chatdesk.tenancy.services import membership_create, workspace_create


@pytest.mark.django_db
def test_unscoped_query_on_tenant_data_raises_instead_of_leaking(django_user_model):
    with pytest.raises(UnscopedQueryError, match="for_workspace"):
        list(Membership.objects.all())
    with pytest.raises(UnscopedQueryError):
        Membership.objects.filter(role=Role.OWNER).exists()


@pytest.mark.django_db
def test_for_workspace_returns_only_that_workspaces_rows(django_user_model):
    a = workspace_create(name="A", slug="a")
    b = workspace_create(name="B", slug="b")
    user = django_user_model.objects.create_user("u", "u@example.com", "pw-123456789")
    membership_create(workspace=a, user=user, role=Role.OWNER)
    membership_create(workspace=b, user=user, role=Role.AGENT)
    assert [m.role for m in Membership.objects.for_workspace(a)] == [Role.OWNER]
    assert [m.role for m in Membership.objects.for_workspace(b)] == [Role.AGENT]
    # Related managers stay usable: they are scoped through their parent.
    assert user.memberships.count() == 2
