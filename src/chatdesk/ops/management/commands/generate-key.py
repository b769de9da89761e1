"""`chatdesk generate-key`: print a fresh Fernet key for ENCRYPTION_KEYS."""

from __future__ import annotations

from cryptography.fernet import Fernet
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Print a new Fernet key for ENCRYPTION_KEYS. To rotate, put it first and keep the old "
        "keys after it (comma-separated), then run `chatdesk rotate-encryption-keys`."
    )
    # Works with a broken configuration: it is how a missing key gets fixed.
    requires_system_checks = []
    requires_migrations_checks = False

    def handle(self, *args, **options):
        self.stdout.write(Fernet.generate_key().decode())
