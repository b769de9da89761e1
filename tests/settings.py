"""Test settings: the application's settings plus test-only models (tests.support)."""

import os

os.environ.setdefault("APP_ENV", "test")

from chatdesk.config.settings import *  # noqa: F403
from chatdesk.config.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.support"]
# Fast hashing: the suite creates many users; production keeps Django's default hashers.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
