"""WSGI entry point of the benchmark's floor server (`gunicorn floor_wsgi:application` with
`--pythonpath bench`): `chatdesk.config.wsgi` with the floor settings module."""

import os

# Forced, not defaulted: the floor must never serve the application's URL map by accident.
os.environ["DJANGO_SETTINGS_MODULE"] = "settings_floor"

from chatdesk.config.startup import guard_startup

guard_startup()

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
