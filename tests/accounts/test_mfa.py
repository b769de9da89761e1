"""Optional TOTP two-factor authentication: activation, then a code at every sign-in."""

import time

from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from allauth.mfa.totp.internal.auth import yield_hotp_counters_from_time as counters
from django.urls import reverse

from tests.accounts.helpers import PASSWORD, signed_in_user_id

LOGIN = reverse("account_login")
TOTP_PERIOD = mfa_settings.TOTP_PERIOD


def current_code(secret: str) -> str:
    # allauth's own TOTP arithmetic, so the test agrees with the server on the code. Near the end
    # of a 30-second step, wait for the next one so the server checks the same step.
    left = TOTP_PERIOD - time.time() % TOTP_PERIOD
    if left < 2:
        time.sleep(left)
    (counter,) = counters()  # one counter: MFA_TOTP_TOLERANCE is 0
    return format_hotp_value(hotp_value(secret, counter))


def wrong_code(secret: str) -> str:
    return f"{(int(current_code(secret)) + 1) % 1_000_000:06d}"


def activate_totp(client, user) -> str:
    client.post(LOGIN, {"login": user.email, "password": PASSWORD})
    # allauth asks for the password again before any change to two-factor settings.
    assert client.get(reverse("mfa_activate_totp"))["Location"].startswith(
        reverse("account_reauthenticate")
    )
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    page = client.get(reverse("mfa_activate_totp"))
    assert page.status_code == 200
    secret = page.context["form"].secret
    refused = client.post(reverse("mfa_activate_totp"), {"code": wrong_code(secret)})
    assert "Incorrect code." in refused.text
    response = client.post(reverse("mfa_activate_totp"), {"code": current_code(secret)})
    assert response.status_code == 302
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
    client.logout()
    return secret


def test_user_without_two_factor_is_not_asked_for_a_code(client, alice):
    response = client.post(LOGIN, {"login": alice.email, "password": PASSWORD})

    assert response["Location"] == reverse("tenancy:home")


def test_after_activating_totp_sign_in_asks_for_the_code_and_accepts_only_the_right_one(
    client, alice
):
    secret = activate_totp(client, alice)

    response = client.post(LOGIN, {"login": alice.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_authenticate")
    assert signed_in_user_id(client) is None
    # The password alone opens nothing.
    assert client.get(reverse("tenancy:home"))["Location"].startswith(LOGIN)

    wrong = client.post(reverse("mfa_authenticate"), {"code": wrong_code(secret)})
    assert wrong.status_code == 200
    assert "Incorrect code." in wrong.text
    assert signed_in_user_id(client) is None

    right = client.post(reverse("mfa_authenticate"), {"code": current_code(secret)})
    assert right.status_code == 302
    assert right["Location"] == reverse("tenancy:home")
    assert signed_in_user_id(client) == str(alice.pk)


def test_wrong_codes_are_throttled_like_passwords(client, alice):
    secret = activate_totp(client, alice)
    client.post(LOGIN, {"login": alice.email, "password": PASSWORD})
    for _ in range(5):
        client.post(reverse("mfa_authenticate"), {"code": wrong_code(secret)})

    response = client.post(reverse("mfa_authenticate"), {"code": current_code(secret)})

    assert "Too many failed login attempts" in response.text
    assert signed_in_user_id(client) is None
