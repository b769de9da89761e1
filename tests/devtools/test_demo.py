import json
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from chatdesk.assistant.configuration import assistant_config_current, assistant_config_update
from chatdesk.assistant.knowledge import parse_knowledge_yaml
from chatdesk.assistant.models import AssistantConfig, KnowledgeEntry
from chatdesk.audit.services import audit_system_actor
from chatdesk.config.env import load_environment
from chatdesk.devtools.seed import (
    DEMO_CHANNEL_ACCESS_TOKEN,
    DEMO_CHANNEL_APP_SECRET,
    DEMO_CHANNEL_PHONE_NUMBER_ID,
    DEMO_EMAIL,
    DEMO_KNOWLEDGE_BASE,
    DEMO_PASSWORD,
    DemoRefusedError,
    demo_seed,
)
from chatdesk.messaging.models import Channel, MessageTemplate
from chatdesk.ops.checks import check_no_demo_data_in_production
from chatdesk.ops.management.commands.demo import demo_processes
from chatdesk.tenancy.models import Membership, Role, Workspace
from tests.devtools.helpers import PRODUCTION_ENV, run_python
from tests.inbox.factories import conversation_make


@pytest.mark.django_db
def test_demo_seed_creates_a_workspace_with_an_owner_who_can_log_in(client):
    login = demo_seed()
    assert login.workspace.is_demo
    user = get_user_model().objects.get(email=DEMO_EMAIL)
    membership = Membership.objects.for_workspace(login.workspace).get(user=user)
    assert membership.role == Role.OWNER
    response = client.post(
        "/accounts/login/", {"login": DEMO_EMAIL, "password": DEMO_PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == f"/w/{login.workspace.slug}/"


@pytest.mark.django_db
def test_demo_seed_run_twice_duplicates_nothing():
    demo_seed()
    workspace = demo_seed().workspace
    assert Workspace.objects.filter(slug="demo").count() == 1
    assert get_user_model().objects.filter(email=DEMO_EMAIL).count() == 1
    assert KnowledgeEntry.objects.for_workspace(workspace).count() == 12
    assert AssistantConfig.objects.for_workspace(workspace).count() == 2  # default, then seeded
    assert MessageTemplate.objects.for_workspace(workspace).count() == 3


@pytest.mark.django_db
def test_demo_seed_loads_the_example_knowledge_base_so_the_assistant_can_answer():
    workspace = demo_seed().workspace

    # The very entries the example suite (`assistant-eval`) is written against, all enabled.
    shipped = parse_knowledge_yaml(DEMO_KNOWLEDGE_BASE.read_text(encoding="utf-8")).entries
    seeded = {
        entry.key: entry.answer
        for entry in KnowledgeEntry.objects.for_workspace(workspace).filter(enabled=True)
    }
    assert seeded == {entry.key: entry.answer for entry in shipped}
    assert "Monday-Friday 09:00-17:00" in seeded["office-hours"]


@pytest.mark.django_db
def test_demo_seed_sets_the_example_assistant_settings_in_review_all_mode():
    workspace = demo_seed().workspace

    config = assistant_config_current(workspace=workspace)
    assert (config.name, config.mode, config.threshold) == ("Ayu", "review_all", 0.70)
    assert "Cakrawala Education" in config.persona
    assert "pricing" in config.forbidden_topics and "scholarships" in config.forbidden_topics
    assert config.is_active
    assert config.version == 2  # the default a new workspace gets, then the example's settings


@pytest.mark.django_db
def test_demo_seed_again_keeps_assistant_settings_and_templates_someone_changed():
    workspace = demo_seed().workspace
    assistant_config_update(
        workspace=workspace,
        actor=audit_system_actor("tests"),
        name="Budi",
        mode="autonomous",
        confirmed=True,
    )
    follow_up = MessageTemplate.objects.for_workspace(workspace).get(
        name="follow_up", language="id"
    )
    follow_up.body = "Halo {{1}}, ada kabar baru untuk Anda."
    follow_up.is_enabled = False
    follow_up.save()

    demo_seed()

    config = assistant_config_current(workspace=workspace)
    assert (config.version, config.name, config.mode) == (3, "Budi", "autonomous")
    follow_up.refresh_from_db()
    assert follow_up.body == "Halo {{1}}, ada kabar baru untuk Anda."
    assert not follow_up.is_enabled
    assert MessageTemplate.objects.for_workspace(workspace).count() == 3


@pytest.mark.django_db
def test_the_demo_template_picker_offers_the_seeded_templates_once_the_window_closed(client):
    login = demo_seed()
    conversation = conversation_make(
        login.workspace, channel=login.channel, inbound_minutes_ago=60 * 30
    )
    templates = {
        (t.name, t.language): t for t in MessageTemplate.objects.for_workspace(login.workspace)
    }
    assert set(templates) == {
        ("follow_up", "id"),
        ("follow_up", "en_US"),
        ("consultation_reminder", "id"),
    }
    assert [templates[("follow_up", lang)].parameter_count for lang in ("id", "en_US")] == [1, 1]
    client.force_login(get_user_model().objects.get(email=DEMO_EMAIL))

    page = client.get(
        reverse(
            "inbox:thread",
            kwargs={"workspace_slug": login.workspace.slug, "conversation_id": conversation.pk},
        )
    ).content.decode()

    assert 'id="template-picker"' in page
    for (name, language), template in templates.items():
        assert f'<option value="{template.pk}">{name} ({language}) · Utility</option>' in page


@pytest.mark.django_db
def test_demo_seed_refuses_in_production(settings):
    settings.APP_ENV = "production"
    with pytest.raises(DemoRefusedError, match="development-only"):
        demo_seed()
    assert not Workspace.objects.filter(slug="demo").exists()


@pytest.mark.django_db
def test_demo_command_refuses_in_production(settings):
    settings.APP_ENV = "production"
    with pytest.raises(CommandError, match="create-workspace"):
        call_command("demo", "--seed-only")


@pytest.mark.django_db
def test_demo_workspace_in_production_is_a_deploy_check_error(settings):
    demo_seed()
    assert check_no_demo_data_in_production(databases=["default"]) == []
    settings.APP_ENV = "production"
    errors = check_no_demo_data_in_production(databases=["default"])
    assert [e.id for e in errors] == ["chatdesk.E010"]
    assert "demo" in errors[0].msg


def test_production_url_map_has_no_development_route():
    code = """
import json, django
django.setup()
from django.conf import settings
from django.urls import get_resolver

def walk(patterns, prefix=""):
    for p in patterns:
        route = prefix + str(p.pattern)
        if hasattr(p, "url_patterns"):
            yield from walk(p.url_patterns, route)
        else:
            yield route, f"{p.callback.__module__}.{p.callback.__name__}"

routes = list(walk(get_resolver().url_patterns))
print(json.dumps({"apps": settings.INSTALLED_APPS, "routes": routes}))
"""
    production = run_python(code, PRODUCTION_ENV)
    assert production.returncode == 0, production.stderr
    result = json.loads(production.stdout)
    routes = result["routes"]
    assert any(route == "healthz" for route, _ in routes)  # the walk really saw the URL map
    assert "chatdesk.devtools" not in result["apps"]
    offenders = [r for r in routes if r[0].startswith("dev/") or "devtools" in r[1]]
    assert offenders == []

    development = run_python(code, {"APP_ENV": "development", "DATABASE_URL": "sqlite://:memory:"})
    assert development.returncode == 0, development.stderr
    dev_routes = json.loads(development.stdout)["routes"]
    assert any(route.startswith("dev/") for route, _ in dev_routes)


@pytest.mark.django_db
def test_demo_seed_creates_one_demo_channel_with_the_published_credentials():
    first = demo_seed().channel
    first.signing_secret = "edited-by-someone"
    first.is_active = False
    first.save()

    second = demo_seed().channel

    assert second.pk == first.pk
    assert Channel.objects.for_workspace(second.workspace).count() == 1
    second.refresh_from_db()
    assert (second.kind, second.phone_number_id) == ("meta", DEMO_CHANNEL_PHONE_NUMBER_ID)
    assert second.signing_secret == DEMO_CHANNEL_APP_SECRET
    assert second.api_token == DEMO_CHANNEL_ACCESS_TOKEN
    assert second.is_active


@pytest.mark.django_db
def test_demo_banner_shows_the_app_login_and_simulator_urls():
    out = StringIO()
    call_command("demo", "--seed-only", "--simulator-port", "8031", stdout=out)

    banner = out.getvalue()
    assert "URL:       http://127.0.0.1:8000/" in banner
    assert f"Login:     {DEMO_EMAIL}" in banner
    assert "Simulator: http://127.0.0.1:8031/" in banner


def test_demo_runs_the_simulator_wired_to_the_demo_channel_and_the_app():
    processes = demo_processes(host="127.0.0.1", port=8000, simulator_port=8031, simulate=True)

    assert set(processes) == {"web", "worker", "simulator"}
    argv, _ = processes["simulator"]
    assert argv[1:] == [
        "-m",
        "chatdesk",
        "simulator",
        "--from-demo",
        "--port",
        "8031",
        "--app-url",
        "http://127.0.0.1:8000",
    ]
    # Web and worker send to the simulator instead of Meta (read through the settings schema).
    for _, env in processes.values():
        assert env["SIMULATOR_ENABLED"] == "true"
        assert env["SIMULATOR_URL"] == "http://127.0.0.1:8031"
        assert load_environment(env).settings.SIMULATOR_ENABLED is True

    without = demo_processes(host="127.0.0.1", port=8000, simulator_port=8031, simulate=False)
    assert set(without) == {"web", "worker"}
    assert all(env is None for _, env in without.values())
