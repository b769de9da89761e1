"""`chatdesk demo`: migrate, seed a demo workspace, run web + worker + the WhatsApp simulator,
print the URLs and login.

The command lives in `ops` (installed in every mode) so that production gets a clear refusal
instead of "unknown command"; the demo data itself comes from `chatdesk.devtools`, which is not
installed in production.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Development only: migrate, seed the demo workspace, start web, worker and the "
        "WhatsApp simulator."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--simulator-port", type=int, default=8025)
        parser.add_argument(
            "--no-simulator", action="store_true", help="do not start the WhatsApp simulator"
        )
        parser.add_argument("--seed-only", action="store_true", help="migrate and seed, then exit")

    def handle(
        self,
        *args,
        host: str,
        port: int,
        simulator_port: int,
        no_simulator: bool,
        seed_only: bool,
        **options,
    ):
        if settings.APP_ENV == "production":
            raise CommandError(
                "`chatdesk demo` is development-only and refused when APP_ENV=production. "
                "Use `chatdesk create-workspace` to set up a real workspace."
            )
        from chatdesk.devtools.seed import demo_seed

        call_command("migrate", interactive=False, verbosity=0)
        login = demo_seed()
        url = f"http://{host}:{port}/"
        banner = (
            self.style.SUCCESS("\nchatdesk demo is ready\n")
            + f"  URL:       {url}\n"
            + f"  Login:     {login.email}\n"
            + f"  Password:  {login.password}\n"
            + f"  Workspace: {login.workspace.name} ({url}w/{login.workspace.slug}/)\n"
        )
        if not no_simulator:
            banner += (
                f"  Simulator: {simulator_url(simulator_port)}/  (type as a WhatsApp customer "
                f"to {login.channel.display_number})\n"
                "  Reply:     chatdesk reply --conversation ID --text '...'\n"
            )
        self.stdout.write(banner)
        if seed_only:
            return
        self._serve(
            demo_processes(
                host=host, port=port, simulator_port=simulator_port, simulate=not no_simulator
            )
        )

    def _serve(self, commands: dict[str, tuple[list[str], dict[str, str] | None]]) -> None:
        processes = {
            name: subprocess.Popen(argv, env=env) for name, (argv, env) in commands.items()
        }
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


def simulator_url(simulator_port: int) -> str:
    return f"http://127.0.0.1:{simulator_port}"


def demo_processes(
    *, host: str, port: int, simulator_port: int, simulate: bool
) -> dict[str, tuple[list[str], dict[str, str] | None]]:
    """What `chatdesk demo` runs: name -> (argv, environment or None to inherit)."""
    chatdesk = [sys.executable, "-m", "chatdesk"]
    env = None
    if simulate:
        # The children read these through the settings schema like any other variable; this
        # process only passes its own environment through, plus the simulator's address.
        env = {
            **os.environ,
            "SIMULATOR_ENABLED": "true",
            "SIMULATOR_URL": simulator_url(simulator_port),
        }
    processes = {"web": ([*chatdesk, "web", "--bind", f"{host}:{port}", "--dev"], env)}
    if "chatdesk.jobs" in settings.INSTALLED_APPS and _has_command("worker"):
        processes["worker"] = ([*chatdesk, "worker"], env)
    if simulate:
        # Webhooks go to the web server; a wildcard bind address is reachable on loopback.
        app_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
        processes["simulator"] = (
            [
                *chatdesk,
                "simulator",
                "--from-demo",
                "--port",
                str(simulator_port),
                "--app-url",
                f"http://{app_host}:{port}",
            ],
            env,
        )
    return processes


def _has_command(name: str) -> bool:
    from django.core.management import get_commands

    return name in get_commands()
