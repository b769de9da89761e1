"""Tuning experiments only (`webhook_ingest.py --conn-max-age N`): chatdesk's settings with the
database connection lifetime changed. Figures measured with it are labelled as experiments in
the report; the shipped setting is whatever chatdesk.config.settings says."""

import os

from chatdesk.config.settings import *  # noqa: F403
from chatdesk.config.settings import DATABASES

DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ["BENCH_CONN_MAX_AGE"])
