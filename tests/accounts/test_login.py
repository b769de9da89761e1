"""Email + password sign-in, mandatory email verification and password reset, end to end."""

from allauth.account.models import EmailAddress
from django.urls import reverse

from tests.accounts.helpers import (
    PASSWORD,
    WRONG_PASSWORD,
    link_in,
    signed_in_user_id,
    user_create,
)

LOGIN = reverse("account_login")


def test_verified_user_signs_in_with_email_and_password(client, alice):
    response = client.post(LOGIN, {"login": "Alice@Example.com", "password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == reverse("tenancy:home")
    assert signed_in_user_id(client) == str(alice.pk)


def test_wrong_password_is_refused_with_a_message_that_does_not_reveal_the_account(client, alice):
    response = client.post(LOGIN, {"login": alice.email, "password": WRONG_PASSWORD})
    unknown = client.post(LOGIN, {"login": "nobody@example.com", "password": WRONG_PASSWORD})

    assert response.status_code == 200
    assert signed_in_user_id(client) is None
    message = "The email address and/or password you specified are not correct."
    assert message in response.text
    assert message in unknown.text


def test_unverified_user_is_sent_to_verify_email_and_the_emailed_link_verifies_and_signs_in(
    client, db, mailoutbox
):
    bob = user_create(email="bob@example.com", verified=False)

    response = client.post(LOGIN, {"login": bob.email, "password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    assert signed_in_user_id(client) is None
    assert "Verify Your Email Address" in client.get(response["Location"]).text
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == [bob.email]
    confirm_path = link_in(mailoutbox[0], "/accounts/confirm-email/")

    # The link shows a confirmation page (a GET never changes state), whose form confirms.
    page = client.get(confirm_path)
    assert page.status_code == 200
    assert signed_in_user_id(client) is None
    response = client.post(confirm_path)

    assert response.status_code == 302
    assert response["Location"] == reverse("tenancy:home")
    assert EmailAddress.objects.get(email=bob.email).verified
    assert signed_in_user_id(client) == str(bob.pk)


def test_password_reset_email_link_sets_a_new_password_and_the_old_one_stops_working(
    client, alice, mailoutbox
):
    new_password = "a brand new passphrase 42"

    response = client.post(reverse("account_reset_password"), {"email": alice.email})

    assert response.status_code == 302
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == [alice.email]
    reset_path = link_in(mailoutbox[0], "/accounts/password/reset/key/")
    # allauth moves the key from the URL into the session, then shows the form.
    form_page = client.get(reset_path, follow=True)
    assert form_page.status_code == 200
    set_password_path = form_page.redirect_chain[-1][0]
    response = client.post(
        set_password_path, {"password1": new_password, "password2": new_password}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("account_reset_password_from_key_done")

    client.logout()
    old = client.post(LOGIN, {"login": alice.email, "password": PASSWORD})
    assert old.status_code == 200
    assert signed_in_user_id(client) is None
    new = client.post(LOGIN, {"login": alice.email, "password": new_password})
    assert new.status_code == 302
    assert signed_in_user_id(client) == str(alice.pk)
    # The emailed link is single-use.
    client.logout()
    reused = client.get(reset_path, follow=True)
    assert "Bad Token" in reused.text
