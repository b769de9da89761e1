"""Demo data. Development only: refuses to run when APP_ENV=production."""

from __future__ import annotations

from dataclasses import dataclass

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from chatdesk.tenancy.models import Role, Workspace
from chatdesk.tenancy.services import membership_create, workspace_create

DEMO_WORKSPACE_SLUG = "demo"
DEMO_WORKSPACE_NAME = "Demo Overseas Education"
DEMO_EMAIL = "demo@example.com"
# A published, development-only password: production refuses demo data altogether.
DEMO_PASSWORD = "chatdesk-demo"


class DemoRefusedError(RuntimeError):
    pass


@dataclass(frozen=True)
class DemoLogin:
    workspace: Workspace
    email: str
    password: str


@transaction.atomic
def demo_seed() -> DemoLogin:
    """Create (or refresh) the demo workspace and its owner. Safe to run again."""
    if settings.APP_ENV == "production":
        raise DemoRefusedError(
            "Demo data is development-only and is refused when APP_ENV=production. "
            "Create the real first workspace with `chatdesk create-workspace`."
        )
    workspace = Workspace.objects.filter(slug=DEMO_WORKSPACE_SLUG).first()
    if workspace is None:
        workspace = workspace_create(
            name=DEMO_WORKSPACE_NAME, slug=DEMO_WORKSPACE_SLUG, is_demo=True
        )
    user_model = get_user_model()
    user = user_model.objects.filter(email__iexact=DEMO_EMAIL).first()
    if user is None:
        user = user_model.objects.create_user(
            username="demo", email=DEMO_EMAIL, password=DEMO_PASSWORD
        )
    else:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    EmailAddress.objects.update_or_create(
        user=user, email=DEMO_EMAIL, defaults={"verified": True, "primary": True}
    )
    membership_create(workspace=workspace, user=user, role=Role.OWNER)
    return DemoLogin(workspace=workspace, email=DEMO_EMAIL, password=DEMO_PASSWORD)
