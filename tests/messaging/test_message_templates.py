"""Approved message templates: what a valid one is, and sending one through the outbound path."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
from django.core.exceptions import ValidationError
from django_tasks_db.models import DBTaskResult

from chatdesk.crm.models import Conversation, Message, MessageStatus
from chatdesk.messaging.models import MessageTemplate, template_parameter_errors
from chatdesk.messaging.outbound import (
    DeliverOutcome,
    SendRefusedError,
    TemplateParametersError,
    message_deliver_once,
    message_send_template,
)
from chatdesk.messaging.providers import base as providers
from chatdesk.messaging.tasks import message_deliver
from tests.factories import make_channel
from tests.messaging.conftest import open_conversation

pytestmark = pytest.mark.django_db

REMINDER = "Halo {{1}}, pembayaran {{2}} jatuh tempo tanggal {{3}}. Terima kasih!"


def template_make(workspace, *, channel=None, **fields) -> MessageTemplate:
    values = {
        "name": "payment_reminder",
        "language": "id",
        "category": "utility",
        "body": REMINDER,
        **fields,
    }
    template = MessageTemplate(workspace=workspace, channel=channel, **values)
    template.full_clean()
    template.save()
    return template


def closed_conversation(channel, **options) -> Conversation:
    return open_conversation(channel, last_inbound_minutes_ago=60 * 30, **options)


# --- what a template is ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "Payment Reminder", "lowercase letters, digits and underscores"),
        ("name", "pengingat-bayar", "lowercase letters, digits and underscores"),
        ("language", "Indonesian", "e.g. id, en or en_US"),
        ("language", "en-US", "e.g. id, en or en_US"),
        ("body", "Halo {{2}}", "missing: {{1}}"),
        ("body", "Halo {{1}} dan {{3}}", "missing: {{2}}"),
        ("body", "Halo {{ 1 }}", "“{{ 1 }}” is not a placeholder"),
        ("body", "Halo {{nama}}", "“{{nama}}” is not a placeholder"),
        ("body", "x" * 1025, "limited to 1024 characters (this one has 1025)"),
        ("category", "promo", "not a valid choice"),
    ],
)
def test_a_template_with_a_bad_field_is_refused_with_a_clear_message(field, value, message):
    channel = make_channel()
    template = MessageTemplate(
        workspace=channel.workspace,
        name="payment_reminder",
        language="id",
        category="utility",
        body=REMINDER,
    )
    setattr(template, field, value)
    with pytest.raises(ValidationError) as error:
        template.full_clean()
    assert message in " ".join(error.value.message_dict[field])


@pytest.mark.parametrize(
    ("body", "count"),
    [("Terima kasih!", 0), (REMINDER, 3), ("{{1}}, {{1}} lagi: {{2}}", 2)],
)
def test_a_template_takes_as_many_parameters_as_its_placeholders(body, count):
    channel = make_channel()
    template = template_make(channel.workspace, body=body)
    assert template.parameter_count == count


def test_the_same_name_and_language_is_one_template_per_workspace():
    channel, other = make_channel(), make_channel()
    template_make(channel.workspace)
    template_make(channel.workspace, language="en_US")  # another language: another template
    template_make(other.workspace)  # another workspace: its own
    with pytest.raises(ValidationError, match="already has a template with this name"):
        template_make(channel.workspace)


def test_rendering_fills_each_placeholder_with_its_parameter():
    channel = make_channel()
    template = template_make(channel.workspace)
    assert template.render(["Siti", "semester 2", "12 Mei"]) == (
        "Halo Siti, pembayaran semester 2 jatuh tempo tanggal 12 Mei. Terima kasih!"
    )


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["Siti", "", "12 Mei"], {2: "Fill in {{2}}"}),
        (["Siti"], {2: "Fill in {{2}}", 3: "Fill in {{3}}"}),
        (["Siti\nRahma", "x", "y"], {1: "line breaks, tabs"}),
        (["Siti", "a     b", "y"], {2: "more than four spaces"}),
        (["Siti", "x" * 1025, "y"], {2: "too long"}),
    ],
)
def test_parameter_problems_name_the_placeholder_and_the_fix(values, expected):
    channel = make_channel()
    errors = template_parameter_errors(template_make(channel.workspace), values)
    assert sorted(errors) == sorted(expected)
    for n, text in expected.items():
        assert text in errors[n]


# --- sending one ------------------------------------------------------------------------------


def test_a_template_is_recorded_queued_with_the_text_the_customer_reads_and_clears_the_flag():
    channel = make_channel()
    conversation = closed_conversation(channel)
    Conversation.objects.for_workspace(channel.workspace).filter(pk=conversation.pk).update(
        needs_template=True
    )
    template = template_make(channel.workspace)

    message = message_send_template(
        conversation=conversation,
        template_id=template.pk,
        parameters=[" Siti ", "semester 2", "12 Mei"],
    )

    assert (message.type, message.status) == ("template", MessageStatus.QUEUED)
    assert message.text == template.render(["Siti", "semester 2", "12 Mei"])
    assert message.payload["template"] == {
        "id": template.pk,
        "name": "payment_reminder",
        "language": "id",
        "parameters": ["Siti", "semester 2", "12 Mei"],
    }
    conversation.refresh_from_db()
    assert not conversation.needs_template
    assert conversation.last_message_at == message.provider_timestamp
    assert DBTaskResult.objects.filter(
        task_path=message_deliver.module_path, args_kwargs__kwargs__message_id=message.pk
    ).exists()


@pytest.mark.parametrize("why", ["disabled", "another channel", "another workspace", "deleted"])
def test_a_template_that_is_not_available_here_is_refused_and_nothing_is_stored(why):
    channel = make_channel()
    conversation = closed_conversation(channel)
    if why == "another workspace":
        template = template_make(make_channel().workspace)
    elif why == "another channel":
        template = template_make(
            channel.workspace, channel=make_channel(workspace=channel.workspace)
        )
    else:
        template = template_make(channel.workspace, is_enabled=why != "disabled")
    template_id = template.pk
    if why == "deleted":
        template.delete()

    with pytest.raises(SendRefusedError, match="not available for this channel"):
        message_send_template(
            conversation=conversation, template_id=template_id, parameters=["a", "b", "c"]
        )
    assert not Message.objects.for_workspace(channel.workspace).exists()


def test_missing_parameters_are_refused_per_placeholder_and_nothing_is_stored():
    channel = make_channel()
    conversation = closed_conversation(channel)
    template = template_make(channel.workspace)

    with pytest.raises(TemplateParametersError) as error:
        message_send_template(
            conversation=conversation, template_id=template.pk, parameters=["Siti", " ", ""]
        )

    assert sorted(error.value.errors) == [2, 3]
    assert not Message.objects.for_workspace(channel.workspace).exists()


@pytest.fixture
def provider_requests(monkeypatch) -> list[dict]:
    """What the provider received; every send is accepted."""
    received = []

    def handler(request: httpx.Request) -> httpx.Response:
        received.append({"url": str(request.url), "body": json.loads(request.content)})
        wamid = f"wamid.T{len(received)}"
        return httpx.Response(200, json={"messages": [{"id": wamid}]})

    monkeypatch.setattr(
        providers,
        "http_client",
        lambda **_options: httpx.Client(transport=httpx.MockTransport(handler)),
    )
    return received


@pytest.mark.parametrize("kind", ["meta", "kapso"])
def test_a_template_outside_the_window_reaches_the_provider_once_as_a_template(
    provider_requests, kind
):
    channel = make_channel(kind=kind)
    conversation = closed_conversation(channel)
    template = template_make(channel.workspace)
    message = message_send_template(
        conversation=conversation,
        template_id=template.pk,
        parameters=["Siti", "semester 2", "12 Mei"],
    )

    assert message_deliver_once(message_id=message.pk)[0] == DeliverOutcome.SENT
    assert message_deliver_once(message_id=message.pk)[0] == DeliverOutcome.SKIPPED  # a re-run

    [sent] = provider_requests
    assert sent["url"].endswith(f"/{channel.phone_number_id}/messages")
    assert sent["body"]["type"] == "template"
    assert sent["body"]["template"] == {
        "name": "payment_reminder",
        "language": {"code": "id"},
        "components": [
            {
                "type": "body",
                "parameters": [
                    {"type": "text", "text": "Siti"},
                    {"type": "text", "text": "semester 2"},
                    {"type": "text", "text": "12 Mei"},
                ],
            }
        ],
    }
    message.refresh_from_db()
    assert (message.status, message.provider_message_id) == (MessageStatus.SENT, "wamid.T1")


def test_a_template_without_parameters_is_sent_without_components(provider_requests):
    channel = make_channel()
    conversation = closed_conversation(channel)
    template = template_make(channel.workspace, name="thanks", body="Terima kasih!")
    message = message_send_template(
        conversation=conversation, template_id=template.pk, parameters=[]
    )
    message_deliver_once(message_id=message.pk)
    [sent] = provider_requests
    assert sent["body"]["template"] == {"name": "thanks", "language": {"code": "id"}}


def test_a_template_is_sent_even_when_the_window_closed_after_it_was_queued(provider_requests):
    channel = make_channel()
    conversation = open_conversation(channel, last_inbound_minutes_ago=5)
    template = template_make(channel.workspace)
    message = message_send_template(
        conversation=conversation, template_id=template.pk, parameters=["a", "b", "c"]
    )
    Conversation.objects.for_workspace(channel.workspace).filter(pk=conversation.pk).update(
        last_inbound_at=conversation.last_inbound_at - timedelta(days=2)
    )
    assert message_deliver_once(message_id=message.pk)[0] == DeliverOutcome.SENT
    assert len(provider_requests) == 1
