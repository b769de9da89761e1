"""Configuration problems surface as Django system checks (chatdesk.E001 ...)."""

import pytest
from django.core.checks import ERROR, run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from chatdesk.config.checks import CONFIG_CHECK_IDS, TAG
from chatdesk.config.env import load_environment
from tests.config.helpers import PRODUCTION_DEFAULTS, REQUIRED_IN_PRODUCTION, VALID_PRODUCTION


def config_messages(*, deploy: bool):
    # Only the configuration checks: the others (models, other apps) are not under test here.
    messages = run_checks(include_deployment_checks=deploy, tags=[TAG])
    assert all(m.id in CONFIG_CHECK_IDS for m in messages)
    return messages


@pytest.mark.parametrize("deploy", [False, True])
def test_each_production_problem_is_one_error_naming_the_variable_with_the_fix_as_hint(deploy):
    problems = load_environment(PRODUCTION_DEFAULTS).problems

    with override_settings(CHATDESK_CONFIG_PROBLEMS=problems):
        messages = config_messages(deploy=deploy)

    assert len(messages) == len(problems)
    missing = [m for m in messages if m.id == "chatdesk.E001"]
    assert {m.msg.split(":")[0] for m in missing} == set(REQUIRED_IN_PRODUCTION)
    secret_key = next(m for m in missing if m.msg.startswith("SECRET_KEY"))
    assert secret_key.level == ERROR
    assert "required in production" in secret_key.msg
    assert "chatdesk generate-secret-key" in secret_key.hint
    assert any(m.id == "chatdesk.E006" and m.msg.startswith("EMAIL_PROVIDER") for m in messages)


def test_invalid_values_show_in_a_plain_check_in_development():
    problems = load_environment({"LLM_TIMEOUT_SECONDS": "abc", "ENCRYPTION_KEYS": "bad"}).problems

    with override_settings(CHATDESK_CONFIG_PROBLEMS=problems):
        messages = config_messages(deploy=False)

    assert sorted((m.id, m.msg.split(":")[0]) for m in messages) == [
        ("chatdesk.E007", "ENCRYPTION_KEYS"),
        ("chatdesk.E007", "LLM_TIMEOUT_SECONDS"),
    ]
    assert all("see .env.example" in m.hint for m in messages)


def test_check_command_fails_while_the_configuration_has_a_problem():
    problems = load_environment({**VALID_PRODUCTION, "DEBUG": "true"}).problems

    with (
        override_settings(CHATDESK_CONFIG_PROBLEMS=problems),
        pytest.raises(SystemCheckError, match=r"chatdesk\.E002"),
    ):
        call_command("check", tag=[TAG])


def test_valid_configuration_adds_no_configuration_check_message():
    with override_settings(CHATDESK_CONFIG_PROBLEMS=load_environment(VALID_PRODUCTION).problems):
        assert config_messages(deploy=True) == []
