"""django-allauth adapters: sign-up is open only to people holding a valid invitation.

The invitation link was emailed to the invited address, so an invitee who signs up with that
same address has proved they own it: no second verification email. Any other address goes
through allauth's normal mandatory verification (and the invitation is then refused as a
mismatch, with a page that says so).
"""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter

from chatdesk.tenancy.invitation_session import (
    invitation_accept_from_session,
    invitation_from_session,
)


class AccountAdapter(DefaultAccountAdapter):
    def _get_login_attempts_cache_key(self, request, **credentials) -> str:
        # allauth keys the per-account limit on "<Host header>:<email>"; Django accepts any case
        # and port of an allowed host, so each variant would be a fresh budget. One site: the
        # email alone. (Private hook of the pinned allauth; tests/accounts catches a change.)
        return str(credentials.get("email", credentials.get("username", ""))).strip().lower()

    def is_open_for_signup(self, request) -> bool:
        return invitation_from_session(request) is not None

    def is_email_verified(self, request, email: str) -> bool:
        invitation = invitation_from_session(request)
        return invitation is not None and invitation.email == email.strip().lower()

    def unstash_verified_email(self, request) -> str | None:
        # allauth would attach the stashed address to the new account as verified and primary,
        # even when the person typed another address into the form. The stash only pre-fills the
        # form here; is_email_verified above decides, for the address actually chosen.
        super().unstash_verified_email(request)
        return None

    def post_login(self, request, user, *, redirect_url=None, **kwargs):
        # Runs after every completed allauth login: password, sign-up, social, email confirmation.
        landing = invitation_accept_from_session(request, user=user)
        if landing and not redirect_url:
            redirect_url = landing
        return super().post_login(request, user, redirect_url=redirect_url, **kwargs)


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request, sociallogin) -> bool:
        # Existing users log in with a linked provider regardless; creating an account through a
        # provider needs an invitation, exactly like the sign-up form.
        return invitation_from_session(request) is not None
