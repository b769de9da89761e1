"""`chatdesk simulator`: run the development WhatsApp simulator (see chatdesk.devtools.simulator).

Which channels it plays:
- `--from-demo`: the demo channel, read once from the database at start (`chatdesk demo` seeds it);
- `--kind meta|kapso --phone-number-id ID --channel-key KEY`: any channel of this app, with its
  credentials read from the environment like `chatdesk channel-create` reads them
  (CHANNEL_APP_SECRET + CHANNEL_ACCESS_TOKEN for meta, CHANNEL_WEBHOOK_SECRET + CHANNEL_API_KEY for
  kapso), never from arguments.
The app must have SIMULATOR_ENABLED=true to send to it (`chatdesk demo` sets that).
"""

from __future__ import annotations

import signal
import threading
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from chatdesk.devtools.simulator import SimChannel, Simulator, SimulatorConfigError

PRODUCTION_REFUSAL = (
    "`chatdesk simulator` is development-only and refused when APP_ENV=production: "
    "production talks to the real provider (Meta or Kapso)."
)


class SimulatedChannelCredentials(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=True, extra="ignore", env_ignore_empty=True)

    CHANNEL_APP_SECRET: SecretStr | None = None  # Meta app secret
    CHANNEL_WEBHOOK_SECRET: SecretStr | None = None  # Kapso webhook secret
    CHANNEL_ACCESS_TOKEN: SecretStr | None = None  # Meta access token
    CHANNEL_API_KEY: SecretStr | None = None  # Kapso API key


CREDENTIALS = {
    "meta": ("CHANNEL_APP_SECRET", "CHANNEL_ACCESS_TOKEN"),
    "kapso": ("CHANNEL_WEBHOOK_SECRET", "CHANNEL_API_KEY"),
}


class Command(BaseCommand):
    help = "Development only: run the WhatsApp simulator (plays Meta or Kapso for this app)."
    # It talks to the app over HTTP only; the app's system checks are not its business.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8025)
        parser.add_argument(
            "--app-url", default="http://127.0.0.1:8000", help="where chatdesk's web server runs"
        )
        parser.add_argument(
            "--from-demo", action="store_true", help="play the demo channel (`chatdesk demo`)"
        )
        parser.add_argument("--kind", choices=sorted(CREDENTIALS))
        parser.add_argument("--phone-number-id")
        parser.add_argument("--channel-key", help="the key at the end of the webhook URL")
        parser.add_argument("--display-number", default="15550100001")

    def handle(self, *args, **options):
        if settings.APP_ENV == "production":
            raise CommandError(PRODUCTION_REFUSAL)
        app_url = options["app_url"].rstrip("/")
        parts = urlsplit(app_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise CommandError("--app-url must be an http(s) URL, e.g. http://127.0.0.1:8000")
        channels = []
        if options["from_demo"]:
            channels.append(self._demo_channel())
        if options["kind"] or options["phone_number_id"] or options["channel_key"]:
            channels.append(self._channel_from_options(options))
        if not channels:
            raise CommandError(
                "Nothing to simulate: pass --from-demo, or --kind, --phone-number-id and "
                "--channel-key with the channel's credentials in the environment."
            )
        try:
            simulator = Simulator(
                channels=channels, app_url=app_url, host=options["host"], port=options["port"]
            )
            simulator.start()
        except SimulatorConfigError as error:
            raise CommandError(str(error)) from None
        except OSError as error:
            raise CommandError(
                f"Cannot listen on {options['host']}:{options['port']} ({error.strerror}); "
                "pass another --port."
            ) from None
        lines = [f"WhatsApp simulator on {simulator.url}/ (development only)"]
        for channel in channels:
            lines.append(
                f"  {channel.kind} number {channel.phone_number_id} -> "
                f"webhooks to {channel.webhook_url(app_url)}"
            )
        self.stdout.write("\n".join(lines) + "\n")
        self.stdout.flush()
        self._wait_for_signal()
        simulator.stop()

    def _demo_channel(self) -> SimChannel:
        from chatdesk.devtools.seed import demo_channel_get

        channel = demo_channel_get()
        if channel is None:
            raise CommandError(
                "No demo channel in the database: run `chatdesk demo --seed-only` first."
            )
        return SimChannel(
            kind=channel.kind,
            phone_number_id=channel.phone_number_id,
            channel_key=channel.channel_key,
            signing_secret=channel.signing_secret,
            api_token=channel.api_token,
            display_number=channel.display_number,
        )

    def _channel_from_options(self, options) -> SimChannel:
        missing = [
            f"--{name.replace('_', '-')}"
            for name in ("kind", "phone_number_id", "channel_key")
            if not options[name]
        ]
        if missing:
            raise CommandError(f"Missing {', '.join(missing)} for the simulated channel.")
        kind = options["kind"]
        credentials = SimulatedChannelCredentials()
        values = [getattr(credentials, name) for name in CREDENTIALS[kind]]
        if None in values:
            needed = " and ".join(CREDENTIALS[kind])
            raise CommandError(
                f"A {kind} channel needs {needed} in the environment (never in arguments)."
            )
        secret, token = (value.get_secret_value() for value in values)
        try:
            return SimChannel(
                kind=kind,
                phone_number_id=options["phone_number_id"],
                channel_key=options["channel_key"],
                signing_secret=secret,
                api_token=token,
                display_number=options["display_number"],
            )
        except SimulatorConfigError as error:
            raise CommandError(str(error)) from None

    def _wait_for_signal(self) -> None:
        stop = threading.Event()
        previous = {
            sig: signal.signal(sig, lambda *_: stop.set())
            for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            while not stop.wait(0.5):
                pass
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
