"""`chatdesk reports-rebuild [--workspace SLUG] [--days N]`: (re)build the dashboard's daily
rollups now, e.g. after a first deploy or an import, instead of waiting for the periodic job to
backfill a few days per run. Idempotent: run it as often as you like."""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from chatdesk.reports.services import WINDOW_DAYS, daily_rollups_rebuild
from chatdesk.tenancy.models import Workspace

MAX_DAYS = 3660


class Command(BaseCommand):
    help = "Rebuild the dashboard's daily rollups for the last N days (default: 90)."

    def add_arguments(self, parser):
        parser.add_argument("--workspace", metavar="SLUG", help="only this workspace")
        parser.add_argument(
            "--days",
            type=int,
            default=WINDOW_DAYS,
            help=f"days back from today, today included (default {WINDOW_DAYS})",
        )

    def handle(self, *args, workspace: str | None, days: int, **options):
        if not 1 <= days <= MAX_DAYS:
            raise CommandError(f"--days must be between 1 and {MAX_DAYS}, got {days}.")
        workspaces = Workspace.objects.order_by("slug")
        if workspace is not None:
            workspaces = workspaces.filter(slug=workspace)
            if not workspaces.exists():
                raise CommandError(f"No workspace with slug {workspace!r}.")
        today = timezone.localdate()
        first_day = today - timedelta(days=days - 1)
        for ws in workspaces:
            built = daily_rollups_rebuild(workspace=ws, first_day=first_day, last_day=today)
            self.stdout.write(f"{ws.slug}: {built} days rebuilt ({first_day} to {today})\n")
