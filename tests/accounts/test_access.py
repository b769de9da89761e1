"""No way in without a session: every app page sends an anonymous visitor to the sign-in page,
and the Django admin has no sign-in form of its own that would skip throttling and two-factor."""

from urllib.parse import urlsplit

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.urls import reverse

from tests.accounts.helpers import PASSWORD, WRONG_PASSWORD, signed_in_user_id, user_create

LOGIN = reverse("account_login")


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/w/x/",
        "/admin/",
        "/admin/auth/user/",
        "/accounts/email/",
        "/accounts/password/change/",
        "/accounts/2fa/",
        "/accounts/2fa/totp/activate/",
    ],
)
def test_anonymous_visitor_is_sent_to_sign_in(client, db, path):
    response = client.get(path, follow=True)

    assert response.redirect_chain, f"{path} answered without a session"
    assert urlsplit(response.redirect_chain[-1][0]).path == LOGIN
    assert response.status_code == 200


@pytest.mark.parametrize("name", ["account_login", "account_reset_password", "ops:healthz"])
def test_sign_in_password_reset_and_health_need_no_session(client, db, name):
    assert client.get(reverse(name)).status_code == 200


def test_admin_sign_in_cannot_skip_two_factor(client, db):
    staff = user_create(email="staff@example.com")
    staff.is_staff = staff.is_superuser = True
    staff.save()
    TOTP.activate(staff, generate_totp_secret())
    assert Authenticator.objects.filter(user=staff).exists()

    client.post(
        "/admin/login/?next=/admin/",
        {"username": staff.username, "password": PASSWORD, "next": "/admin/"},
    )

    assert signed_in_user_id(client) is None


def test_admin_sign_in_cannot_skip_throttling(client, db):
    staff = user_create(email="staff@example.com")
    staff.is_staff = True
    staff.save()
    for _ in range(5):
        client.post(LOGIN, {"login": staff.email, "password": WRONG_PASSWORD})

    client.post("/admin/login/", {"username": staff.username, "password": PASSWORD})

    assert signed_in_user_id(client) is None
