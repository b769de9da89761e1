"""Small builders shared by the tests (plain functions: explicit and easy to read)."""

from __future__ import annotations

import itertools

from chatdesk.messaging.models import Channel, ChannelKind
from chatdesk.messaging.services import channel_create
from chatdesk.tenancy.models import Workspace
from chatdesk.tenancy.services import workspace_create

_counter = itertools.count(1)

APP_SECRET = "meta-app-secret-for-tests-0001"
KAPSO_SECRET = "kapso-webhook-secret-for-tests-0001"
VERIFY_TOKEN = "verify-token-for-tests"


def make_workspace(slug: str | None = None) -> Workspace:
    n = next(_counter)
    slug = slug or f"ws{n}"
    return workspace_create(name=f"Workspace {slug}", slug=slug)


def make_channel(
    workspace: Workspace | None = None,
    *,
    kind: str = ChannelKind.META,
    phone_number_id: str | None = None,
    signing_secret: str | None = None,
    is_active: bool = True,
) -> Channel:
    workspace = workspace or make_workspace()
    n = next(_counter)
    channel = channel_create(
        workspace=workspace,
        kind=kind,
        phone_number_id=phone_number_id or f"10654035224{n:04d}",
        display_number=f"1555078{n:04d}",
        signing_secret=signing_secret or (APP_SECRET if kind == ChannelKind.META else KAPSO_SECRET),
        api_token=f"token-{kind}-{n}-abcdefgh",
        verify_token=VERIFY_TOKEN if kind == ChannelKind.META else None,
    )
    if not is_active:
        channel.is_active = False
        channel.save(update_fields=["is_active"])
    return channel
