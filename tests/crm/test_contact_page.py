"""The contact page and the contact form: profile, E.164 phone, custom fields, lead status with
its history, notes, labels and conversations; foreign ids are refused."""

import re
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chatdesk.crm.models import (
    Contact,
    ContactNote,
    Label,
    LeadSource,
    LeadStatus,
    LeadStatusChange,
)
from chatdesk.crm.selectors import CONTACT_SUBLIST_SIZE
from tests.crm.builders import contact_make, conversation_make, message_make

pytestmark = pytest.mark.django_db


def page_url(world, contact, suffix=""):
    return f"/w/{world.workspace.slug}/contacts/{contact.pk}/{suffix}"


def form_data(**overrides):
    data = {
        "name": "Siti Rahma",
        "phone": "0812-5555-0001",
        "region": "ID",
        "email": "",
        "owner": "",
        "lead_status": "new",
        "cf-TOTAL_FORMS": "2",
        "cf-INITIAL_FORMS": "0",
        "cf-0-key": "",
        "cf-0-value": "",
        "cf-1-key": "",
        "cf-1-value": "",
    }
    data.update(overrides)
    return data


@pytest.fixture
def agent(client, world_a):
    client.force_login(world_a.agent)
    return client


def test_agent_creates_a_contact_with_the_phone_in_e164(agent, world_a):
    response = agent.post(
        f"/w/{world_a.workspace.slug}/contacts/new/",
        form_data(owner=str(world_a.agent.pk), **{"cf-0-key": "course", "cf-0-value": "MBA"}),
    )
    contact = Contact.objects.for_workspace(world_a.workspace).get()
    assert response.status_code == 302
    assert response["Location"] == page_url(world_a, contact)
    assert (contact.phone, contact.wa_id) == ("+6281255550001", "6281255550001")
    assert contact.source == LeadSource.MANUAL
    assert contact.owner == world_a.agent
    assert contact.custom_fields == {"course": "MBA"}
    created = LeadStatusChange.objects.for_workspace(world_a.workspace).get(contact=contact)
    assert (created.from_status, created.to_status, created.changed_by) == (
        "",
        "new",
        world_a.agent,
    )


def test_a_bad_phone_is_refused_with_the_reason(agent, world_a):
    response = agent.post(f"/w/{world_a.workspace.slug}/contacts/new/", form_data(phone="12"))
    assert response.status_code == 400
    assert "is not a valid phone number" in response.content.decode()
    assert not Contact.objects.for_workspace(world_a.workspace).exists()


def test_a_phone_that_already_has_a_contact_is_refused(agent, world_a):
    contact_make(world_a.workspace, phone="+6281255550001")
    response = agent.post(f"/w/{world_a.workspace.slug}/contacts/new/", form_data())
    assert response.status_code == 400
    assert "A contact with the number +6281255550001 already exists." in (response.content.decode())


def test_the_same_phone_in_another_workspace_is_no_conflict(agent, world_a, world_b):
    contact_make(world_b.workspace, phone="+6281255550001")
    response = agent.post(f"/w/{world_a.workspace.slug}/contacts/new/", form_data())
    assert response.status_code == 302


def test_an_owner_from_another_workspace_is_a_form_error(agent, world_a, world_b):
    response = agent.post(
        f"/w/{world_a.workspace.slug}/contacts/new/", form_data(owner=str(world_b.agent.pk))
    )
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not Contact.objects.for_workspace(world_a.workspace).exists()


def test_custom_fields_are_edited_as_rows(agent, world_a):
    contact = contact_make(world_a.workspace, custom_fields={"city": "Bandung", "course": "MBA"})
    page = agent.get(page_url(world_a, contact, "edit/"))
    assert page.context["formset"].initial == [
        {"key": "city", "value": "Bandung"},
        {"key": "course", "value": "MBA"},
    ]
    # Change one, empty the other (removes it), add a new one.
    data = form_data(
        name=contact.name,
        phone=contact.phone,
        **{
            "cf-TOTAL_FORMS": "3",
            "cf-INITIAL_FORMS": "2",
            "cf-0-key": "city",
            "cf-0-value": "Jakarta",
            "cf-1-key": "",
            "cf-1-value": "",
            "cf-2-key": "intake",
            "cf-2-value": "2027",
        },
    )
    response = agent.post(page_url(world_a, contact, "edit/"), data)
    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.custom_fields == {"city": "Jakarta", "intake": "2027"}


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ({"cf-0-key": "", "cf-0-value": "orphan"}, "needs a field name"),
        (
            {"cf-0-key": "a", "cf-0-value": "1", "cf-1-key": "a", "cf-1-value": "2"},
            "appears twice",
        ),
    ],
)
def test_bad_custom_field_rows_are_explained(agent, world_a, rows, message):
    contact = contact_make(world_a.workspace)
    data = form_data(name=contact.name, phone=contact.phone, **rows)
    response = agent.post(page_url(world_a, contact, "edit/"), data)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_the_phone_of_a_contact_with_conversations_cannot_change(agent, world_a):
    contact = contact_make(world_a.workspace, phone="+6281255550001")
    conversation_make(world_a.workspace, contact)
    response = agent.post(
        page_url(world_a, contact, "edit/"),
        form_data(name="New Name", phone="+6281299999999"),
    )
    assert response.status_code == 302
    contact.refresh_from_db()
    assert (contact.name, contact.phone) == ("New Name", "+6281255550001")


def test_changing_the_lead_status_records_who_and_when(agent, world_a):
    contact = contact_make(world_a.workspace)
    response = agent.post(page_url(world_a, contact, "status/"), {"lead_status": "qualified"})
    assert response.status_code == 302
    assert response["Location"] == page_url(world_a, contact) + "#status"
    contact.refresh_from_db()
    assert contact.lead_status == LeadStatus.QUALIFIED
    change = LeadStatusChange.objects.for_workspace(world_a.workspace).get(contact=contact)
    assert (change.from_status, change.to_status, change.changed_by) == (
        "new",
        "qualified",
        world_a.agent,
    )
    assert change.changed_at is not None
    # Choosing the same status again records nothing.
    agent.post(page_url(world_a, contact, "status/"), {"lead_status": "qualified"})
    assert LeadStatusChange.objects.for_workspace(world_a.workspace).count() == 1
    html = agent.get(page_url(world_a, contact)).content.decode()
    assert "New → <strong>Qualified</strong>" in html
    assert world_a.agent.email in html


def test_an_unknown_status_is_a_form_error(agent, world_a):
    contact = contact_make(world_a.workspace)
    response = agent.post(page_url(world_a, contact, "status/"), {"lead_status": "won"})
    assert response.status_code == 400
    contact.refresh_from_db()
    assert contact.lead_status == LeadStatus.NEW


def test_notes_are_added_and_listed_newest_first_with_older_ones_a_click_away(agent, world_a):
    contact = contact_make(world_a.workspace)
    for i in range(CONTACT_SUBLIST_SIZE + 1):
        assert agent.post(page_url(world_a, contact, "notes/"), {"text": f"note {i}"}).status_code
    page = agent.get(page_url(world_a, contact))
    notes = [n.text for n in page.context["notes"]]
    assert notes[0] == f"note {CONTACT_SUBLIST_SIZE}"
    assert len(notes) == CONTACT_SUBLIST_SIZE
    older = agent.get(page_url(world_a, contact) + f"?notes_before={page.context['older_notes']}")
    assert [n.text for n in older.context["notes"]] == ["note 0"]
    assert ContactNote.objects.for_workspace(world_a.workspace).first().author == world_a.agent


def test_an_empty_note_is_refused(agent, world_a):
    contact = contact_make(world_a.workspace)
    response = agent.post(page_url(world_a, contact, "notes/"), {"text": "   "})
    assert response.status_code == 400
    assert not ContactNote.objects.for_workspace(world_a.workspace).exists()


def test_labels_are_set_and_new_ones_created(agent, world_a):
    vip = Label.objects.for_workspace(world_a.workspace).create(
        workspace=world_a.workspace, name="VIP"
    )
    contact = contact_make(world_a.workspace)
    response = agent.post(
        page_url(world_a, contact, "labels/"),
        {"labels": [str(vip.pk)], "new_labels": "Batch 7, vip"},
    )
    assert response.status_code == 302
    assert {label.name for label in contact.labels.all()} == {"VIP", "Batch 7"}
    assert Label.objects.for_workspace(world_a.workspace).count() == 2


def test_another_workspaces_label_is_a_form_error(agent, world_a, world_b):
    theirs = Label.objects.for_workspace(world_b.workspace).create(
        workspace=world_b.workspace, name="Theirs"
    )
    contact = contact_make(world_a.workspace)
    response = agent.post(page_url(world_a, contact, "labels/"), {"labels": [str(theirs.pk)]})
    assert response.status_code == 400
    assert not contact.labels.exists()


@pytest.mark.parametrize("suffix", ["", "edit/", "status/", "notes/", "labels/"])
def test_another_workspaces_contact_id_is_a_404(agent, world_a, world_b, suffix):
    theirs = contact_make(world_b.workspace, name="Theirs")
    url = f"/w/{world_a.workspace.slug}/contacts/{theirs.pk}/{suffix}"
    response = agent.post(url, {"lead_status": "lost", "text": "x"}) if suffix else agent.get(url)
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.lead_status == LeadStatus.NEW
    assert not ContactNote.objects.for_workspace(world_b.workspace).exists()


def test_contact_page_links_every_conversation_of_the_contact(agent, world_a):
    contact = contact_make(world_a.workspace, name="Siti")
    first = conversation_make(world_a.workspace, contact)
    second = conversation_make(world_a.workspace, contact)
    conversation_make(world_a.workspace, contact_make(world_a.workspace))  # someone else's
    html = agent.get(page_url(world_a, contact)).content.decode()
    slug = world_a.workspace.slug
    assert f'href="/w/{slug}/inbox/{first.pk}/"' in html
    assert f'href="/w/{slug}/inbox/{second.pk}/"' in html
    assert len(re.findall(rf'href="/w/{slug}/inbox/\d+/"', html)) == 2


def test_contact_page_shows_the_profile(agent, world_a):
    contact = contact_make(
        world_a.workspace,
        name="Siti",
        phone="+6281255550001",
        email="siti@example.com",
        owner=world_a.admin,
        custom_fields={"course": "MBA"},
    )
    html = agent.get(page_url(world_a, contact)).content.decode()
    for text in ("+6281255550001", "siti@example.com", world_a.admin.email, "course", "MBA"):
        assert text in html


def _page_queries(client, world, contact) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(page_url(world, contact)).status_code == 200
    return len(queries)


def test_contact_page_runs_the_same_number_of_queries_however_much_it_shows(
    agent, world_a, django_assert_max_num_queries
):
    labels = [
        Label.objects.for_workspace(world_a.workspace).create(
            workspace=world_a.workspace, name=f"L{i}"
        )
        for i in range(3)
    ]
    contact = contact_make(world_a.workspace, labels=labels[:1], owner=world_a.admin)
    conversation = conversation_make(world_a.workspace, contact)
    message_make(conversation, at=datetime(2026, 1, 1, tzinfo=UTC))
    agent.post(page_url(world_a, contact, "notes/"), {"text": "one"})
    agent.get(page_url(world_a, contact))
    small = _page_queries(agent, world_a, contact)

    contact.labels.set(labels)
    for i in range(30):
        agent.post(page_url(world_a, contact, "notes/"), {"text": f"note {i}"})
        agent.post(
            page_url(world_a, contact, "status/"),
            {"lead_status": ["contacted", "qualified"][i % 2]},
        )
    for _ in range(3):
        conversation_make(world_a.workspace, contact)
    large = _page_queries(agent, world_a, contact)
    assert small == large
    with django_assert_max_num_queries(12):
        agent.get(page_url(world_a, contact))
