"""No secret value ever reaches the terminal: check-env, check, preflight and the refusal.

Every secret below carries a marker ("SUPERSECRET", or "XYZZYPLUGH" where production would reject
the word "secret"); the output may show a mask (a label and the last four characters), never the
marker. Some of the secrets are also invalid, the path where a value is most easily echoed.
"""

import json

import pytest

from tests.config.helpers import VALID_PRODUCTION, output_of, run_chatdesk

MARKERS = ("SUPERSECRET", "XYZZYPLUGH")

SECRETS_ENV = {
    **VALID_PRODUCTION,
    "DEBUG": "true",  # a production problem, so every command has something to report
    "SECRET_KEY": "Xk7Qm2Zp9Lw4Rt8Vn3Hy6Jb1Fc5Gd0XYZZYPLUGHs8Ka2Me7Wq4Nr9Tu3Yi6Oz1Pv",
    "DATABASE_URL": "postgres://chatdesk:SUPERSECRETDBPASS@127.0.0.1:1/chatdesk",
    "REDIS_URL": "redis://:SUPERSECRETREDISPASS@127.0.0.1:1/0",
    "RESEND_API_KEY": "re_SUPERSECRETRESEND9f2a",
    "LLM_API_KEY": "sk_live_SUPERSECRETVALUE9f2a",
    "METRICS_TOKEN": "SUPERSECRETMETRICSTOKEN77",
    "OIDC_CLIENT_SECRET": "SUPERSECRETOIDC12345",
    "GOOGLE_CLIENT_SECRET": "GOCSPX-SUPERSECRETGOOGLE",
    "SENTRY_DSN": "https://SUPERSECRETSENTRYKEY@o1.ingest.sentry.io/1",
    # Invalid values holding secrets:
    "ENCRYPTION_KEYS": "SUPERSECRETENCRYPTIONKEY-not-fernet",
    "ALERT_SLACK_WEBHOOK_URL": "ftp://hooks.slack.com/services/SUPERSECRETSLACK",
    "LLM_BASE_URL": "https://bot:SUPERSECRETLLMPASS@llm.example.com:notaport/v1",
}

COMMANDS = {
    "check-env": ("check-env",),
    "check-env --json": ("check-env", "--json"),
    "check --deploy": ("check", "--deploy"),
    "preflight": ("preflight",),
    "refused migrate": ("migrate",),
}


@pytest.fixture(scope="module")
def runs():
    return {name: run_chatdesk(*args, env=SECRETS_ENV) for name, args in COMMANDS.items()}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_no_secret_value_appears_in_the_output(runs, command):
    result = runs[command]
    output = output_of(result)

    assert result.returncode != 0
    assert "Traceback" not in output
    for marker in MARKERS:
        assert marker not in output
    if command.startswith("check-env"):
        assert "re_…9f2a" in output


def test_check_env_json_shows_masks_for_every_secret(runs):
    variables = {v["name"]: v for v in json.loads(runs["check-env --json"].stdout)["variables"]}

    assert variables["LLM_API_KEY"]["value"] == "sk_live_…9f2a"
    assert variables["DATABASE_URL"]["value"] == "postgres://chatdesk:…@127.0.0.1:1/chatdesk"
    assert variables["ENCRYPTION_KEYS"]["status"] == "invalid"
    assert variables["SECRET_KEY"]["value"] == "…z1Pv"


def test_preflight_connection_failures_are_one_clear_line_each(runs):
    lines = runs["preflight"].stdout.splitlines()

    database = [line for line in lines if line.startswith("FAIL  database: ")]
    redis = [line for line in lines if line.startswith("FAIL  redis: ")]
    assert len(database) == 1
    assert (
        "cannot connect to postgresql chatdesk@127.0.0.1:1/chatdesk: OperationalError"
        in (database[0])
    )
    assert redis == [
        line
        for line in lines
        if line.startswith("FAIL  redis: unreachable at redis://:…@127.0.0.1:1/0: ConnectionError")
    ]
    assert len(redis) == 1
    assert lines[-1].startswith("NO-GO: ")
