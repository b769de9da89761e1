"""`chatdesk generate-secret-key`: print a fresh random SECRET_KEY."""

from __future__ import annotations

import secrets

from django.core.management.base import BaseCommand

from chatdesk.config.env import weak_secret_key_reason

# 48 random bytes: 64 URL-safe characters, nothing a shell or an env file would interpret.
SECRET_KEY_BYTES = 48


def new_secret_key() -> str:
    while True:
        candidate = secrets.token_urlsafe(SECRET_KEY_BYTES)
        # A random key can spell a marker production rejects ("dev", "test"): draw again.
        if weak_secret_key_reason(candidate) is None:
            return candidate


class Command(BaseCommand):
    help = "Print a new random SECRET_KEY (64 characters) that production accepts."
    # Works with a broken configuration: it is how a missing key gets fixed.
    requires_system_checks = []
    requires_migrations_checks = False

    def handle(self, *args, **options):
        self.stdout.write(new_secret_key())
