"""Settings of the benchmark's floor server: chatdesk's own settings, one URLconf swapped.

Everything that shapes a request's cost (middleware, logging, database connection settings,
gunicorn config) is the production setup's; only ROOT_URLCONF points at `floor_urls`, so the
application's URL map (`chatdesk.config.urls`) is never touched by the benchmark.
"""

from chatdesk.config.settings import *  # noqa: F403

ROOT_URLCONF = "floor_urls"
