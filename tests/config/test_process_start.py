"""What an operator sees when a chatdesk process starts: real `python -m chatdesk` subprocesses.

Each start costs about a second, so every run is made once per module and shared by the tests
that read it.
"""

import pytest

from tests.config.helpers import (
    PRODUCTION_DEFAULTS,
    REQUIRED_IN_PRODUCTION,
    VALID_PRODUCTION,
    output_of,
    run_chatdesk,
)

REFUSED = 2


@pytest.fixture(scope="module")
def production_defaults_runs():
    return {
        "migrate": run_chatdesk("migrate", env=PRODUCTION_DEFAULTS),
        "runserver": run_chatdesk("runserver", "--noreload", env=PRODUCTION_DEFAULTS),
        "wsgi": run_chatdesk(env=PRODUCTION_DEFAULTS, python=["-c", "import chatdesk.config.wsgi"]),
    }


@pytest.mark.parametrize("start", ["migrate", "runserver", "wsgi"])
def test_production_with_development_defaults_refuses_to_start_listing_every_problem(
    production_defaults_runs, start
):
    result = production_defaults_runs[start]
    output = output_of(result)

    assert result.returncode == REFUSED
    assert "Traceback" not in output
    assert "chatdesk cannot start: 9 configuration problem(s) (production)" in output
    for variable in REQUIRED_IN_PRODUCTION:
        assert f"[E001] {variable}: is required in production but not set. Fix: " in output
    assert "[E006] EMAIL_PROVIDER: is console" in output
    assert "chatdesk check-env" in output


def test_check_env_in_production_with_development_defaults_lists_each_problem_and_fails():
    result = run_chatdesk("check-env", env=PRODUCTION_DEFAULTS)

    assert result.returncode == 1
    assert "Traceback" not in output_of(result)
    for variable in REQUIRED_IN_PRODUCTION:
        assert f"[E001] {variable}: is required in production but not set" in result.stdout
    assert "NOT production-ready: 9 problem(s)" in result.stdout


def test_check_deploy_in_production_lists_the_chatdesk_check_ids():
    result = run_chatdesk("check", "--deploy", env=PRODUCTION_DEFAULTS)
    output = output_of(result)

    assert result.returncode == 1
    assert "(chatdesk.E001) SECRET_KEY: is required in production but not set" in output
    assert "(chatdesk.E006) EMAIL_PROVIDER" in output
    assert "Traceback" not in output


def test_fully_valid_production_environment_passes_check_env():
    result = run_chatdesk("check-env", env=VALID_PRODUCTION)

    assert result.returncode == 0, output_of(result)
    assert result.stdout.rstrip().endswith(
        "production-ready: every variable is valid for production"
    )


def test_one_bad_value_in_an_otherwise_valid_production_environment_stops_the_process():
    result = run_chatdesk("migrate", env={**VALID_PRODUCTION, "DEBUG": "true"})

    assert result.returncode == REFUSED
    assert "chatdesk cannot start: 1 configuration problem(s) (production)" in result.stderr
    assert "[E002] DEBUG: is on in production. Fix: unset DEBUG or set DEBUG=false" in result.stderr


INVALID_DEVELOPMENT = {
    "APP_ENV": "development",
    "LLM_TIMEOUT_SECONDS": "abc",
    "APP_BASE_URL": "not a url",
    "ENCRYPTION_KEYS": "bad",
}


def test_invalid_values_in_development_stop_the_process_with_a_clear_error(tmp_path):
    env = {**INVALID_DEVELOPMENT, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}

    result = run_chatdesk("migrate", env=env)

    assert result.returncode == REFUSED
    assert "Traceback" not in output_of(result)
    assert "3 configuration problem(s) (development)" in result.stderr
    assert "[E007] LLM_TIMEOUT_SECONDS: invalid value: Input should be a valid integer" in (
        result.stderr
    )
    assert "[E007] APP_BASE_URL: invalid value: must be an absolute http(s) URL" in result.stderr
    assert "[E007] ENCRYPTION_KEYS: invalid value: key #1 is not a valid Fernet key" in (
        result.stderr
    )
    assert not (tmp_path / "db.sqlite3").exists()


def test_check_env_still_prints_the_checklist_when_values_are_invalid(tmp_path):
    env = {**INVALID_DEVELOPMENT, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}

    result = run_chatdesk("check-env", env=env)

    assert result.returncode == 1
    assert "Traceback" not in output_of(result)
    lines = result.stdout.splitlines()
    timeout = next(line for line in lines if line.startswith("  LLM_TIMEOUT_SECONDS "))
    assert "invalid" in timeout
    assert any(line.startswith("  DATABASE_URL ") and " ok " in line for line in lines)
    assert "NOT production-ready: 3 problem(s)" in result.stdout


def test_preflight_reports_an_unmigrated_database_and_exits_non_zero(tmp_path):
    database = tmp_path / "db.sqlite3"
    database.touch()

    result = run_chatdesk("preflight", env={"DATABASE_URL": f"sqlite:///{database}"})

    assert result.returncode == 1
    assert "Traceback" not in output_of(result)
    lines = result.stdout.splitlines()
    assert "FAIL  configuration: APP_ENV is development" in lines[0]
    assert f"PASS  database: reachable at sqlite {database}" in lines
    assert any(line.startswith("FAIL  migrations: ") and "not applied" in line for line in lines)
    assert lines[-1].startswith("NO-GO: ")
