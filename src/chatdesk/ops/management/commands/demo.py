"""`chatdesk demo`: migrate, seed a demo workspace, run web + worker, print the URL and login.

The command lives in `ops` (installed in every mode) so that production gets a clear refusal
instead of "unknown command"; the demo data itself comes from `chatdesk.devtools`, which is not
installed in production.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Development only: migrate, seed the demo workspace, start web and worker."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--seed-only", action="store_true", help="migrate and seed, then exit")

    def handle(self, *args, host: str, port: int, seed_only: bool, **options):
        if settings.APP_ENV == "production":
            raise CommandError(
                "`chatdesk demo` is development-only and refused when APP_ENV=production. "
                "Use `chatdesk create-workspace` to set up a real workspace."
            )
        from chatdesk.devtools.seed import demo_seed

        call_command("migrate", interactive=False, verbosity=0)
        login = demo_seed()
        url = f"http://{host}:{port}/"
        self.stdout.write(
            self.style.SUCCESS("\nchatdesk demo is ready\n")
            + f"  URL:       {url}\n"
            + f"  Login:     {login.email}\n"
            + f"  Password:  {login.password}\n"
            + f"  Workspace: {login.workspace.name} ({url}w/{login.workspace.slug}/)\n"
        )
        if seed_only:
            return
        self._serve(host, port)

    def _serve(self, host: str, port: int) -> None:
        chatdesk = [sys.executable, "-m", "chatdesk"]
        processes = {
            "web": subprocess.Popen([*chatdesk, "web", "--bind", f"{host}:{port}", "--dev"]),
        }
        if "chatdesk.jobs" in settings.INSTALLED_APPS and _has_command("worker"):
            processes["worker"] = subprocess.Popen([*chatdesk, "worker"])
        self.stdout.write(f"Started {', '.join(processes)}. Press Ctrl+C to stop.\n")
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping:
                for name, process in processes.items():
                    if process.poll() is not None:
                        self.stderr.write(f"{name} exited with code {process.returncode}\n")
                        stopping = True
                time.sleep(0.5)
        finally:
            for process in processes.values():
                if process.poll() is None:
                    process.terminate()
            for process in processes.values():
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()


def _has_command(name: str) -> bool:
    from django.core.management import get_commands

    return name in get_commands()
