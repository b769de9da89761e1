"""`chatdesk check-env`: the checklist of every declared environment variable.

One line per variable of `AppSettings` (name, status, value with secrets masked), each problem
below its variable with the fix, then a summary and a verdict. It reads the environment the
process started with and runs even when values are invalid (a diagnostic command: the startup
guard lets it through). The checklist itself is built in `chatdesk.config.checks`.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from chatdesk.config.checks import build_checklist, render_json, render_text
from chatdesk.config.env import load_environment


class Command(BaseCommand):
    help = (
        "Print every environment variable chatdesk reads with its status (ok, default, not set "
        "(optional), missing, invalid, problem) and its value, secrets masked, each problem with "
        "its fix. Exit status 0 only when production-ready: APP_ENV=production and no problem. "
        "Anything else (a problem, or APP_ENV development/test, where the production rules are "
        "not applied) exits 1, so it can gate a deploy script."
    )
    # It diagnoses configuration; Django's own checks belong to `chatdesk check`.
    requires_system_checks = []
    requires_migrations_checks = False

    def add_arguments(self, parser):
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="print a JSON document instead"
        )

    def handle(self, *args, as_json: bool = False, **options):
        environment = getattr(settings, "ENVIRONMENT", None) or load_environment()
        checklist = build_checklist(environment)
        self.stdout.write(render_json(checklist) if as_json else render_text(checklist))
        if not checklist.production_ready:
            raise SystemExit(1)
