"""One process of the cross-process throttling test (test_throttling.py runs it twice).

`python login_process.py fail EMAIL` creates the tables in the database named by DATABASE_URL,
the account, and records five failed sign-ins; `python login_process.py login EMAIL` then tries
the correct password in a fresh process and prints `throttled` or `signed-in`.
"""

import os
import sys

import django
from django.apps import apps
from django.core.management import call_command
from django.test import Client, override_settings
from django.test.utils import setup_test_environment

PASSWORD = "correct horse battery staple"


def main(mode: str, email: str) -> None:
    setup_test_environment()  # the test client's host, mail kept in memory
    client = Client()
    if mode == "fail":
        from tests.accounts.helpers import user_create

        # Tables straight from the models (faster than replaying every migration), plus the
        # cache table that a migration would have created.
        every_app = {app.label: None for app in apps.get_app_configs()}
        with override_settings(MIGRATION_MODULES=every_app):
            call_command("migrate", run_syncdb=True, verbosity=0)
        call_command("createcachetable", verbosity=0)
        user_create(email=email, password=PASSWORD)
        for _ in range(5):
            client.post("/accounts/login/", {"login": email, "password": "wrong password"})
        return
    response = client.post("/accounts/login/", {"login": email, "password": PASSWORD})
    print("signed-in" if response.status_code == 302 else "throttled")


if __name__ == "__main__":
    os.environ["DJANGO_SETTINGS_MODULE"] = "chatdesk.config.settings"
    django.setup()
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        main(sys.argv[1], sys.argv[2])
