"""Account pages are the app's pages: same layout, readable on a phone, labelled fields."""

import pytest
from django.urls import reverse

from tests.accounts.helpers import PASSWORD

APP_LAYOUT = [
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    'href="/static/chatdesk/app.css"',
    'class="topbar"',
    'class="auth-title"',
]


def assert_app_layout(page: str) -> None:
    for marker in APP_LAYOUT:
        assert marker in page
    assert "Menu:" not in page  # allauth's unstyled default layout


@pytest.mark.parametrize(
    "name",
    [
        "account_login",
        "account_reset_password",
        "account_reset_password_done",
        "account_email_verification_sent",
    ],
)
def test_entrance_pages_use_the_app_layout(client, db, name):
    response = client.get(reverse(name))

    assert response.status_code == 200
    assert_app_layout(response.text)


@pytest.mark.parametrize("name", ["account_email", "account_change_password", "mfa_index"])
def test_account_settings_pages_use_the_app_layout_with_their_navigation(client, alice, name):
    client.post(reverse("account_login"), {"login": alice.email, "password": PASSWORD})

    response = client.get(reverse(name))

    assert response.status_code == 200
    assert_app_layout(response.text)
    assert 'aria-label="Account settings"' in response.text
    assert f'href="{reverse("mfa_index")}"' in response.text


def test_login_form_has_visible_labels_and_a_reset_link_but_no_sign_up_link(client, db):
    page = client.get(reverse("account_login")).text

    assert '<label for="id_login">Email</label>' in page
    assert '<label for="id_password">Password</label>' in page
    assert f'href="{reverse("account_reset_password")}"' in page
    assert f'href="{reverse("account_signup")}"' not in page
    assert "invitation" in page


def test_refused_sign_in_shows_its_reason_as_an_alert(client, alice):
    response = client.post(
        reverse("account_login"), {"login": alice.email, "password": "wrong password"}
    )

    assert '<div class="auth-alert is-error" role="alert">' in response.text
