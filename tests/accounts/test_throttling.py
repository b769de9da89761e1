"""Failed sign-ins are throttled per account and per IP, in the cache every process shares.

Settings: `ACCOUNT_RATE_LIMITS["login_failed"] = "10/m/ip,5/5m/key"` (allauth counts each
attempt before checking the password and takes a successful attempt back out).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from allauth.account.adapter import get_adapter
from allauth.core.internal.ratelimit import get_cache_key, parse_rates
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.db import DatabaseCache
from django.core.cache.backends.redis import RedisCache
from django.test import RequestFactory
from django.urls import reverse

from tests.accounts.helpers import (
    PASSWORD,
    THROTTLED,
    WRONG_PASSWORD,
    signed_in_user_id,
    user_create,
)

LOGIN = reverse("account_login")
LOGIN_PROCESS = Path(__file__).with_name("login_process.py")
REPO_ROOT = Path(__file__).resolve().parents[2]
IP_1, IP_2 = "203.0.113.10", "198.51.100.20"


def attempt(client, email: str, password: str, ip: str = IP_1):
    return client.post(LOGIN, {"login": email, "password": password}, REMOTE_ADDR=ip)


def fail(client, email: str, times: int, ip: str = IP_1) -> None:
    for _ in range(times):
        response = attempt(client, email, WRONG_PASSWORD, ip)
        assert response.status_code == 200
        assert THROTTLED not in response.text


def test_sixth_attempt_with_the_correct_password_is_refused_after_five_failures(client, alice):
    fail(client, alice.email, 5)

    response = attempt(client, alice.email, PASSWORD)

    assert response.status_code == 200
    assert f"{THROTTLED}. Try again later." in response.text
    assert signed_in_user_id(client) is None


def test_account_limit_holds_from_any_ip_and_leaves_other_accounts_alone(client, alice, db):
    bob = user_create(email="bob@example.com")
    fail(client, alice.email, 5, ip=IP_1)

    from_elsewhere = attempt(client, alice.email, PASSWORD, ip=IP_2)
    assert THROTTLED in from_elsewhere.text
    assert signed_in_user_id(client) is None

    other_account = attempt(client, bob.email, PASSWORD, ip=IP_1)
    assert other_account.status_code == 302
    assert signed_in_user_id(client) == str(bob.pk)


def test_failures_spread_over_many_accounts_from_one_ip_hit_the_ip_limit(client, alice):
    for n in range(10):
        fail(client, f"guess{n}@example.com", 1, ip=IP_1)

    same_ip = attempt(client, alice.email, PASSWORD, ip=IP_1)
    assert THROTTLED in same_ip.text
    assert signed_in_user_id(client) is None

    other_ip = attempt(client, alice.email, PASSWORD, ip=IP_2)
    assert other_ip.status_code == 302
    assert signed_in_user_id(client) == str(alice.pk)


def test_changing_the_host_header_does_not_buy_an_account_a_fresh_budget(client, alice):
    # Django accepts any port and letter case of an allowed host; neither may reset the count.
    fail(client, alice.email, 5)

    for host in ["TESTSERVER", "testserver:8443"]:
        response = client.post(
            LOGIN, {"login": alice.email, "password": PASSWORD}, HTTP_HOST=host, REMOTE_ADDR=IP_2
        )
        assert THROTTLED in response.text, host
        assert signed_in_user_id(client) is None


def test_a_successful_sign_in_does_not_reset_the_failure_count(client, alice):
    # Otherwise an attacker who knows one password could interleave it to brute-force others.
    fail(client, "victim@example.com", 4)
    assert attempt(client, alice.email, PASSWORD).status_code == 302
    client.logout()
    fail(client, "victim@example.com", 1)

    assert THROTTLED in attempt(client, "victim@example.com", WRONG_PASSWORD).text


def test_behind_the_production_proxy_each_client_ip_has_its_own_budget(client, alice, settings):
    # Production reads the client from the last X-Forwarded-For entry (the one the proxy added);
    # without that, every visitor would share the proxy's address and one budget.
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.2"
    for n in range(10):
        client.post(
            LOGIN,
            {"login": f"guess{n}@example.com", "password": WRONG_PASSWORD},
            REMOTE_ADDR=proxy,
            HTTP_X_FORWARDED_FOR=IP_1,
        )

    # A spoofed first entry does not let the attacker out of its budget ...
    spoofed = client.post(
        LOGIN,
        {"login": alice.email, "password": PASSWORD},
        REMOTE_ADDR=proxy,
        HTTP_X_FORWARDED_FOR=f"{IP_2}, {IP_1}",
    )
    assert THROTTLED in spoofed.text
    # ... and another visitor behind the same proxy signs in.
    other = client.post(
        LOGIN,
        {"login": alice.email, "password": PASSWORD},
        REMOTE_ADDR=proxy,
        HTTP_X_FORWARDED_FOR=IP_2,
    )
    assert other.status_code == 302


def test_production_settings_read_the_client_ip_behind_one_proxy(tmp_path):
    code = "from chatdesk.config import settings as s; print(s.ALLAUTH_TRUSTED_PROXY_COUNT)"
    env = {"PATH": os.environ.get("PATH", ""), "APP_ENV": "production"}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"
    assert settings.ALLAUTH_TRUSTED_PROXY_COUNT == 0  # no proxy in development and tests


def test_counters_live_in_the_shared_cache_not_in_process_memory(client, alice):
    backend = caches["default"]
    assert isinstance(backend, DatabaseCache | RedisCache)
    assert "locmem" not in settings.CACHES["default"]["BACKEND"].lower()
    fail(client, alice.email, 5)

    # A brand-new cache client, as another web process would open, sees the five failures.
    fresh = caches.create_connection("default")
    assert fresh is not backend
    request = RequestFactory().post(LOGIN, REMOTE_ADDR=IP_1)
    ip_rate, account_rate = parse_rates(settings.ACCOUNT_RATE_LIMITS["login_failed"])
    ip_key = get_cache_key(request, app="allauth.account", action="login_failed", rate=ip_rate)
    # The account key as allauth's adapter derives it from the submitted email.
    account_key = get_cache_key(
        request,
        app="allauth.account",
        action="login_failed",
        rate=account_rate,
        key=get_adapter()._get_login_attempts_cache_key(request, email=alice.email),
    )
    assert len(fresh.get(ip_key)) == 5
    assert len(fresh.get(account_key)) == 5


def test_failures_recorded_by_one_process_throttle_a_sign_in_in_another(tmp_path):
    # Two real processes sharing one database file (and Redis when the run has REDIS_URL).
    env = {
        **os.environ,
        "APP_ENV": "test",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'shared.db'}",
        "PYTHONPATH": str(REPO_ROOT),
    }

    def run(mode: str) -> str:
        result = subprocess.run(
            [sys.executable, str(LOGIN_PROCESS), mode, "carol@example.com"],
            env=env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    run("fail")
    assert run("login") == "throttled"


def test_a_flood_of_sign_in_requests_from_one_ip_gets_a_readable_429_page(client, db):
    # ACCOUNT_RATE_LIMITS["login"] = "30/m/ip", whatever the outcome of each attempt.
    for _ in range(30):
        assert attempt(client, "anyone@example.com", WRONG_PASSWORD).status_code == 200

    response = attempt(client, "anyone@example.com", WRONG_PASSWORD)

    assert response.status_code == 429
    assert "Too many attempts" in response.text
    assert 'class="topbar"' in response.text
    assert attempt(client, "anyone@example.com", WRONG_PASSWORD, ip=IP_2).status_code == 200
