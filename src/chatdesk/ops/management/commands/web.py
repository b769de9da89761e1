"""`chatdesk web`: the production web server (gunicorn with deploy/gunicorn.conf.py settings)."""

from __future__ import annotations

import os
import sys

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve chatdesk with gunicorn (the production server)."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default="0.0.0.0:8000")
        parser.add_argument("--workers", type=int, default=None)
        parser.add_argument(
            "--dev", action="store_true", help="reload on code changes (development)"
        )

    def handle(self, *args, bind: str, workers: int | None, dev: bool, **options):
        from chatdesk.config.gunicorn import build_argv

        argv = build_argv(bind=bind, workers=workers or (2 if dev else None), reload=dev)
        self.stdout.write(f"Serving on http://{bind}/\n")
        self.stdout.flush()
        os.execv(sys.executable, [sys.executable, "-m", "gunicorn", *argv])  # noqa: S606
