"""Assistant > Settings: the configuration form, the confirmation step for unsupervised modes,
the kill switch, the version history; admins and owners only."""

from __future__ import annotations

import pytest

from chatdesk.assistant.configuration import (
    EDITABLE_FIELDS,
    assistant_config_current,
    assistant_config_update,
)
from chatdesk.assistant.models import AssistantConfig, AssistantMode, KnowledgeEntry
from chatdesk.assistant.respond import (
    assistant_draft_approve,
    assistant_draft_edit_and_send,
    assistant_draft_reject,
)
from chatdesk.assistant.services import FORM_FIELDS
from chatdesk.audit.models import AuditAction
from chatdesk.audit.services import AuditActor
from chatdesk.tenancy.models import Role
from tests.assistant.admin_helpers import (
    ADMIN_URL_NAMES,
    audit_events,
    settings_form_data,
    stored_rows,
    url,
)
from tests.assistant.helpers import assistant_world, customer_writes, run_pipeline
from tests.tenancy.factories import world_make
from tests.tenancy.tenant_urls import tenant_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return world_make("alpha")


@pytest.fixture
def admin(client, world):
    client.force_login(world.admin)
    return client


def versions(world) -> list[int]:
    return list(
        AssistantConfig.objects.for_workspace(world.workspace)
        .order_by("version")
        .values_list("version", flat=True)
    )


def save(client, world, **typed):
    config = assistant_config_current(workspace=world.workspace)
    return client.post(url("settings", world), settings_form_data(config, **typed))


# --- Who may see it -----------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN])
def test_admins_and_owners_see_the_current_version_as_a_form(client, world, role):
    client.force_login(world.user(role))
    page = client.get(url("settings", world))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Version 1, saved by chatdesk (defaults)" in html
    assert 'name="threshold"' in html and 'value="0.7"' in html
    assert "pricing\nrefunds" in html  # forbidden topics, one per line
    assert "Turn the assistant off now" in html


@pytest.mark.parametrize("method", ["get", "post"])
def test_agents_get_403_on_every_assistant_admin_page_and_nothing_changes(client, world, method):
    KnowledgeEntry.objects.for_workspace(world.workspace).create(
        workspace=world.workspace, key="k", topic="t", answer="A.", questions=["q?"]
    )
    before = versions(world), len(audit_events(world)), stored_rows(world)
    client.force_login(world.agent)
    for name in ADMIN_URL_NAMES:
        data = {"state": "on", "enabled": "false", "message": "hi", "key": "x", "text": "x"}
        response = getattr(client, method)(tenant_url(name, world), data)
        assert response.status_code == 403, f"{method.upper()} {name}"
    assert (versions(world), len(audit_events(world)), stored_rows(world)) == before
    assert KnowledgeEntry.objects.for_workspace(world.workspace).get().enabled


def test_a_member_of_another_workspace_gets_404_on_every_assistant_admin_page(client, world):
    other = world_make("beta")
    client.force_login(other.owner)
    for name in ADMIN_URL_NAMES:
        assert client.get(tenant_url(name, world)).status_code == 404, name
        assert client.post(tenant_url(name, world), {"state": "on"}).status_code == 404, name
    assert not assistant_config_current(workspace=world.workspace).kill_switch


def test_the_top_bar_links_admins_to_the_assistant_but_not_agents(client, world):
    client.force_login(world.admin)
    assert (
        f'href="{url("settings", world)}">Assistant</a>'
        in client.get(f"/w/{world.workspace.slug}/").content.decode()
    )
    client.force_login(world.agent)
    assert ">Assistant</a>" not in client.get(f"/w/{world.workspace.slug}/").content.decode()


def test_the_sub_navigation_links_settings_knowledge_and_sandbox(admin, world):
    html = admin.get(url("settings", world)).content.decode()
    for name in ("settings", "knowledge", "sandbox"):
        assert f'href="{url(name, world)}"' in html


# --- Saving ---------------------------------------------------------------------------------------


def test_saving_creates_a_new_audited_version_that_applies_from_the_next_message(admin, world):
    response = save(
        admin,
        world,
        name="Ayu",
        threshold="0.8",
        allowed_topics="contact\nvisa, services\n\n",
        forbidden_topics="pricing\nrefunds",
        max_reply_chars="250",
        use_first_name=False,
    )
    assert response.status_code == 302
    config = assistant_config_current(workspace=world.workspace)
    assert config.version == 2 and config.created_by == world.admin
    assert (config.name, config.threshold, config.max_reply_chars) == ("Ayu", 0.8, 250)
    assert config.allowed_topics == ["contact", "visa", "services"]
    assert config.forbidden_topics == ["pricing", "refunds"]
    assert config.use_first_name is False
    [event] = audit_events(world)
    assert event.action == AuditAction.ASSISTANT_CONFIG_CHANGED and event.actor == world.admin
    assert event.details["threshold"] == {"from": 0.7, "to": 0.8}
    page = admin.get(url("settings", world)).content.decode()
    assert "Saved as version 2. It applies from the next customer message." in page
    assert f"Version 2, saved by {world.admin.email}" in page


def test_saving_without_changes_creates_no_version(admin, world):
    response = save(admin, world)
    assert response.status_code == 302
    assert versions(world) == [1] and audit_events(world) == []
    assert "Nothing changed" in admin.get(url("settings", world)).content.decode()


def test_business_hours_are_days_and_times_and_no_day_means_always_open(admin, world):
    save(admin, world, hours_days=[0, 1, 2, 3, 4], hours_start="08:00", hours_end="17:30:00")
    config = assistant_config_current(workspace=world.workspace)
    assert config.business_hours == {"days": [0, 1, 2, 3, 4], "start": "08:00", "end": "17:30"}
    save(admin, world, hours_days=[], hours_start="", hours_end="")
    assert assistant_config_current(workspace=world.workspace).business_hours == {}


def test_the_business_hours_show_their_time_zone(admin, world, settings):
    html = admin.get(url("settings", world)).content.decode()
    assert f"Times are in {settings.TIME_ZONE} (the server's time zone" in html
    save(
        admin,
        world,
        hours_days=[5, 6],
        hours_start="09:00",
        hours_end="13:00",
        hours_timezone="Asia/Jakarta",
    )
    hours = assistant_config_current(workspace=world.workspace).business_hours
    assert hours == {"days": [5, 6], "start": "09:00", "end": "13:00", "timezone": "Asia/Jakarta"}
    html = admin.get(url("settings", world)).content.decode()
    assert "Times are in Asia/Jakarta." in html
    assert "Open now." in html or "Closed now; opens 20" in html


def test_times_without_days_are_refused_with_the_typed_values_kept(admin, world):
    response = save(admin, world, hours_days=[], hours_start="08:00", hours_end="17:00")
    assert response.status_code == 400
    html = response.content.decode()
    assert "Tick the days you are open, or clear both times for always open." in html
    assert 'value="08:00"' in html
    assert versions(world) == [1]


@pytest.mark.parametrize(
    ("typed", "field", "error"),
    [
        ({"temperature": "0.5"}, "temperature", "Must be between 0 and 0.3"),
        ({"threshold": "1.5"}, "threshold", "Must be between 0 and 1"),
        ({"sample_every": "1"}, "sample_every", "Must be a whole number from 2 to 1000"),
        ({"max_reply_chars": "5"}, "max_reply_chars", "Must be a whole number from 20 to 4096"),
        ({"name": " "}, "name", "Must be 1 to 80 characters"),
        (
            {"hours_days": [0], "hours_start": "18:00", "hours_end": "09:00"},
            "hours_start",
            'Must be before "Closes at"',
        ),
        ({"hours_days": [0], "hours_start": "8am", "hours_end": "17:00"}, "hours_start", "08:30"),
        ({"threshold": "high"}, "threshold", "Enter a number."),
        (
            {"hours_days": [0], "hours_start": "08:00", "hours_end": "17:00"}
            | {"hours_timezone": "Mars/Olympus"},
            "hours_timezone",
            "Must be a time zone name like Asia/Jakarta",
        ),
        ({"review_timeout_minutes": "0"}, "review_timeout_minutes", "from 1 to 1440"),
    ],
)
def test_refused_values_are_shown_next_to_their_field_and_nothing_is_lost(
    admin, world, typed, field, error
):
    response = save(admin, world, persona="Warm, brief and careful", **typed)
    assert response.status_code == 400
    form = response.context["form"]
    assert any(error in message for message in form.errors[field]), form.errors
    html = response.content.decode()
    assert "Warm, brief and careful" in html  # the other typed values are kept
    for value in typed.values():
        if isinstance(value, str) and value.strip():
            assert f'value="{value}"' in html
    assert versions(world) == [1] and audit_events(world) == []


def test_every_editable_setting_but_the_kill_switch_has_an_input(admin, world):
    html = admin.get(url("settings", world)).content.decode()
    for name in FORM_FIELDS:
        if name == "business_hours":
            for part in ("hours_days", "hours_start", "hours_end"):
                assert f'name="{part}"' in html
        else:
            assert f'name="{name}"' in html, name
    assert 'name="kill_switch"' not in html  # its own button


@pytest.mark.parametrize(
    ("name", "typed", "stored"),
    [
        ("review_timeout_minutes", "12", 12),
        ("after_hours_message", "Back at {next_open}!", "Back at {next_open}!"),
    ],
)
def test_review_timeout_and_after_hours_message_are_edited_like_the_rest(
    admin, world, name, typed, stored
):
    if name not in EDITABLE_FIELDS:
        pytest.skip(f"{name} is not an editable setting yet")
    assert save(admin, world, **{name: typed}).status_code == 302
    assert getattr(assistant_config_current(workspace=world.workspace), name) == stored


def test_two_admins_saving_different_settings_keep_both_changes(client, world):
    loaded = assistant_config_current(workspace=world.workspace)  # admin A opens the form
    assistant_config_update(
        workspace=world.workspace, actor=AuditActor(user=world.owner), threshold=0.85
    )
    client.force_login(world.admin)
    client.post(url("settings", world), settings_form_data(loaded, persona="Calm"))
    config = assistant_config_current(workspace=world.workspace)
    assert (config.version, config.persona, config.threshold) == (3, "Calm", 0.85)


# --- Unsupervised modes need a confirmation ------------------------------------------------------


def reviewed_drafts():
    """Four drafts: one approved, one edited, one rejected, one still waiting."""
    world_kb = assistant_world("reviewed")
    drafts = [
        run_pipeline(
            customer_writes(world_kb.channel, "What time does your office open?", wa_id=f"62811{n}")
        )
        for n in range(4)
    ]
    assistant_draft_approve(draft=drafts[0], reviewer=world_kb.agent)
    assistant_draft_edit_and_send(draft=drafts[1], reviewer=world_kb.agent, text="Open 9-5.")
    assistant_draft_reject(draft=drafts[2], reviewer=world_kb.agent)
    return world_kb


@pytest.mark.parametrize("mode", [AssistantMode.SAMPLED, AssistantMode.AUTONOMOUS])
def test_moving_to_an_unsupervised_mode_shows_a_confirmation_and_changes_nothing(client, mode):
    world = reviewed_drafts()
    client.force_login(world.admin)
    response = save(client, world, mode=mode, threshold="0.75")
    assert response.status_code == 200
    assert response.templates[0].name == "assistant/settings_confirm.html"
    html = response.content.decode()
    assert "Nothing is saved yet." in html
    assert "without anyone reading" in html
    counts = response.context["counts"]
    assert counts == {"reviewed": 3, "approved": 1, "edited": 1, "rejected": 1}
    assert "<strong>3</strong> drafts reviewed" in html
    assert "<strong>1</strong> edited before sending" in html
    config = assistant_config_current(workspace=world.workspace)
    assert (config.version, config.mode, config.threshold) == (1, AssistantMode.REVIEW_ALL, 0.7)

    # The confirmation repeats the submitted form; posting it saves everything at once.
    confirm = {name: values for name, values in response.context["posted"]}
    confirm["confirm_mode"] = mode
    assert client.post(url("settings", world), confirm).status_code == 302
    config = assistant_config_current(workspace=world.workspace)
    assert (config.version, config.mode, config.threshold) == (2, mode, 0.75)


def test_the_confirmation_warns_plainly_when_nobody_reviewed_anything(admin, world):
    html = save(admin, world, mode=AssistantMode.AUTONOMOUS).content.decode()
    assert "Nobody has reviewed a draft yet" in html
    assert "every assistant reply goes to your customers straight away" in html


def test_a_confirmation_for_another_mode_does_not_count(admin, world):
    config = assistant_config_current(workspace=world.workspace)
    data = settings_form_data(config, mode=AssistantMode.AUTONOMOUS)
    data["confirm_mode"] = AssistantMode.SAMPLED
    response = admin.post(url("settings", world), data)
    assert response.templates[0].name == "assistant/settings_confirm.html"
    assert assistant_config_current(workspace=world.workspace).mode == AssistantMode.REVIEW_ALL


# --- Kill switch ----------------------------------------------------------------------------------


def test_the_kill_switch_stops_the_assistant_at_once_and_is_audited(client):
    world = assistant_world("kill")
    client.force_login(world.admin)
    response = client.post(url("settings-kill-switch", world), {"state": "on"})
    assert response.status_code == 302
    config = assistant_config_current(workspace=world.workspace)
    assert config.kill_switch and not config.is_active and config.version == 2
    [event] = audit_events(world)
    assert event.details["kill_switch"] == {"from": False, "to": True}
    # The very next customer message gets no assistant reply.
    message = customer_writes(world.channel, "What time does your office open?")
    assert run_pipeline(message) is None
    page = client.get(url("settings", world)).content.decode()
    assert "Kill switch on: the assistant is off for every conversation" in page
    assert "Turn the assistant back on" in page

    client.post(url("settings-kill-switch", world), {"state": "off"})
    config = assistant_config_current(workspace=world.workspace)
    assert not config.kill_switch and config.is_active and config.version == 3


def test_the_kill_switch_refuses_anything_but_on_or_off(admin, world):
    response = admin.post(url("settings-kill-switch", world), {"state": "maybe"}, follow=True)
    assert "The kill switch takes on or off." in response.content.decode()
    assert versions(world) == [1]  # the page's default version, nothing more
    admin.post(url("settings-kill-switch", world), {"state": "off"})  # already off
    assert versions(world) == [1] and audit_events(world) == []


# --- History --------------------------------------------------------------------------------------


def test_the_history_lists_each_version_with_who_when_and_what_changed(admin, world):
    save(admin, world, threshold="0.8", allowed_topics="contact\nvisa")
    save(admin, world, persona="A long persona text " * 5)
    admin.post(url("settings-kill-switch", world), {"state": "on"})
    response = admin.get(url("settings", world))
    history = response.context["history"]
    assert [row["version"].config.version for row in history] == [4, 3, 2, 1]
    labels = [[label for label, _ in row["changes"]] for row in history]
    assert labels == [
        ["Kill switch"],
        ["Persona"],
        ["Allowed topics", "Confidence threshold"],
        [],
    ]
    html = response.content.decode()
    assert "0.7 → 0.8" in html
    assert '<span class="diff-added">+ visa</span>' in html
    assert "text changed" in html  # long texts are named, not dumped
    assert "First version (defaults)." in html
    assert world.admin.email in html


def test_the_settings_page_runs_a_fixed_number_of_queries(
    admin, world, django_assert_max_num_queries
):
    for n in range(25):
        save(admin, world, threshold=str(0.5 + n / 100))
    with django_assert_max_num_queries(12):
        assert admin.get(url("settings", world)).status_code == 200
