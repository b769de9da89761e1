"""`chatdesk generate-key` and `chatdesk generate-secret-key` print keys production accepts."""

import io

from cryptography.fernet import Fernet
from django.core.management import call_command

from chatdesk.config.env import load_environment, weak_secret_key_reason
from tests.config.helpers import PRODUCTION_DEFAULTS, VALID_PRODUCTION, output_of, run_chatdesk


def run(command: str) -> str:
    out = io.StringIO()
    call_command(command, stdout=out)
    return out.getvalue().strip()


def test_generate_key_prints_a_fresh_fernet_key_production_accepts():
    first, second = run("generate-key"), run("generate-key")

    assert first != second
    assert Fernet(first).decrypt(Fernet(first).encrypt(b"x")) == b"x"
    assert load_environment({**VALID_PRODUCTION, "ENCRYPTION_KEYS": first}).problems == []


def test_generate_secret_key_prints_a_long_random_key_production_accepts():
    first, second = run("generate-secret-key"), run("generate-secret-key")

    assert first != second
    assert len(first) >= 64
    assert weak_secret_key_reason(first) is None
    assert load_environment({**VALID_PRODUCTION, "SECRET_KEY": first}).problems == []


def test_key_commands_work_while_the_production_configuration_is_broken():
    # They are the fix the problems point to, so neither the startup guard nor the system checks
    # may block them. Both run through the real entry point, in one process start.
    script = (
        "from chatdesk.__main__ import main; "
        "main(['chatdesk', 'generate-key']); main(['chatdesk', 'generate-secret-key'])"
    )

    result = run_chatdesk(env=PRODUCTION_DEFAULTS, python=["-c", script])

    assert result.returncode == 0, output_of(result)
    fernet_key, secret_key = result.stdout.split()
    assert Fernet(fernet_key)
    assert weak_secret_key_reason(secret_key) is None
