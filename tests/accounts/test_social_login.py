"""OpenID Connect and Google sign-in appear only when their environment variables are set."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.test import Client
from django.urls import reverse

from chatdesk.accounts.providers import socialaccount_providers_build
from chatdesk.config.env import load_environment

LOGIN = reverse("account_login")
ISSUER = "https://id.example.com/realms/acme"
AUTHORIZE = f"{ISSUER}/protocol/openid-connect/auth"
OIDC_ENV = {
    "APP_ENV": "test",
    "OIDC_SERVER_URL": f"{ISSUER}/",
    "OIDC_CLIENT_ID": "chatdesk-web",
    "OIDC_CLIENT_SECRET": "oidc-client-secret-value",
    "OIDC_PROVIDER_NAME": "Acme SSO",
}
GOOGLE_ENV = {
    "APP_ENV": "test",
    "GOOGLE_CLIENT_ID": "1234.apps.googleusercontent.com",
    "GOOGLE_CLIENT_SECRET": "google-client-secret-value",
}


def providers_from(environ: dict[str, str]) -> dict:
    return socialaccount_providers_build(settings=load_environment(environ).settings)


def provider_forms(page_html: str) -> dict[str, tuple[str, str]]:
    """Sign-in buttons on the page: label -> (form action, CSRF token)."""
    forms = re.findall(
        r'<form method="post" action="([^"]+)" class="auth-provider">\s*'
        r'<input type="hidden" name="csrfmiddlewaretoken" value="([^"]+)">\s*'
        r"<button [^>]*>([^<]+)</button>",
        page_html,
    )
    return {label: (html.unescape(action), token) for action, token, label in forms}


@pytest.fixture
def discovery(monkeypatch):
    """Answer allauth's fetch of the issuer's discovery document; record what was fetched."""
    fetched: list[str] = []
    document = {
        "issuer": ISSUER,
        "authorization_endpoint": AUTHORIZE,
        "token_endpoint": f"{ISSUER}/protocol/openid-connect/token",
        "userinfo_endpoint": f"{ISSUER}/protocol/openid-connect/userinfo",
        "jwks_uri": f"{ISSUER}/protocol/openid-connect/certs",
    }

    def fake_request(self, method, url, *args, **kwargs):
        fetched.append(f"{method} {url}")
        response = requests.Response()
        response.status_code = 200
        response.url = url
        response._content = json.dumps(document).encode()
        return response

    monkeypatch.setattr(requests.Session, "request", fake_request)
    return fetched


# --- the settings builder ---------------------------------------------------------------------


def test_oidc_variables_build_one_openid_connect_app():
    assert providers_from(OIDC_ENV) == {
        "openid_connect": {
            "APPS": [
                {
                    "provider_id": "oidc",
                    "name": "Acme SSO",
                    "client_id": "chatdesk-web",
                    "secret": "oidc-client-secret-value",
                    # No trailing slash, or the discovery path would become //.well-known/...
                    "settings": {"server_url": ISSUER},
                }
            ]
        }
    }


def test_google_variables_build_a_google_app_asking_only_for_profile_and_email():
    assert providers_from(GOOGLE_ENV) == {
        "google": {
            "APPS": [
                {
                    "client_id": "1234.apps.googleusercontent.com",
                    "secret": "google-client-secret-value",
                }
            ],
            "SCOPE": ["profile", "email"],
        }
    }


def test_no_provider_without_its_variables_or_with_only_some_of_them():
    assert providers_from({"APP_ENV": "test"}) == {}
    without_secret = {k: v for k, v in OIDC_ENV.items() if k != "OIDC_CLIENT_SECRET"}
    assert providers_from(without_secret) == {}
    assert providers_from({"APP_ENV": "test", "GOOGLE_CLIENT_ID": "x"}) == {}
    assert set(providers_from({**OIDC_ENV, **GOOGLE_ENV})) == {"openid_connect", "google"}


def test_django_settings_take_the_providers_from_the_environment(tmp_path):
    code = (
        "import json; from chatdesk.config import settings as s; "
        "print(json.dumps(s.SOCIALACCOUNT_PROVIDERS))"
    )
    env = {"PATH": os.environ.get("PATH", ""), **OIDC_ENV, **GOOGLE_ENV}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == providers_from({**OIDC_ENV, **GOOGLE_ENV})


# --- the login page ---------------------------------------------------------------------------


def test_login_page_offers_no_single_sign_on_without_the_variables(client, db, settings):
    settings.SOCIALACCOUNT_PROVIDERS = providers_from({"APP_ENV": "test"})

    page = client.get(LOGIN).text

    assert provider_forms(page) == {}
    assert "auth-provider" not in page
    assert client.post("/accounts/oidc/oidc/login/").status_code == 404


def test_single_sign_on_button_redirects_to_the_issuers_authorization_endpoint(
    db, settings, discovery
):
    settings.SOCIALACCOUNT_PROVIDERS = providers_from(OIDC_ENV)
    client = Client(enforce_csrf_checks=True)

    page = client.get(LOGIN).text
    buttons = provider_forms(page)
    assert set(buttons) == {"Acme SSO"}
    action, csrf_token = buttons["Acme SSO"]
    assert urlsplit(action).path == "/accounts/oidc/oidc/login/"

    response = client.post(action, {"csrfmiddlewaretoken": csrf_token})

    assert discovery == [f"GET {ISSUER}/.well-known/openid-configuration"]
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == AUTHORIZE
    query = parse_qs(location.query)
    assert query["client_id"] == ["chatdesk-web"]
    assert query["redirect_uri"] == ["http://testserver/accounts/oidc/oidc/login/callback/"]
    assert query["response_type"] == ["code"]
    assert set(query["scope"][0].split()) == {"openid", "profile", "email"}
    assert query["state"]
    assert "oidc-client-secret-value" not in page + response["Location"]


def test_google_button_redirects_to_google(db, settings):
    settings.SOCIALACCOUNT_PROVIDERS = providers_from(GOOGLE_ENV)
    client = Client(enforce_csrf_checks=True)

    buttons = provider_forms(client.get(LOGIN).text)
    assert set(buttons) == {"Google"}
    action, csrf_token = buttons["Google"]

    response = client.post(action, {"csrfmiddlewaretoken": csrf_token})

    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.netloc == "accounts.google.com"
    query = parse_qs(location.query)
    assert query["client_id"] == ["1234.apps.googleusercontent.com"]
    assert query["redirect_uri"] == ["http://testserver/accounts/google/login/callback/"]
    assert "google-client-secret-value" not in response["Location"]


def test_a_get_to_the_provider_url_does_not_leave_for_the_provider(client, db, settings):
    # allauth starts a social login only on POST, so a link or image cannot start one (CSRF).
    settings.SOCIALACCOUNT_PROVIDERS = providers_from(GOOGLE_ENV)

    response = client.get("/accounts/google/login/")

    assert response.status_code == 200
    assert "accounts.google.com" not in response.text
