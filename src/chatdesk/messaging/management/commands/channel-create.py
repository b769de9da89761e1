"""`chatdesk channel-create`: connect a WhatsApp number. Credentials come from the environment,
never from arguments (arguments end up in shell history and process lists)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from chatdesk.messaging.models import ChannelKind
from chatdesk.messaging.selectors import channel_webhook_url
from chatdesk.messaging.services import channel_create
from chatdesk.tenancy.models import Workspace


class ChannelCredentials(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=True, extra="ignore", env_ignore_empty=True)

    CHANNEL_APP_SECRET: SecretStr | None = None  # Meta app secret
    CHANNEL_WEBHOOK_SECRET: SecretStr | None = None  # Kapso webhook secret
    CHANNEL_ACCESS_TOKEN: SecretStr | None = None  # Meta access token
    CHANNEL_API_KEY: SecretStr | None = None  # Kapso API key
    CHANNEL_VERIFY_TOKEN: SecretStr | None = None  # Meta webhook handshake


REQUIRED = {
    ChannelKind.META: ("CHANNEL_APP_SECRET", "CHANNEL_ACCESS_TOKEN", "CHANNEL_VERIFY_TOKEN"),
    ChannelKind.KAPSO: ("CHANNEL_WEBHOOK_SECRET", "CHANNEL_API_KEY"),
}


class Command(BaseCommand):
    help = (
        "Create a WhatsApp channel. Credentials are read from CHANNEL_APP_SECRET, "
        "CHANNEL_ACCESS_TOKEN, CHANNEL_VERIFY_TOKEN (meta) or CHANNEL_WEBHOOK_SECRET, "
        "CHANNEL_API_KEY (kapso)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--workspace", required=True, help="workspace slug")
        parser.add_argument("--kind", required=True, choices=[k.value for k in ChannelKind])
        parser.add_argument("--phone-number-id", required=True)
        parser.add_argument("--display-number", required=True)
        parser.add_argument("--name", default="")
        parser.add_argument("--json", action="store_true", help="print JSON only")

    def handle(self, *args, **options):
        kind = ChannelKind(options["kind"])
        workspace = Workspace.objects.filter(slug=options["workspace"]).first()
        if workspace is None:
            raise CommandError(f"No workspace with slug {options['workspace']!r}.")
        phone_number_id = options["phone_number_id"].strip()
        if not phone_number_id.isdigit():
            raise CommandError("--phone-number-id must be the provider's numeric id.")
        credentials = ChannelCredentials()
        missing = [name for name in REQUIRED[kind] if getattr(credentials, name) is None]
        if missing:
            raise CommandError(
                f"Missing {', '.join(missing)} in the environment (a {kind.value} channel "
                "needs them; they are never taken from arguments)."
            )

        def secret(name: str) -> str | None:
            value = getattr(credentials, name)
            return value.get_secret_value() if value else None

        if kind == ChannelKind.META:
            signing, token = secret("CHANNEL_APP_SECRET"), secret("CHANNEL_ACCESS_TOKEN")
        else:
            signing, token = secret("CHANNEL_WEBHOOK_SECRET"), secret("CHANNEL_API_KEY")
        try:
            channel = channel_create(
                workspace=workspace,
                kind=kind,
                phone_number_id=phone_number_id,
                display_number=options["display_number"].strip(),
                signing_secret=signing,
                api_token=token,
                verify_token=secret("CHANNEL_VERIFY_TOKEN"),
                name=options["name"],
            )
        except IntegrityError:
            raise CommandError(
                f"A {kind.value} channel for phone number id {phone_number_id} already exists."
            ) from None
        result = {
            "channel_key": channel.channel_key,
            "webhook_url": channel_webhook_url(channel=channel),
        }
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        self.stdout.write(
            f"Created {channel} in {workspace.name}.\n"
            f"  channel key: {result['channel_key']}\n"
            f"  webhook URL: {result['webhook_url']}\n"
            "Paste the webhook URL into the provider's console"
            + (" with the verify token you set." if kind == ChannelKind.META else ".")
        )
