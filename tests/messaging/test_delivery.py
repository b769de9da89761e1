"""Outbound delivery through its job: error policy, send limits, read receipts."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from chatdesk.crm.models import Conversation, Message, MessageStatus
from chatdesk.jobs.models import JobFailure
from chatdesk.jobs.testing import drain
from chatdesk.messaging.events import InboundMessage
from chatdesk.messaging.outbound import DeliverOutcome, message_deliver_once, message_send_text
from chatdesk.messaging.services import message_store_inbound
from chatdesk.messaging.tasks import message_deliver, message_mark_read
from tests.factories import make_channel
from tests.messaging.conftest import AcceptedThenTimeout, accepted, open_conversation, refused

pytestmark = pytest.mark.django_db


def deliver_rows(message) -> list[DBTaskResult]:
    return list(
        DBTaskResult.objects.filter(
            task_path=message_deliver.module_path, args_kwargs__kwargs__message_id=message.pk
        ).order_by("enqueued_at")
    )


def attempt_of(row: DBTaskResult) -> int:
    return row.args_kwargs["kwargs"].get("_attempt", 1)


def reply(channel=None, text="Halo Siti, terima kasih!", **conversation_options) -> Message:
    conversation = open_conversation(channel or make_channel(), **conversation_options)
    return message_send_text(conversation=conversation, text=text)


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(refused(4, 400, "Application request limit reached"), id="code-4"),
        pytest.param(refused(80007, 400, "Rate limit issues"), id="code-80007"),
        pytest.param(refused(130429, 400, "Rate limit hit"), id="code-130429"),
        pytest.param(refused(131056, 400, "Pair rate limit hit"), id="code-131056"),
        pytest.param(refused(131057, 400, "Account in maintenance mode"), id="code-131057"),
        pytest.param(httpx.Response(429, text="Too Many Requests"), id="http-429"),
        pytest.param(refused(131000, 500, "Something went wrong"), id="http-500"),
        pytest.param(httpx.Response(503, text="upstream unavailable"), id="http-503"),
        pytest.param(httpx.ConnectError, id="connect-error"),
        pytest.param(httpx.ConnectTimeout, id="connect-timeout"),
        pytest.param(httpx.PoolTimeout, id="pool-timeout"),
    ],
)
def test_limits_outages_and_connection_failures_send_the_reply_later(fake_provider, answer):
    message = reply()
    fake_provider.script = [answer]

    outcome, _ = message_deliver_once(message_id=message.pk)

    assert outcome == DeliverOutcome.RETRY
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED  # nothing was sent: safe to send later
    assert fake_provider.delivered == []
    assert message_deliver_once(message_id=message.pk)[0] == DeliverOutcome.SENT
    assert fake_provider.delivered == [message.text]


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(AcceptedThenTimeout, id="read-timeout"),
        pytest.param(httpx.RemoteProtocolError, id="disconnected-without-answer"),
        pytest.param(httpx.Response(200, text="<html>proxy</html>"), id="2xx-without-message-id"),
    ],
)
def test_a_send_whose_answer_is_lost_is_never_repeated(fake_provider, answer):
    message = reply()
    fake_provider.script = [answer]

    outcome, _ = message_deliver_once(message_id=message.pk)

    assert outcome == DeliverOutcome.FAILED
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert message.error_reason.startswith("Delivery outcome unknown")
    assert message_deliver_once(message_id=message.pk)[0] == DeliverOutcome.SKIPPED
    assert len(fake_provider.requests) == 1


def test_retryable_errors_back_off_exponentially_and_end_failed_with_the_last_reason(
    fake_provider, no_jitter
):
    message = reply()
    policy = message_deliver.func.job_policy
    fake_provider.script = [refused(131056, 400, "Pair rate limit hit")] * policy.max_attempts

    drain(queues=["outbound"])
    rows = deliver_rows(message)
    waited = (rows[-1].run_after - rows[-1].enqueued_at).total_seconds()
    assert waited == pytest.approx(policy.backoff_base, abs=1)  # 4^1 s before attempt 2
    drain(queues=["outbound"], include_delayed=True)

    rows = deliver_rows(message)
    assert [attempt_of(row) for row in rows] == list(range(1, policy.max_attempts + 1))
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert message.error_reason == "131056: Pair rate limit hit"
    assert message.send_attempts == policy.max_attempts
    assert fake_provider.delivered == []


def test_a_providers_retry_after_hint_sets_the_next_attempts_time(fake_provider):
    message = reply()
    fake_provider.script = [httpx.Response(429, headers={"retry-after": "30"})]

    drain(queues=["outbound"])

    retry_row = deliver_rows(message)[-1]
    assert attempt_of(retry_row) == 2
    assert (retry_row.run_after - retry_row.enqueued_at).total_seconds() == pytest.approx(30, abs=1)


def test_our_own_send_limit_defers_the_reply_without_using_an_attempt(fake_provider, settings):
    settings.OUTBOUND_RATE_LIMITS = {"number": [(1, 80)], "pair": [(60, 1)]}
    channel = make_channel()
    first = reply(channel, text="first")
    second = reply(channel, text="second")

    drain(queues=["outbound"])

    assert fake_provider.delivered == ["first"]
    second.refresh_from_db()
    assert second.status == MessageStatus.QUEUED and second.send_attempts == 0
    waiting = deliver_rows(second)[-1]
    assert waiting.status == TaskResultStatus.READY and attempt_of(waiting) == 1
    assert waiting.run_after > timezone.now() + timedelta(seconds=30)
    assert not JobFailure.objects.exists()
    first.refresh_from_db()
    assert first.status == MessageStatus.SENT


def test_the_pair_limit_is_per_customer(fake_provider, settings):
    settings.OUTBOUND_RATE_LIMITS = {"number": [(1, 80)], "pair": [(60, 1)]}
    channel = make_channel()
    reply(channel, text="to Siti", wa_id="6281234567890")
    reply(channel, text="to Budi", wa_id="6281298765432")

    drain(queues=["outbound"])

    assert sorted(fake_provider.delivered) == ["to Budi", "to Siti"]


def test_a_reply_whose_window_closed_while_queued_is_refused_before_the_provider(fake_provider):
    message = reply()
    Conversation.dangerously_unscoped_objects.filter(pk=message.conversation_id).update(
        last_inbound_at=timezone.now() - timedelta(hours=25)
    )

    drain(queues=["outbound"])

    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED and message.error_code == "131047"
    assert Conversation.dangerously_unscoped_objects.get(pk=message.conversation_id).needs_template
    assert fake_provider.requests == []


def test_a_reply_on_a_deactivated_channel_is_not_sent(fake_provider):
    channel = make_channel()
    message = reply(channel)
    channel.is_active = False
    channel.save(update_fields=["is_active"])

    drain(queues=["outbound"])

    message.refresh_from_db()
    assert (message.status, message.error_reason) == (
        MessageStatus.FAILED,
        "The channel is inactive.",
    )
    assert fake_provider.requests == []


def test_a_quoted_reply_carries_the_customers_message_id(fake_provider):
    conversation = open_conversation(make_channel())
    message_send_text(conversation=conversation, text="Ya", reply_to_provider_id="wamid.IN1")

    drain(queues=["outbound"])

    (request,) = fake_provider.requests
    assert request.url.path.endswith("/messages")
    assert b'"context":{"message_id":"wamid.IN1"}' in request.content


def test_a_status_that_arrived_before_the_send_was_recorded_is_applied(fake_provider):
    from chatdesk.messaging.events import StatusUpdate
    from chatdesk.messaging.services import status_report_store

    channel = make_channel()
    message = reply(channel)
    status_report_store(
        channel=channel,
        event=StatusUpdate(
            provider_message_id="wamid.EARLY", status="delivered", timestamp=timezone.now()
        ),
    )
    fake_provider.script = [accepted("wamid.EARLY")]

    drain(queues=["outbound"])

    message.refresh_from_db()
    assert (message.provider_message_id, message.status) == (
        "wamid.EARLY",
        MessageStatus.DELIVERED,
    )


# --- read receipts -----------------------------------------------------------------------------


def inbound(channel, wamid="wamid.IN1") -> Message:
    return message_store_inbound(
        channel=channel,
        event=InboundMessage(
            provider_message_id=wamid,
            wa_id="6281234567890",
            contact_name="Siti",
            type="text",
            text="Halo",
            payload={"body": "Halo"},
            timestamp=datetime(2026, 11, 2, tzinfo=UTC),
        ),
    )


def test_processing_a_message_marks_it_read_at_the_provider(fake_provider):
    channel = make_channel()
    inbound(channel)

    drain()

    assert fake_provider.receipts == [
        {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.IN1"}
    ]


def test_a_typing_indicator_rides_on_the_read_receipt(fake_provider):
    message = inbound(make_channel())

    message_mark_read.enqueue(message_id=message.pk, typing=True)
    drain(queues=["outbound"])

    assert fake_provider.receipts[0]["typing_indicator"] == {"type": "text"}


def test_a_failed_read_receipt_is_logged_and_not_retried(monkeypatch, caplog):
    from chatdesk.messaging.providers import base as providers

    def refuse(request):
        return httpx.Response(400, json={"error": {"code": 100, "message": "Invalid parameter"}})

    monkeypatch.setattr(
        providers,
        "http_client",
        lambda **_: httpx.Client(transport=httpx.MockTransport(refuse)),
    )
    message = inbound(make_channel())
    caplog.set_level(logging.WARNING)

    drain()

    message.refresh_from_db()
    assert message.processed_at is not None
    receipt_rows = DBTaskResult.objects.filter(task_path=message_mark_read.module_path)
    assert [row.status for row in receipt_rows] == [TaskResultStatus.SUCCESSFUL]
    assert "could not mark an inbound message as read" in caplog.text
    assert not JobFailure.objects.exists()
