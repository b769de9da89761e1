"""The `chatdesk check-env` checklist, built and rendered directly and through call_command."""

import io
import json

import pytest
from django.core.management import call_command
from django.test import override_settings

from chatdesk.config.checks import (
    DEFAULT,
    INVALID,
    MISSING,
    NOT_SET,
    OK,
    PROBLEM,
    build_checklist,
    render_json,
    render_text,
)
from chatdesk.config.env import AppSettings, load_environment
from tests.config.helpers import (
    FERNET_KEY,
    FERNET_KEY_OLD,
    PRODUCTION_DEFAULTS,
    REQUIRED_IN_PRODUCTION,
    VALID_PRODUCTION,
)


def rows_by_name(environ):
    return {row.name: row for row in build_checklist(load_environment(environ)).rows}


def test_checklist_has_one_row_per_declared_variable_in_declared_order():
    checklist = build_checklist(load_environment({}))

    assert [row.name for row in checklist.rows] == list(AppSettings.model_fields)
    assert all(row.description for row in checklist.rows)


def test_production_with_development_defaults_marks_each_required_variable_missing():
    rows = rows_by_name(PRODUCTION_DEFAULTS)

    for name in REQUIRED_IN_PRODUCTION:
        assert rows[name].status == MISSING, name
        assert rows[name].problems[0].fix
    assert rows["EMAIL_PROVIDER"].status == PROBLEM
    assert rows["EMAIL_PROVIDER"].value == "console"
    assert rows["LLM_BASE_URL"].status == NOT_SET
    assert rows["LLM_TIMEOUT_SECONDS"].status == DEFAULT
    assert rows["LLM_TIMEOUT_SECONDS"].value == "15"
    assert rows["APP_ENV"].status == OK


def test_development_shows_which_defaults_are_in_use_without_printing_key_material():
    rows = rows_by_name({})

    assert (rows["SECRET_KEY"].status, rows["SECRET_KEY"].value) == (DEFAULT, "development key")
    assert rows["ENCRYPTION_KEYS"].value == "development key"
    assert rows["DATABASE_URL"].status == DEFAULT
    assert rows["DATABASE_URL"].value.startswith("sqlite:///")
    assert rows["APP_BASE_URL"].value == "http://localhost:8000"
    assert rows["REDIS_URL"].status == NOT_SET


def test_values_are_shown_with_secrets_masked_and_url_passwords_hidden():
    rows = rows_by_name(
        {
            **VALID_PRODUCTION,
            "RESEND_API_KEY": "re_SUPERSECRETVALUE9f2a",
            "ENCRYPTION_KEYS": f"{FERNET_KEY},{FERNET_KEY_OLD}",
            "ALERT_SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/Slack-token-8086",
            "REDIS_URL": "redis://:Redis-pass-42@cache.example.com:6379/0",
        }
    )

    assert rows["RESEND_API_KEY"].value == "re_…9f2a"
    assert rows["ENCRYPTION_KEYS"].value == f"…{FERNET_KEY[-4:]}, …{FERNET_KEY_OLD[-4:]}"
    assert rows["ALERT_SLACK_WEBHOOK_URL"].value == "https://hooks.slack.com/…8086"
    assert rows["DATABASE_URL"].value == "postgres://chatdesk:…@127.0.0.1:1/chatdesk"
    assert rows["REDIS_URL"].value == "redis://:…@cache.example.com:6379/0"
    assert rows["SECRET_KEY"].value == f"…{VALID_PRODUCTION['SECRET_KEY'][-4:]}"
    # Non-secret values are shown as they are.
    assert rows["DEFAULT_FROM_EMAIL"].value == "chatdesk <noreply@example.com>"
    assert rows["ALLOWED_HOSTS"].value == "crm.example.com"


def test_invalid_value_row_says_invalid_and_lists_the_problem():
    rows = rows_by_name({"LLM_TIMEOUT_SECONDS": "abc"})

    row = rows["LLM_TIMEOUT_SECONDS"]
    assert (row.status, row.value) == (INVALID, "(rejected)")
    assert [p.code for p in row.problems] == ["E007"]


def test_only_a_problem_free_production_environment_is_production_ready():
    ready = build_checklist(load_environment(VALID_PRODUCTION))
    development = build_checklist(load_environment({}))
    broken = build_checklist(load_environment(PRODUCTION_DEFAULTS))

    assert ready.production_ready
    assert ready.verdict.startswith("production-ready")
    assert not development.production_ready
    assert development.problem_count == 0
    assert "not production-ready: APP_ENV is development" in development.verdict
    assert not broken.production_ready
    assert broken.verdict.startswith(f"NOT production-ready: {broken.problem_count} problem(s)")


def test_text_rendering_has_a_line_per_variable_then_problems_with_fixes_and_a_summary():
    checklist = build_checklist(load_environment(PRODUCTION_DEFAULTS))

    lines = render_text(checklist).splitlines()

    for name in AppSettings.model_fields:
        assert sum(line.startswith(f"  {name} ") for line in lines) == 1, name
    secret_key = next(i for i, line in enumerate(lines) if line.startswith("  SECRET_KEY "))
    assert "missing" in lines[secret_key]
    assert "[E001] SECRET_KEY: is required in production" in lines[secret_key + 1]
    assert "fix: generate one with `chatdesk generate-secret-key`" in lines[secret_key + 2]
    assert lines[-2].startswith(f"{len(AppSettings.model_fields)} variables: ")
    assert lines[-1] == checklist.verdict


def test_json_rendering_is_machine_readable():
    checklist = build_checklist(load_environment(PRODUCTION_DEFAULTS))

    document = json.loads(render_json(checklist))

    assert document["production_ready"] is False
    assert document["problem_count"] == checklist.problem_count
    variables = {v["name"]: v for v in document["variables"]}
    assert variables["SECRET_KEY"]["status"] == MISSING
    assert variables["SECRET_KEY"]["problems"][0]["code"] == "E001"
    assert sum(document["summary"].values()) == len(AppSettings.model_fields)


def test_check_env_command_exits_zero_when_production_ready():
    out = io.StringIO()

    with override_settings(ENVIRONMENT=load_environment(VALID_PRODUCTION)):
        call_command("check-env", stdout=out)

    assert (
        out.getvalue().rstrip().endswith("production-ready: every variable is valid for production")
    )


@pytest.mark.parametrize("environ", [{}, PRODUCTION_DEFAULTS], ids=["development", "broken"])
def test_check_env_command_exits_one_unless_production_ready(environ):
    out = io.StringIO()

    with (
        override_settings(ENVIRONMENT=load_environment(environ)),
        pytest.raises(SystemExit) as exit_info,
    ):
        call_command("check-env", "--json", stdout=out)

    assert exit_info.value.code == 1
    assert json.loads(out.getvalue())["production_ready"] is False
