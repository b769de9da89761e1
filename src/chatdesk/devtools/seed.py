"""Demo data. Development only: refuses to run when APP_ENV=production."""

from __future__ import annotations

from dataclasses import dataclass

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from chatdesk.messaging.models import Channel, ChannelKind
from chatdesk.messaging.services import channel_create
from chatdesk.tenancy.models import Role, Workspace
from chatdesk.tenancy.services import membership_create, workspace_create

DEMO_WORKSPACE_SLUG = "demo"
DEMO_WORKSPACE_NAME = "Demo Overseas Education"
DEMO_EMAIL = "demo@example.com"
# A published, development-only password: production refuses demo data altogether.
DEMO_PASSWORD = "chatdesk-demo"
# The demo's WhatsApp number, played by `chatdesk simulator --from-demo`. Published,
# development-only credentials: the simulator signs with them and the app verifies with them.
DEMO_CHANNEL_PHONE_NUMBER_ID = "100000000000042"
DEMO_CHANNEL_DISPLAY_NUMBER = "15550100042"
DEMO_CHANNEL_APP_SECRET = "demo-meta-app-secret-development-only"
DEMO_CHANNEL_ACCESS_TOKEN = "demo-meta-access-token-development-only"
DEMO_CHANNEL_VERIFY_TOKEN = "demo-meta-verify-token-development-only"


class DemoRefusedError(RuntimeError):
    pass


@dataclass(frozen=True)
class DemoLogin:
    workspace: Workspace
    email: str
    password: str
    channel: Channel


def _refuse_in_production() -> None:
    if settings.APP_ENV == "production":
        raise DemoRefusedError(
            "Demo data is development-only and is refused when APP_ENV=production. "
            "Create the real first workspace with `chatdesk create-workspace`."
        )


@transaction.atomic
def demo_seed() -> DemoLogin:
    """Create (or refresh) the demo workspace, its owner and its WhatsApp channel. Safe to run
    again."""
    _refuse_in_production()
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
    channel = _demo_channel_ensure(workspace=workspace)
    return DemoLogin(workspace=workspace, email=DEMO_EMAIL, password=DEMO_PASSWORD, channel=channel)


def _demo_channel_ensure(*, workspace: Workspace) -> Channel:
    """The demo's Meta channel with the published credentials (reset to them if edited)."""
    channel = (
        Channel.objects.for_workspace(workspace)
        .filter(kind=ChannelKind.META, phone_number_id=DEMO_CHANNEL_PHONE_NUMBER_ID)
        .first()
    )
    if channel is None:
        return channel_create(
            workspace=workspace,
            kind=ChannelKind.META,
            name="Demo WhatsApp (simulator)",
            phone_number_id=DEMO_CHANNEL_PHONE_NUMBER_ID,
            display_number=DEMO_CHANNEL_DISPLAY_NUMBER,
            signing_secret=DEMO_CHANNEL_APP_SECRET,
            api_token=DEMO_CHANNEL_ACCESS_TOKEN,
            verify_token=DEMO_CHANNEL_VERIFY_TOKEN,
        )
    channel.signing_secret = DEMO_CHANNEL_APP_SECRET
    channel.previous_signing_secret = None
    channel.api_token = DEMO_CHANNEL_ACCESS_TOKEN
    channel.verify_token = DEMO_CHANNEL_VERIFY_TOKEN
    channel.is_active = True
    channel.save(
        update_fields=[
            "signing_secret",
            "previous_signing_secret",
            "api_token",
            "verify_token",
            "is_active",
        ]
    )
    return channel


def demo_channel_get() -> Channel | None:
    """The seeded demo channel, for `chatdesk simulator --from-demo`; None before seeding."""
    _refuse_in_production()
    workspace = Workspace.objects.filter(slug=DEMO_WORKSPACE_SLUG, is_demo=True).first()
    if workspace is None:
        return None
    return (
        Channel.objects.for_workspace(workspace)
        .filter(kind=ChannelKind.META, phone_number_id=DEMO_CHANNEL_PHONE_NUMBER_ID)
        .first()
    )
