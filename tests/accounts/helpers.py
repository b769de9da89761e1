"""Account test helpers. Sign-up is invitation-only, so tests create users directly."""

from __future__ import annotations

import re

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model

PASSWORD = "correct horse battery staple"
WRONG_PASSWORD = "not the password at all"
THROTTLED = "Too many failed login attempts"


def user_create(*, email: str, password: str = PASSWORD, verified: bool = True):
    user = get_user_model().objects.create_user(username=email, email=email, password=password)
    EmailAddress.objects.create(user=user, email=email, verified=verified, primary=True)
    return user


def link_in(message, path_prefix: str) -> str:
    """The path of the first link in an email that starts with `path_prefix`."""
    match = re.search(rf"https?://[^/\s]+({re.escape(path_prefix)}\S*)", message.body)
    assert match, f"no {path_prefix} link in:\n{message.body}"
    return match.group(1)


def signed_in_user_id(client) -> str | None:
    return client.session.get("_auth_user_id")
