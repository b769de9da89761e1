import json
import time
from unittest import mock

import pytest
from django.db import OperationalError, connections
from django.db.migrations import Migration
from django.db.migrations.executor import MigrationExecutor

DSN_PASSWORD = "pg-dsn-password-4411"
REDIS_PASSWORD = "redis-password-8822"


def test_healthz_answers_without_touching_the_database(client):
    # No django_db mark: any query (session, user, check) would raise here.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_is_ok_when_database_migrations_and_redis_are(client, settings):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    expected_redis = "ok" if settings.ENV.REDIS_URL else "skipped"
    assert body == {
        "status": "ok",
        "checks": {"database": "ok", "migrations": "ok", "redis": expected_redis},
    }


@pytest.mark.django_db
def test_health_probes_need_no_login_and_set_no_cookie(client):
    for path in ["/healthz", "/readyz"]:
        response = client.get(path)
        assert response.status_code == 200
        assert not response.cookies
        assert "no-cache" in response["Cache-Control"]
    assert client.post("/readyz").status_code == 405


@pytest.mark.django_db
def test_readyz_fails_while_a_migration_is_unapplied(client):
    unapplied = Migration("0999_pending", "tenancy")
    with mock.patch.object(MigrationExecutor, "migration_plan", return_value=[(unapplied, False)]):
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["checks"]["migrations"] == "fail: 1 unapplied"
    assert body["checks"]["database"] == "ok"


@pytest.mark.django_db
def test_readyz_fails_when_the_database_errors_and_never_echoes_the_error(client, install_logging):
    stream = install_logging("json")
    error = OperationalError(f'connection to "postgres://app:{DSN_PASSWORD}@db:5432/app" failed')
    with mock.patch.object(connections["default"], "cursor", side_effect=error):
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["checks"]["database"] == "fail: OperationalError"
    assert body["checks"]["migrations"].startswith("fail: ")
    assert DSN_PASSWORD not in response.content.decode()
    assert "postgres://" not in response.content.decode()
    # The operator gets the traceback in the log, with the password masked.
    log = stream.getvalue()
    assert "readiness check database failed: OperationalError" in log
    assert DSN_PASSWORD not in log


@pytest.mark.django_db
def test_readyz_fails_fast_when_redis_is_unreachable_without_showing_its_url(client, settings):
    url = f"redis://:{REDIS_PASSWORD}@127.0.0.1:1/0"  # nothing listens on port 1
    settings.ENV = settings.ENV.model_copy(update={"REDIS_URL": url})
    started = time.monotonic()
    response = client.get("/readyz")
    assert time.monotonic() - started < 5
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["redis"] == "fail: ConnectionError"
    assert body["checks"]["database"] == "ok"
    text = json.dumps(body)
    assert REDIS_PASSWORD not in text
    assert "127.0.0.1" not in text
    assert "redis://" not in text


@pytest.mark.django_db
def test_readyz_skips_redis_when_none_is_configured(client, settings):
    settings.ENV = settings.ENV.model_copy(update={"REDIS_URL": None})
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["redis"] == "skipped"
