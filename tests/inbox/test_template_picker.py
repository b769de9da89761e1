"""The composer's template picker: offered when free text cannot reach the customer, works as a
plain form (and with htmx), keeps what the agent typed, and sends through the outbound path."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from chatdesk.crm.models import Conversation, Message
from chatdesk.messaging.models import MessageTemplate
from chatdesk.messaging.tasks import message_deliver
from tests.factories import make_channel
from tests.inbox.factories import conversation_make

HTMX = {"HX-Request": "true"}
BODY = "Halo {{1}}, pembayaran {{2}} jatuh tempo."


def template_make(workspace, *, name="payment_reminder", body=BODY, **fields) -> MessageTemplate:
    values = {"language": "id", "category": "utility", **fields}
    return MessageTemplate.objects.for_workspace(workspace).create(
        workspace=workspace, name=name, body=body, **values
    )


def closed(world, **fields) -> Conversation:
    """A conversation whose customer last wrote two days ago."""
    return conversation_make(world.workspace, inbound_minutes_ago=48 * 60, **fields)


def thread_url(world, conversation) -> str:
    return reverse(
        "inbox:thread",
        kwargs={"workspace_slug": world.workspace.slug, "conversation_id": conversation.pk},
    )


def send_url(world, conversation) -> str:
    return reverse(
        "inbox:send-template",
        kwargs={"workspace_slug": world.workspace.slug, "conversation_id": conversation.pk},
    )


def sent(world) -> list[Message]:
    return list(Message.objects.for_workspace(world.workspace).filter(type="template"))


@pytest.fixture
def agent(client, world_a):
    client.force_login(world_a.agent)
    return client


def test_a_closed_window_offers_the_enabled_templates_of_the_channel(agent, world_a):
    conversation = closed(world_a)
    mine = template_make(world_a.workspace, channel=conversation.channel)
    everywhere = template_make(world_a.workspace, name="thanks", body="Terima kasih!")
    template_make(world_a.workspace, name="disabled_one", is_enabled=False)
    template_make(world_a.workspace, name="other_channel", channel=make_channel(world_a.workspace))

    page = agent.get(thread_url(world_a, conversation)).content.decode()

    assert 'id="template-picker"' in page
    assert f'<option value="{mine.pk}">payment_reminder (id) · Utility</option>' in page
    assert f'<option value="{everywhere.pk}">thanks (id) · Utility</option>' in page
    assert "disabled_one" not in page and "other_channel" not in page
    assert "free text is off" in page  # the composer still explains why


def test_an_open_window_shows_no_picker(agent, world_a):
    conversation = conversation_make(world_a.workspace, inbound_minutes_ago=5)
    template_make(world_a.workspace)
    page = agent.get(thread_url(world_a, conversation)).content.decode()
    assert 'id="template-picker"' not in page


def test_a_conversation_flagged_as_needing_a_template_shows_the_picker_even_if_open(agent, world_a):
    conversation = conversation_make(world_a.workspace, inbound_minutes_ago=5, needs_template=True)
    template_make(world_a.workspace)
    assert 'id="template-picker"' in agent.get(thread_url(world_a, conversation)).content.decode()


def test_without_templates_admins_are_pointed_to_settings_and_agents_told_who_can(client, world_a):
    conversation = closed(world_a)
    settings_url = reverse("workspace_settings:templates", kwargs={"workspace_slug": "alpha"})
    client.force_login(world_a.admin)
    as_admin = client.get(thread_url(world_a, conversation)).content.decode()
    assert f'<a href="{settings_url}">Add them in Settings › Templates</a>' in as_admin  # noqa: RUF001
    client.force_login(world_a.agent)
    as_agent = client.get(thread_url(world_a, conversation)).content.decode()
    assert "An admin can add them in Settings › Templates" in as_agent  # noqa: RUF001
    assert settings_url not in as_agent


def test_the_only_template_is_chosen_with_its_parameters_and_preview(agent, world_a):
    conversation = closed(world_a)
    template_make(world_a.workspace)
    page = agent.get(thread_url(world_a, conversation)).content.decode()
    assert 'name="param_1"' in page and 'name="param_2"' in page
    assert f'data-template-body="{BODY}"' in page
    assert "Halo {{1}}, pembayaran {{2}} jatuh tempo.</blockquote>" in page
    assert ">Send template</button>" in page


def test_choosing_a_template_without_javascript_shows_its_parameters(agent, world_a):
    conversation = closed(world_a)
    template_make(world_a.workspace, name="thanks", body="Terima kasih!")
    chosen = template_make(world_a.workspace)
    response = agent.post(
        send_url(world_a, conversation), {"template": chosen.pk, "action": "choose"}
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "<html" in page and 'name="param_2"' in page
    assert f'<option value="{chosen.pk}" selected>' in page
    assert "errorlist" not in page.split('id="template-picker"')[1].split("</form>")[0]
    assert sent(world_a) == []


def test_choosing_with_htmx_answers_only_the_picker(agent, world_a):
    conversation = closed(world_a)
    chosen = template_make(world_a.workspace)
    template_make(world_a.workspace, name="thanks", body="Terima kasih!")
    response = agent.post(
        send_url(world_a, conversation),
        {"template": chosen.pk, "action": "choose", "param_1": "Siti"},
        headers=HTMX,
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<form id="template-picker"')
    assert "Halo Siti, pembayaran {{2}} jatuh tempo.</blockquote>" in body  # the preview


def test_an_agent_sends_a_template_without_javascript(agent, world_a):
    conversation = closed(world_a, needs_template=True)
    template = template_make(world_a.workspace)

    response = agent.post(
        send_url(world_a, conversation),
        {"template": template.pk, "action": "send", "param_1": "Siti", "param_2": "semester 2"},
    )

    assert response.status_code == 302 and response["Location"] == thread_url(world_a, conversation)
    [message] = sent(world_a)
    assert message.text == "Halo Siti, pembayaran semester 2 jatuh tempo."
    assert message.sent_by == world_a.agent
    assert (
        DBTaskResult.objects.filter(
            task_path=message_deliver.module_path, args_kwargs__kwargs__message_id=message.pk
        ).count()
        == 1
    )
    conversation.refresh_from_db()
    assert not conversation.needs_template
    page = agent.get(response["Location"]).content.decode()
    assert "Template payment_reminder sent." in page
    assert "Halo Siti, pembayaran semester 2 jatuh tempo." in page


def test_an_htmx_send_answers_a_fresh_picker_a_new_header_and_refreshes_the_thread(agent, world_a):
    conversation = closed(world_a, needs_template=True)
    template = template_make(world_a.workspace)

    response = agent.post(
        send_url(world_a, conversation),
        {"template": template.pk, "action": "send", "param_1": "Siti", "param_2": "x"},
        headers=HTMX,
    )

    assert response.status_code == 200
    assert "inbox:refresh" in response["HX-Trigger"]
    body = response.content.decode()
    assert "Template payment_reminder sent." in body
    assert 'value="Siti"' not in body  # a fresh picker
    head = body.split('id="thread-head"')[1]
    assert 'hx-swap-oob="true"' in head and "Needs template" not in head.split("</header>")[0]
    assert len(sent(world_a)) == 1


def test_missing_parameters_are_a_clear_error_and_keep_what_was_typed(agent, world_a):
    conversation = closed(world_a)
    template = template_make(world_a.workspace)

    response = agent.post(
        send_url(world_a, conversation),
        {"template": template.pk, "action": "send", "param_1": "Siti Rahma", "param_2": "  "},
    )

    assert response.status_code == 422
    page = response.content.decode()
    assert "Fill in {{2}}: the template needs it." in page
    assert 'name="param_1" id="template-param_1" value="Siti Rahma"' in page
    assert 'aria-invalid="true" aria-describedby="template-param_2-error"' in page
    assert sent(world_a) == []


def test_a_parameter_whatsapp_would_refuse_is_an_error_before_sending(agent, world_a):
    conversation = closed(world_a)
    template = template_make(world_a.workspace)
    response = agent.post(
        send_url(world_a, conversation),
        {"template": template.pk, "action": "send", "param_1": "Siti\nRahma", "param_2": "x"},
        headers=HTMX,
    )
    assert response.status_code == 422
    assert "cannot contain line breaks" in response.content.decode()
    assert sent(world_a) == []


@pytest.mark.parametrize("why", ["none chosen", "disabled", "another workspace"])
def test_a_template_that_cannot_be_sent_here_is_an_error(agent, world_a, world_b, why):
    conversation = closed(world_a)
    template = template_make(world_a.workspace, name="ours")
    if why == "disabled":
        MessageTemplate.objects.for_workspace(world_a.workspace).filter(pk=template.pk).update(
            is_enabled=False
        )
    chosen = {
        "none chosen": "",
        "disabled": template.pk,
        "another workspace": template_make(world_b.workspace).pk,
    }[why]
    response = agent.post(
        send_url(world_a, conversation), {"template": chosen, "action": "send", "param_1": "a"}
    )
    assert response.status_code == 422
    page = response.content.decode()
    expected = "Choose a template first." if why == "none chosen" else "not available"
    assert expected in page
    assert sent(world_a) == []


def test_the_picker_form_works_on_another_workspaces_conversation_only_as_404(
    agent, world_a, world_b
):
    theirs = closed(world_b)
    template = template_make(world_b.workspace)
    response = agent.post(
        send_url(world_b, theirs),
        {"template": template.pk, "action": "send", "param_1": "a", "param_2": "b"},
    )
    assert response.status_code == 404
    assert sent(world_b) == []


def test_the_picker_costs_one_query_however_many_templates_there_are(agent, world_a):
    def queries(conversation) -> int:
        agent.get(thread_url(world_a, conversation))  # marks it read: the next one is steady
        with CaptureQueriesContext(connection) as captured:
            assert agent.get(thread_url(world_a, conversation)).status_code == 200
        return len(captured.captured_queries)

    open_window = queries(conversation_make(world_a.workspace, inbound_minutes_ago=5))
    conversation = closed(world_a)
    template_make(world_a.workspace)
    one = queries(conversation)
    for n in range(9):
        template_make(world_a.workspace, name=f"extra_{n}", body="Halo {{1}} {{2}} {{3}}")
    assert queries(conversation) == one == open_window + 1
