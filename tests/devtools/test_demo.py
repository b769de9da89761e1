import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from chatdesk.devtools.seed import DEMO_EMAIL, DEMO_PASSWORD, DemoRefusedError, demo_seed
from chatdesk.ops.checks import check_no_demo_data_in_production
from chatdesk.tenancy.models import Membership, Role, Workspace

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "APP_ENV": "production",
    "SECRET_KEY": "Xk2v9Qp7Lm4Rt8Wz1Nb6Hc3Jd5Fg0Ys7Ua2Ie9Ow4Pq1Lr8Tk3Mz6Vb5Nc0Xa7Sd",
    "DATABASE_URL": "postgres://chatdesk:pw@db.internal.example.com:5432/chatdesk",
    "REDIS_URL": "redis://cache.internal.example.com:6379/0",
    "APP_BASE_URL": "https://crm.example.com",
    "ALLOWED_HOSTS": "crm.example.com",
    "ENCRYPTION_KEYS": "q8mJ1ZkK3f0b1c6B5lW8oY4tqjz3r8Fv0Qp2XhN6dHo=",
    "EMAIL_PROVIDER": "resend",
    "RESEND_API_KEY": "re_live_abcdefghijklmnop",
    "DEFAULT_FROM_EMAIL": "chatdesk <noreply@example.com>",
}


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**base, **env, "DJANGO_SETTINGS_MODULE": "chatdesk.config.settings"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.django_db
def test_demo_seed_creates_a_workspace_with_an_owner_who_can_log_in(client):
    login = demo_seed()
    assert login.workspace.is_demo
    user = get_user_model().objects.get(email=DEMO_EMAIL)
    membership = Membership.objects.for_workspace(login.workspace).get(user=user)
    assert membership.role == Role.OWNER
    response = client.post(
        "/accounts/login/", {"login": DEMO_EMAIL, "password": DEMO_PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == f"/w/{login.workspace.slug}/"


@pytest.mark.django_db
def test_demo_seed_run_twice_duplicates_nothing():
    demo_seed()
    demo_seed()
    assert Workspace.objects.filter(slug="demo").count() == 1
    assert get_user_model().objects.filter(email=DEMO_EMAIL).count() == 1


@pytest.mark.django_db
def test_demo_seed_refuses_in_production(settings):
    settings.APP_ENV = "production"
    with pytest.raises(DemoRefusedError, match="development-only"):
        demo_seed()
    assert not Workspace.objects.filter(slug="demo").exists()


@pytest.mark.django_db
def test_demo_command_refuses_in_production(settings):
    settings.APP_ENV = "production"
    with pytest.raises(CommandError, match="create-workspace"):
        call_command("demo", "--seed-only")


@pytest.mark.django_db
def test_demo_workspace_in_production_is_a_deploy_check_error(settings):
    demo_seed()
    assert check_no_demo_data_in_production(databases=["default"]) == []
    settings.APP_ENV = "production"
    errors = check_no_demo_data_in_production(databases=["default"])
    assert [e.id for e in errors] == ["chatdesk.E010"]
    assert "demo" in errors[0].msg


def test_production_url_map_has_no_development_route():
    code = """
import json, django
django.setup()
from django.conf import settings
from django.urls import get_resolver

def walk(patterns, prefix=""):
    for p in patterns:
        route = prefix + str(p.pattern)
        if hasattr(p, "url_patterns"):
            yield from walk(p.url_patterns, route)
        else:
            yield route, f"{p.callback.__module__}.{p.callback.__name__}"

routes = list(walk(get_resolver().url_patterns))
print(json.dumps({"apps": settings.INSTALLED_APPS, "routes": routes}))
"""
    production = run_python(code, PRODUCTION_ENV)
    assert production.returncode == 0, production.stderr
    result = json.loads(production.stdout)
    routes = result["routes"]
    assert any(route == "healthz" for route, _ in routes)  # the walk really saw the URL map
    assert "chatdesk.devtools" not in result["apps"]
    offenders = [r for r in routes if r[0].startswith("dev/") or "devtools" in r[1]]
    assert offenders == []

    development = run_python(code, {"APP_ENV": "development", "DATABASE_URL": "sqlite://:memory:"})
    assert development.returncode == 0, development.stderr
    dev_routes = json.loads(development.stdout)["routes"]
    assert any(route.startswith("dev/") for route, _ in dev_routes)
