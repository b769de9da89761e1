"""Social login providers, built from the validated environment.

A provider exists only when all of its variables are set; with none set the login page offers
email + password only. The result is django-allauth's `SOCIALACCOUNT_PROVIDERS` setting: apps are
declared in settings (not as `SocialApp` rows), so credentials stay in the environment.
"""

from __future__ import annotations

from typing import Any

from chatdesk.config.env import AppSettings

# allauth's URL for an OpenID Connect app is /accounts/oidc/<provider_id>/login/.
OIDC_PROVIDER_ID = "oidc"


def socialaccount_providers_build(*, settings: AppSettings) -> dict[str, Any]:
    providers: dict[str, Any] = {}
    if settings.OIDC_SERVER_URL and settings.OIDC_CLIENT_ID and settings.OIDC_CLIENT_SECRET:
        providers["openid_connect"] = {
            "APPS": [
                {
                    "provider_id": OIDC_PROVIDER_ID,
                    "name": settings.OIDC_PROVIDER_NAME,
                    "client_id": settings.OIDC_CLIENT_ID,
                    "secret": settings.OIDC_CLIENT_SECRET.get_secret_value(),
                    # allauth appends /.well-known/openid-configuration to the issuer URL; a
                    # trailing slash would make that path `//.well-known/...`, which issuers 404.
                    "settings": {"server_url": settings.OIDC_SERVER_URL.rstrip("/")},
                }
            ]
        }
    if settings.GOOGLE_CLIENT_ID and settings.GOOGLE_CLIENT_SECRET:
        providers["google"] = {
            "APPS": [
                {
                    "client_id": settings.GOOGLE_CLIENT_ID,
                    "secret": settings.GOOGLE_CLIENT_SECRET.get_secret_value(),
                }
            ],
            "SCOPE": ["profile", "email"],
        }
    return providers
