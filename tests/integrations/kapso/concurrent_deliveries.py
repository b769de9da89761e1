"""Run by test_concurrency on SQLite: the suite's SQLite database is in memory with shared-cache
table locks that ignore the busy timeout, unlike the file database (WAL, BEGIN IMMEDIATE, 20 s
busy timeout) that chatdesk runs on. This script migrates a file database named by DATABASE_URL,
fires the concurrent deliveries through the real view, and prints the counts as JSON on the line
that starts with RESULT."""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402

from chatdesk.crm.models import Message  # noqa: E402
from chatdesk.messaging.models import ChannelKind, WebhookEvent  # noqa: E402
from tests.factories import make_channel  # noqa: E402
from tests.integrations.kapso.helpers import PHONE_NUMBER_ID  # noqa: E402
from tests.integrations.kapso.test_concurrency import deliver_at_once  # noqa: E402


def main() -> None:
    call_command("migrate", verbosity=0)
    results = {}
    for n, same_key in enumerate((True, False)):
        channel = make_channel(kind=ChannelKind.KAPSO, phone_number_id=f"{PHONE_NUMBER_ID}{n}")
        statuses = deliver_at_once(channel, same_key=same_key)
        results["same_key" if same_key else "different_keys"] = {
            "statuses": statuses,
            "events": WebhookEvent.objects.for_workspace(channel.workspace).count(),
            "messages": Message.objects.for_workspace(channel.workspace).count(),
        }
    # Logs share stdout; the result is the one line that starts with RESULT.
    sys.stdout.write("\nRESULT " + json.dumps(results) + "\n")


if __name__ == "__main__":
    main()
