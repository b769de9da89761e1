"""Database side of bench/webhook_ingest.py, run as a child process with the bench's environment.

    python bench/ingest_db.py setup   # workspace + Meta channel; prints JSON (channel key, ids)
    python bench/ingest_db.py count   # exact stored counts after a run; prints JSON

`setup` reads the channel's app secret from BENCH_APP_SECRET (never from arguments, like
`chatdesk channel-create`) and creates the rows through the services the product uses.
"""

from __future__ import annotations

import json
import os
import sys

# The marker every benchmark text carries: counting it proves the non-ASCII text survived the
# signature check over Meta's \u-escaped bytes and the storage round trip.
TEXT_MARKER = "café ☕"


def setup() -> dict[str, str]:
    from chatdesk.messaging.models import ChannelKind
    from chatdesk.messaging.services import channel_create
    from chatdesk.tenancy.services import workspace_create

    workspace = workspace_create(name="Benchmark", slug="bench")
    channel = channel_create(
        workspace=workspace,
        kind=ChannelKind.META,
        phone_number_id="106540352242922",
        display_number="15550783881",
        signing_secret=os.environ["BENCH_APP_SECRET"],
        api_token="bench-token-unused",
        verify_token="bench-verify-unused",
        name="Benchmark number",
    )
    return {
        "channel_key": channel.channel_key,
        "phone_number_id": channel.phone_number_id,
        "display_number": channel.display_number,
    }


def count() -> dict[str, int]:
    from django_tasks_db.models import DBTaskResult

    from chatdesk.crm.models import Contact, Conversation, Message
    from chatdesk.messaging.models import WebhookEvent

    messages = Message.dangerously_unscoped_objects
    return {
        "messages": messages.count(),
        "messages_distinct_wamid": messages.values("provider_message_id").distinct().count(),
        "messages_with_marker": messages.filter(text__contains=TEXT_MARKER).count(),
        "webhook_events": WebhookEvent.dangerously_unscoped_objects.count(),
        "contacts": Contact.dangerously_unscoped_objects.count(),
        "conversations": Conversation.dangerously_unscoped_objects.count(),
        "jobs": DBTaskResult.objects.count(),
        "jobs_process_inbound": DBTaskResult.objects.filter(
            task_path__endswith="message_process_inbound"
        ).count(),
    }


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] not in {"setup", "count"}:
        print("usage: ingest_db.py setup|count", file=sys.stderr)
        return 2
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatdesk.config.settings")
    from chatdesk.config.startup import guard_startup

    guard_startup()
    import django

    django.setup()
    result = setup() if argv[1] == "setup" else count()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
