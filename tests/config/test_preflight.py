"""`chatdesk preflight` items, called directly against the test database."""

import io
import json
import os

import pytest
from django.core import checks
from django.core.management import call_command
from django.test import override_settings

from chatdesk.config.env import load_environment
from chatdesk.ops.management.commands import preflight
from chatdesk.ops.management.commands.preflight import FAIL, PASS, WARN, Item
from tests.config.helpers import PRODUCTION_DEFAULTS, VALID_PRODUCTION

VALID = load_environment(VALID_PRODUCTION)


def outcomes(items):
    return [(item.outcome, item.name) for item in items]


def test_configuration_fails_outside_production_mode():
    items = preflight.configuration_items(load_environment({}))

    assert outcomes(items) == [(FAIL, "configuration")]
    assert "APP_ENV is development" in items[0].detail


def test_configuration_lists_each_production_problem_as_its_own_failure():
    environment = load_environment(PRODUCTION_DEFAULTS)

    items = preflight.configuration_items(environment)

    assert len(items) == len(environment.problems)
    assert all(item.outcome == FAIL for item in items)
    assert any(item.detail.startswith("[E001] SECRET_KEY: is required") for item in items)


def test_configuration_passes_for_a_valid_production_environment():
    assert outcomes(preflight.configuration_items(VALID)) == [(PASS, "configuration")]


def test_database_reachable_and_migrated_passes(db):
    items = preflight.database_items(VALID, using="default")

    assert outcomes(items) == [(PASS, "database"), (PASS, "migrations")]


def test_database_is_not_checked_when_database_url_is_missing_in_production():
    items = preflight.database_items(load_environment(PRODUCTION_DEFAULTS), using="default")

    assert outcomes(items) == [(FAIL, "database")]
    assert "DATABASE_URL is missing or invalid" in items[0].detail


def test_unreachable_redis_is_one_failure_naming_the_error_class_without_the_password():
    environment = load_environment(
        {**VALID_PRODUCTION, "REDIS_URL": "redis://:Redis-pass-42@127.0.0.1:1/0"}
    )

    (item,) = preflight.redis_items(environment)

    assert item.outcome == FAIL
    assert "ConnectionError" in item.detail
    assert "redis://:…@127.0.0.1:1/0" in item.detail
    assert "Redis-pass-42" not in item.render()


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs a Redis server (REDIS_URL)")
def test_reachable_redis_passes():
    environment = load_environment({**VALID_PRODUCTION, "REDIS_URL": os.environ["REDIS_URL"]})

    assert outcomes(preflight.redis_items(environment)) == [(PASS, "redis")]


def test_redis_not_configured_is_a_warning_in_development():
    assert outcomes(preflight.redis_items(load_environment({}))) == [(WARN, "redis")]


def test_uncollected_static_files_fail_when_the_storage_needs_a_manifest(tmp_path):
    manifest_storage = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
    }
    with override_settings(STORAGES=manifest_storage, STATIC_ROOT=tmp_path):
        before = preflight.static_files_items()
        (tmp_path / "staticfiles.json").write_text(
            json.dumps({"version": "1.1", "paths": {}, "hash": "0"})
        )
        after = preflight.static_files_items()

    assert outcomes(before) == [(FAIL, "static files")]
    assert "collectstatic" in before[0].detail
    assert outcomes(after) == [(PASS, "static files")]


def test_development_static_storage_needs_no_collected_files():
    assert preflight.static_files_items() == []


@pytest.mark.parametrize(
    ("app_env_source", "w001_outcome"),
    [(VALID_PRODUCTION, FAIL), ({}, WARN)],
    ids=["production", "development"],
)
def test_system_check_messages_become_lines_and_no_workspace_owner_blocks_production(
    monkeypatch, app_env_source, w001_outcome
):
    messages = [
        checks.Error("broken thing", hint="mend it", id="other.E001"),
        checks.Warning("risky thing", id="security.W004"),
        checks.Warning("No workspace has an accepted owner", id="chatdesk.W001"),
        checks.Info("fyi", id="other.I001"),
        # Configuration problems have their own preflight lines; not repeated here.
        checks.Error("SECRET_KEY: is required", id="chatdesk.E001"),
    ]
    monkeypatch.setattr(preflight, "run_checks", lambda **kwargs: messages)

    items = preflight.system_check_items(load_environment(app_env_source), databases=None)

    assert outcomes(items) == [
        (FAIL, "check other.E001"),
        (WARN, "check security.W004"),
        (w001_outcome, "check chatdesk.W001"),
    ]
    assert items[0].detail == "broken thing Hint: mend it"


def test_silenced_system_checks_are_left_out(monkeypatch):
    monkeypatch.setattr(
        preflight, "run_checks", lambda **kwargs: [checks.Warning("noise", id="security.W021")]
    )

    with override_settings(SILENCED_SYSTEM_CHECKS=["security.W021"]):
        items = preflight.system_check_items(VALID, databases=None)

    assert outcomes(items) == [(PASS, "system checks")]


def test_a_crashing_system_check_is_one_failure_line(monkeypatch):
    def crash(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(preflight, "run_checks", crash)

    items = preflight.system_check_items(VALID, databases=None)

    assert [item.render() for item in items] == ["FAIL  system checks: crashed: RuntimeError: boom"]


def test_error_reasons_have_every_known_secret_masked():
    environment = load_environment(
        {**VALID_PRODUCTION, "REDIS_URL": "redis://:Redis-pass-42@127.0.0.1:1/0"}
    )
    error = OSError("auth failed for Pg-pass-4711 and Redis-pass-42 with re_Resend0123456789abcdef")

    described = preflight._describe(error, environment)

    assert described.startswith("OSError: auth failed for ")
    for secret in ("Pg-pass-4711", "Redis-pass-42", "re_Resend0123456789abcdef"):
        assert secret not in described


def test_preflight_command_says_go_and_exits_zero_when_every_item_passes(db, monkeypatch):
    monkeypatch.setattr(preflight, "redis_items", lambda environment: [Item(PASS, "redis", "ok")])
    monkeypatch.setattr(preflight, "run_checks", lambda **kwargs: [])
    out = io.StringIO()

    with override_settings(ENVIRONMENT=VALID):
        call_command("preflight", stdout=out)

    lines = out.getvalue().splitlines()
    assert all(line.startswith(PASS) for line in lines[:-1])
    assert lines[-1] == "GO: no failures, 0 warning(s)"


def test_preflight_command_says_no_go_and_exits_one_on_any_failure(db, monkeypatch):
    monkeypatch.setattr(preflight, "run_checks", lambda **kwargs: [])
    out = io.StringIO()

    with (
        override_settings(ENVIRONMENT=load_environment({})),
        pytest.raises(SystemExit) as exit_info,
    ):
        call_command("preflight", stdout=out)

    assert exit_info.value.code == 1
    assert out.getvalue().splitlines()[-1].startswith("NO-GO: 1 failure(s)")
