"""Settings > Templates: admins keep the registry of approved WhatsApp templates; agents cannot."""

from __future__ import annotations

import pytest

from chatdesk.audit.models import AuditAction
from chatdesk.messaging.models import MessageTemplate
from tests.factories import make_channel
from tests.workspace_settings.helpers import CLIENT_IP, audit_events, url

pytestmark = pytest.mark.django_db

VALID = {
    "name": "payment_reminder",
    "language": "id",
    "category": "utility",
    "channel": "",
    "body": "Halo {{1}}, pembayaran {{2}} jatuh tempo.",
}


def templates(world):
    return list(MessageTemplate.objects.for_workspace(world.workspace).order_by("pk"))


def template_make(world, **fields) -> MessageTemplate:
    values = {**VALID, "channel": None, **fields}
    return MessageTemplate.objects.for_workspace(world.workspace).create(
        workspace=world.workspace, **values
    )


@pytest.fixture
def admin(client, world_a):
    client.force_login(world_a.admin)
    return client


def test_the_templates_page_is_in_the_settings_menu(admin, world_a):
    page = admin.get(url("team", world_a)).content.decode()
    assert f'href="{url("templates", world_a)}"' in page
    listing = admin.get(url("templates", world_a))
    assert listing.status_code == 200
    assert "No templates yet" in listing.content.decode()


def test_an_admin_adds_a_template_for_every_channel_and_it_is_audited(admin, world_a):
    response = admin.post(url("template-add", world_a), VALID, REMOTE_ADDR=CLIENT_IP, follow=True)

    [template] = templates(world_a)
    assert (template.name, template.language, template.channel_id) == (
        "payment_reminder",
        "id",
        None,
    )
    assert template.is_enabled
    page = response.content.decode()
    assert "Template payment_reminder (id) added" in page and "Every channel" in page
    [event] = audit_events(world_a)
    assert event.action == AuditAction.TEMPLATE_CREATED
    assert (event.actor, event.ip_address) == (world_a.admin, CLIENT_IP)
    assert event.details["name"] == "payment_reminder"


def test_a_template_can_belong_to_one_channel_of_the_workspace(admin, world_a):
    channel = make_channel(world_a.workspace)
    admin.post(url("template-add", world_a), {**VALID, "channel": channel.pk})
    assert templates(world_a)[0].channel_id == channel.pk


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "Payment Reminder", "lowercase letters, digits and underscores"),
        ("name", "", "This field is required"),
        ("language", "bahasa", "e.g. id, en or en_US"),
        ("category", "promo", "Select a valid choice"),
        ("body", "Halo {{2}}", "missing: {{1}}"),
        ("body", "Halo {{nama}}", "is not a placeholder"),
        ("body", "y" * 1100, "limited to 1024 characters (this one has 1100)"),
    ],
)
def test_a_bad_field_is_a_clear_error_and_everything_typed_is_kept(
    admin, world_a, field, value, message
):
    data = {**VALID, field: value}
    response = admin.post(url("template-add", world_a), data)

    assert response.status_code == 400
    page = response.content.decode()
    assert message in page.replace("&quot;", '"').replace("&#x27;", "'")
    for typed in (data["name"], data["language"], data["body"]):
        assert typed[:60] in page  # nothing typed is lost
    assert templates(world_a) == []
    assert audit_events(world_a) == []


def test_another_workspaces_channel_is_refused(admin, world_a, world_b):
    foreign = make_channel(world_b.workspace)
    response = admin.post(url("template-add", world_a), {**VALID, "channel": foreign.pk})
    assert response.status_code == 400
    assert "Choose one of this workspace" in response.content.decode()
    assert templates(world_a) == []


def test_the_same_name_and_language_twice_is_refused_and_another_language_is_fine(admin, world_a):
    template_make(world_a)
    duplicate = admin.post(url("template-add", world_a), VALID)
    assert duplicate.status_code == 400
    assert "already has a template named payment_reminder in id" in duplicate.content.decode()
    english = admin.post(url("template-add", world_a), {**VALID, "language": "en_US"})
    assert english.status_code == 302
    assert [t.language for t in templates(world_a)] == ["id", "en_US"]


def test_an_admin_edits_a_template_and_the_audit_names_the_fields(admin, world_a):
    template = template_make(world_a)
    form = admin.get(url("template-edit", world_a, template_id=template.pk)).content.decode()
    assert "Edit payment_reminder (id)" in form and "pembayaran {{2}} jatuh tempo" in form

    admin.post(
        url("template-edit", world_a, template_id=template.pk),
        {**VALID, "category": "marketing", "body": "Halo {{1}}!"},
    )

    template.refresh_from_db()
    assert (template.category, template.body) == ("marketing", "Halo {{1}}!")
    [event] = audit_events(world_a)
    assert event.action == AuditAction.TEMPLATE_UPDATED
    assert event.details["fields"] == ["category", "body"]


def test_saving_an_unchanged_template_records_nothing(admin, world_a):
    template = template_make(world_a)
    response = admin.post(
        url("template-edit", world_a, template_id=template.pk), VALID, follow=True
    )
    assert "Nothing changed" in response.content.decode()
    assert audit_events(world_a) == []


def test_an_invalid_edit_keeps_the_stored_template_and_the_typed_text(admin, world_a):
    template = template_make(world_a)
    response = admin.post(
        url("template-edit", world_a, template_id=template.pk),
        {**VALID, "body": "Halo {{3}} salah"},
    )
    assert response.status_code == 400
    assert "Halo {{3}} salah" in response.content.decode()
    template.refresh_from_db()
    assert template.body == VALID["body"]


def test_disable_and_enable_are_audited(admin, world_a):
    template = template_make(world_a)
    admin.post(url("template-enabled", world_a, template_id=template.pk), {"enabled": "false"})
    template.refresh_from_db()
    assert not template.is_enabled
    admin.post(url("template-enabled", world_a, template_id=template.pk), {"enabled": "true"})
    template.refresh_from_db()
    assert template.is_enabled
    assert [e.action for e in audit_events(world_a)] == [
        AuditAction.TEMPLATE_DISABLED,
        AuditAction.TEMPLATE_ENABLED,
    ]


def test_delete_removes_the_template_and_is_audited(admin, world_a):
    template = template_make(world_a)
    response = admin.post(url("template-delete", world_a, template_id=template.pk), follow=True)
    assert "Template payment_reminder (id) deleted" in response.content.decode()
    assert templates(world_a) == []
    [event] = audit_events(world_a)
    assert (event.action, event.details["name"]) == (
        AuditAction.TEMPLATE_DELETED,
        "payment_reminder",
    )


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("templates", None),
        ("template-add", VALID),
        ("template-edit", {**VALID, "body": "changed {{1}}"}),
        ("template-enabled", {"enabled": "false"}),
        ("template-delete", {}),
    ],
)
def test_agents_get_403_and_change_nothing(client, world_a, name, data):
    template = template_make(world_a)
    client.force_login(world_a.agent)
    kwargs = {} if name in ("templates", "template-add") else {"template_id": template.pk}
    path = url(name, world_a, **kwargs)
    response = client.post(path, data) if data is not None else client.get(path)
    assert response.status_code == 403
    template.refresh_from_db()
    assert (template.body, template.is_enabled) == (VALID["body"], True)
    assert len(templates(world_a)) == 1


@pytest.mark.parametrize("name", ["template-edit", "template-enabled", "template-delete"])
def test_another_workspaces_template_is_404_for_an_admin_and_stays_as_it_was(
    admin, world_a, world_b, name
):
    theirs = template_make(world_b)
    response = admin.post(
        url(name, world_a, template_id=theirs.pk), {**VALID, "enabled": "false", "body": "x"}
    )
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert (theirs.body, theirs.is_enabled) == (VALID["body"], True)
