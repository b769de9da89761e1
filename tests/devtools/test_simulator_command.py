"""`chatdesk simulator`: how it is started, what it plays, and that production refuses it."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from io import StringIO

import httpx
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from chatdesk.devtools.management.commands.simulator import Command as SimulatorCommand
from chatdesk.devtools.seed import (
    DEMO_CHANNEL_ACCESS_TOKEN,
    DEMO_CHANNEL_APP_SECRET,
    DEMO_CHANNEL_PHONE_NUMBER_ID,
    demo_seed,
)
from tests.devtools.helpers import (
    PRODUCTION_ENV,
    ROOT,
    base_env,
    free_port,
    run_chatdesk,
    wait_until,
)

DEVELOPMENT_ENV = {"APP_ENV": "development", "DATABASE_URL": "sqlite://:memory:"}


def test_production_refuses_the_simulator_command_with_a_clear_message():
    result = run_chatdesk(["simulator", "--from-demo", "--port", "8025"], PRODUCTION_ENV)

    assert result.returncode == 1
    assert "`chatdesk simulator` is development-only" in result.stderr
    assert "APP_ENV=production" in result.stderr
    assert "Unknown command" not in result.stderr


def test_production_with_the_simulator_enabled_does_not_start_at_all():
    result = run_chatdesk(["web"], {**PRODUCTION_ENV, "SIMULATOR_ENABLED": "true"})

    assert result.returncode == 2
    assert "SIMULATOR_ENABLED" in result.stderr and "development-only" in result.stderr


def test_the_simulator_command_runs_as_its_own_process_and_stops_on_sigterm():
    port = free_port()
    secret, token = "meta-app-secret-cli-0001", "meta-access-token-cli-0001"
    env = {**DEVELOPMENT_ENV, "CHANNEL_APP_SECRET": secret, "CHANNEL_ACCESS_TOKEN": token}
    args = ["--kind", "meta", "--phone-number-id", "106540352242922", "--channel-key", "abc"]
    process = subprocess.Popen(
        [sys.executable, "-m", "chatdesk", "simulator", "--port", str(port), *args],
        env=base_env(env),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def state():
            try:
                return httpx.get(f"http://127.0.0.1:{port}/control/state", timeout=1).json()
            except httpx.HTTPError:
                assert process.poll() is None, process.stderr.read()
                return None

        channels = wait_until(state, timeout=30, what="the simulator to listen")["channels"]
        assert channels == [
            {
                "kind": "meta",
                "phone_number_id": "106540352242922",
                "display_number": "15550100001",
                "webhook_url": "http://127.0.0.1:8000/webhooks/whatsapp/abc",
            }
        ]
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert f"WhatsApp simulator on http://127.0.0.1:{port}/" in stdout
    assert secret not in stdout + stderr and token not in stdout + stderr


def test_credentials_for_a_flag_channel_come_from_the_environment_and_are_named_when_missing(
    monkeypatch,
):
    for name in ("CHANNEL_WEBHOOK_SECRET", "CHANNEL_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    args = ["--kind", "kapso", "--phone-number-id", "1", "--channel-key", "abc"]

    with pytest.raises(CommandError, match="CHANNEL_WEBHOOK_SECRET and CHANNEL_API_KEY"):
        call_command("simulator", *args)
    with pytest.raises(CommandError, match="Missing --channel-key"):
        call_command("simulator", "--kind", "meta", "--phone-number-id", "1")
    with pytest.raises(CommandError, match="Nothing to simulate"):
        call_command("simulator")


@pytest.mark.django_db
def test_from_demo_before_the_demo_is_seeded_says_how_to_seed_it():
    with pytest.raises(CommandError, match="chatdesk demo --seed-only"):
        call_command("simulator", "--from-demo")


@pytest.mark.django_db
def test_from_demo_plays_the_seeded_demo_channel_with_its_credentials(monkeypatch):
    login = demo_seed()
    port = free_port()
    seen = {}

    def look_then_stop(self):
        url = f"http://127.0.0.1:{port}"
        seen["state"] = httpx.get(f"{url}/control/state", timeout=5).json()
        send = httpx.post(
            f"{url}/graph/v24.0/{DEMO_CHANNEL_PHONE_NUMBER_ID}/messages",
            headers={"Authorization": f"Bearer {DEMO_CHANNEL_ACCESS_TOKEN}"},
            json={"messaging_product": "whatsapp", "to": "6281234567890", "text": {"body": "x"}},
            timeout=5,
        )
        seen["send"] = send.status_code

    monkeypatch.setattr(SimulatorCommand, "_wait_for_signal", look_then_stop)
    out = StringIO()
    call_command("simulator", "--from-demo", "--port", str(port), stdout=out)

    [channel] = seen["state"]["channels"]
    assert channel["phone_number_id"] == DEMO_CHANNEL_PHONE_NUMBER_ID
    assert channel["webhook_url"].endswith(f"/webhooks/whatsapp/{login.channel.channel_key}")
    assert seen["send"] == 200  # the app's demo token is the one the simulator accepts
    assert DEMO_CHANNEL_APP_SECRET not in out.getvalue()


@pytest.mark.django_db
def test_a_port_in_use_is_a_clear_error():
    demo_seed()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(CommandError, match=f"Cannot listen on 127.0.0.1:{port}"):
            call_command("simulator", "--from-demo", "--port", str(port))


def test_the_simulator_command_refuses_when_the_settings_say_production(settings):
    settings.APP_ENV = "production"
    with pytest.raises(CommandError, match="development-only"):
        call_command("simulator", "--from-demo")
