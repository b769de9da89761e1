import json
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from chatdesk.crm.models import Author, Message, MessageStatus
from chatdesk.messaging.outbound import (
    DeliverOutcome,
    SendRefusedError,
    message_deliver_once,
    message_send_text,
)
from chatdesk.messaging.services import contact_upsert, conversation_for_contact
from tests.factories import make_channel


def open_conversation(channel, *, last_inbound_minutes_ago=5):
    contact = contact_upsert(channel=channel, wa_id="6281234567890", name="Siti")
    conversation = conversation_for_contact(channel=channel, contact=contact)
    conversation.last_inbound_at = timezone.now() - timedelta(minutes=last_inbound_minutes_ago)
    conversation.save()
    return conversation


def provider(responses, calls):
    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(json.loads(request.content))
        return responses.pop(0)

    return httpx.Client(transport=httpx.MockTransport(handler))


def accepted(wamid="wamid.OUT1"):
    return httpx.Response(200, json={"messages": [{"id": wamid}]})


def refused(code, status=400, message="error"):
    return httpx.Response(status, json={"error": {"code": code, "message": message}})


@pytest.mark.django_db
def test_reply_is_recorded_before_sending_and_sent_once_even_if_the_job_runs_again():
    conversation = open_conversation(make_channel())
    message = message_send_text(conversation=conversation, text="Halo Siti!")
    assert message.status == MessageStatus.QUEUED and message.author == Author.AGENT
    calls = []
    client = provider([accepted()], calls)
    assert message_deliver_once(message_id=message.pk, client=client)[0] == DeliverOutcome.SENT
    assert message_deliver_once(message_id=message.pk, client=client)[0] == DeliverOutcome.SKIPPED
    message.refresh_from_db()
    assert (message.status, message.provider_message_id) == (MessageStatus.SENT, "wamid.OUT1")
    assert len(calls) == 1
    assert calls[0]["to"] == "6281234567890" and calls[0]["text"]["body"] == "Halo Siti!"


@pytest.mark.django_db
def test_free_text_outside_the_24_hour_window_is_refused_before_calling_the_provider():
    conversation = open_conversation(make_channel(), last_inbound_minutes_ago=25 * 60)
    with pytest.raises(SendRefusedError, match="24-hour window"):
        message_send_text(conversation=conversation, text="Hello again")
    assert not Message.objects.for_workspace(conversation.workspace).exists()


@pytest.mark.django_db
def test_a_rate_limit_error_is_retried_and_then_sent():
    conversation = open_conversation(make_channel())
    message = message_send_text(conversation=conversation, text="Hi")
    calls = []
    client = provider([refused(130429, 400), accepted("wamid.X")], calls)
    assert message_deliver_once(message_id=message.pk, client=client)[0] == DeliverOutcome.RETRY
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED and message.error_code == "130429"
    assert message_deliver_once(message_id=message.pk, client=client)[0] == DeliverOutcome.SENT
    assert len(calls) == 2


@pytest.mark.django_db
def test_outside_window_error_fails_without_retry_and_flags_the_conversation():
    conversation = open_conversation(make_channel())
    message = message_send_text(conversation=conversation, text="Hi")
    client = provider([refused(131047, 400, "Re-engagement message")], [])
    assert message_deliver_once(message_id=message.pk, client=client)[0] == DeliverOutcome.FAILED
    message.refresh_from_db()
    conversation.refresh_from_db()
    assert message.status == MessageStatus.FAILED and "131047" in message.error_reason
    assert conversation.needs_template


@pytest.mark.django_db
def test_a_send_interrupted_after_the_provider_call_is_never_repeated():
    conversation = open_conversation(make_channel())
    message = message_send_text(conversation=conversation, text="Hi")
    Message.objects.for_workspace(conversation.workspace).filter(pk=message.pk).update(
        status=MessageStatus.SENDING
    )
    calls = []
    outcome, _ = message_deliver_once(message_id=message.pk, client=provider([accepted()], calls))
    assert outcome == DeliverOutcome.FAILED and calls == []
    message.refresh_from_db()
    assert "not re-sent" in message.error_reason


@pytest.mark.django_db
def test_other_provider_errors_fail_the_message_with_the_providers_reason():
    conversation = open_conversation(make_channel())
    message = message_send_text(conversation=conversation, text="Hi")
    client = provider([refused(131026, 400, "Message undeliverable")], [])
    assert message_deliver_once(message_id=message.pk, client=client)[0] == DeliverOutcome.FAILED
    message.refresh_from_db()
    assert message.error_reason == "131026: Message undeliverable"
