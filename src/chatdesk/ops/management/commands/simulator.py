"""`chatdesk simulator` in every mode, so production answers with a clear refusal instead of
"Unknown command". The simulator itself lives in `chatdesk.devtools`, which production does not
install; this app comes first in INSTALLED_APPS, so its command is the one Django runs."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

if settings.APP_ENV == "production":

    class Command(BaseCommand):
        help = "Development only: the WhatsApp simulator (refused in production)."
        requires_system_checks = []

        def run_from_argv(self, argv):
            # Whatever the options, the answer is the refusal, not an argument error.
            super().run_from_argv(argv[:2])

        def handle(self, *args, **options):
            raise CommandError(
                "`chatdesk simulator` is development-only and refused when APP_ENV=production: "
                "production talks to the real provider (Meta or Kapso)."
            )

else:
    from chatdesk.devtools.management.commands.simulator import Command  # noqa: F401
