"""Builders for the assistant's pipeline tests: a workspace with knowledge, agents, and
customers writing in."""

from __future__ import annotations

import itertools
from datetime import timedelta

from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from chatdesk.assistant.models import AssistantDraft
from chatdesk.assistant.services import knowledge_import_yaml
from chatdesk.assistant.tasks import assistant_respond
from chatdesk.audit.services import audit_system_actor
from chatdesk.crm.models import Author, Direction, Message, MessageStatus
from chatdesk.messaging.services import contact_upsert, conversation_for_contact
from chatdesk.messaging.tasks import message_mark_read, message_process_inbound
from tests.assistant.conftest import EXAMPLE_KB
from tests.factories import make_channel
from tests.tenancy.factories import world_make

_ids = itertools.count(1)
ACTOR = audit_system_actor("tests")


def assistant_world(slug: str):
    """A workspace with the example knowledge base, one user per role and a WhatsApp channel."""
    world = world_make(slug)
    knowledge_import_yaml(workspace=world.workspace, text=EXAMPLE_KB.read_text(encoding="utf-8"))
    world.channel = make_channel(world.workspace)
    return world


def customer_writes(channel, text: str, *, wa_id: str = "6281234567890", name: str = "Siti Rahma"):
    """Store an inbound message as the webhook would, with the 24-hour window open."""
    contact = contact_upsert(channel=channel, wa_id=wa_id, name=name)
    conversation = conversation_for_contact(channel=channel, contact=contact)
    now = timezone.now() + timedelta(microseconds=next(_ids))
    message = Message.objects.for_workspace(channel.workspace).create(
        workspace=channel.workspace,
        conversation=conversation,
        channel=channel,
        direction=Direction.INBOUND,
        author=Author.CUSTOMER,
        type="text",
        text=text,
        payload={"body": text},
        provider_message_id=f"wamid.IN{next(_ids)}",
        provider_timestamp=now,
        status=MessageStatus.RECEIVED,
    )
    conversation.last_inbound_at = now
    conversation.save(update_fields=["last_inbound_at"])
    return message


def run_pipeline(message) -> AssistantDraft | None:
    """What the workers do: process the inbound message, then run every assistant job queued."""
    message_process_inbound.func.job_body(message_id=message.pk)
    for row in assistant_jobs(message):
        assistant_respond.func.job_body(**row.args_kwargs["kwargs"])
    return (
        AssistantDraft.objects.for_workspace(message.workspace)
        .filter(inbound_message=message)
        .first()
    )


def assistant_jobs(message) -> list[DBTaskResult]:
    return list(
        DBTaskResult.objects.filter(
            task_path=assistant_respond.module_path, args_kwargs__kwargs__message_id=message.pk
        )
    )


def typing_indicators(message) -> int:
    return sum(
        row.args_kwargs["kwargs"].get("typing", False)
        for row in DBTaskResult.objects.filter(
            task_path=message_mark_read.module_path, args_kwargs__kwargs__message_id=message.pk
        )
    )


def replies(conversation) -> list[Message]:
    return list(
        Message.objects.for_workspace(conversation.workspace)
        .filter(conversation=conversation, direction=Direction.OUTBOUND)
        .order_by("id")
    )
