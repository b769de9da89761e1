"""Assistant > Knowledge: list with search and topic filter, create/edit with validation,
enable/disable, delete after confirmation, YAML export and the two-step YAML import."""

from __future__ import annotations

import json
from io import StringIO

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chatdesk.assistant.configuration import assistant_config_update
from chatdesk.assistant.knowledge import parse_knowledge_yaml
from chatdesk.assistant.models import KnowledgeEntry
from chatdesk.assistant.services import knowledge_import_yaml
from chatdesk.audit.models import AuditAction
from chatdesk.audit.services import AuditActor
from tests.assistant.admin_helpers import audit_events, entries, url
from tests.assistant.conftest import EXAMPLE_KB, EXAMPLE_SUITE
from tests.tenancy.factories import world_make

pytestmark = pytest.mark.django_db

HOURS = """\
knowledge:
  - id: office-hours
    topic: contact
    questions:
      - When are you open?
      - Jam buka kapan?
    answer: We are open Monday to Friday, 09:00-17:00.
"""


@pytest.fixture
def world():
    return world_make("alpha")


@pytest.fixture
def admin(client, world):
    client.force_login(world.admin)
    return client


@pytest.fixture
def example(world):
    knowledge_import_yaml(workspace=world.workspace, text=EXAMPLE_KB.read_text(encoding="utf-8"))
    return entries(world)


def new_entry(**typed) -> dict:
    data = {
        "key": "visa-help",
        "topic": "visa",
        "answer": "We help with student visa applications.",
        "questions": "Can you help with my visa?\nBisa bantu urus visa?",
        "enabled": "on",
    }
    data.update(typed)
    return {k: v for k, v in data.items() if v is not None}


# --- List -----------------------------------------------------------------------------------------


def test_the_list_shows_topic_key_first_question_state_and_update_time(admin, world, example):
    example["office-hours"].enabled = False
    example["office-hours"].save()
    html = admin.get(url("knowledge", world)).content.decode()
    assert "12 entries." in html
    assert "<code>office-hours</code>" in html and "What are your opening hours?" in html
    assert "+5 more" in html  # the other example questions
    assert html.count("badge is-warning") == 1  # disabled
    assert f'href="{url("knowledge-edit", world, entry_id=example["office-hours"].pk)}"' in html


def test_search_and_topic_filter_narrow_the_list(admin, world, example):
    page = admin.get(url("knowledge", world), {"q": "Sudirman"})  # in an answer
    assert [e.key for e in page.context["page"].object_list] == ["office-location"]
    page = admin.get(url("knowledge", world), {"q": "jam buka"})  # in a question
    assert [e.key for e in page.context["page"].object_list] == ["office-hours"]
    page = admin.get(url("knowledge", world), {"topic": "contact"})
    keys = {e.key for e in page.context["page"].object_list}
    assert keys == {k for k, e in example.items() if e.topic == "contact"} and len(keys) >= 2
    page = admin.get(url("knowledge", world), {"q": "zzz-nothing"})
    assert "No entry matches these filters." in page.content.decode()


def test_htmx_search_answers_with_the_results_only(admin, world, example):
    page = admin.get(
        url("knowledge", world),
        {"q": "Sudirman"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="knowledge-results",
    )
    html = page.content.decode()
    assert "office-location" in html and "<html" not in html


def test_an_empty_knowledge_base_says_the_assistant_stays_quiet(admin, world):
    assert "the assistant stays quiet" in admin.get(url("knowledge", world)).content.decode()


def test_the_list_runs_the_same_queries_for_3_or_60_entries(admin, world):
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert admin.get(url("knowledge", world), {"q": "question"}).status_code == 200
        return len(queries)

    admin.get(url("knowledge", world))  # the first visit also remembers the workspace
    for n in range(3):
        KnowledgeEntry.objects.for_workspace(world.workspace).create(
            workspace=world.workspace, key=f"k{n}", topic=f"t{n}", answer="A.", questions=["q"]
        )
    few = count()
    for n in range(3, 60):
        KnowledgeEntry.objects.for_workspace(world.workspace).create(
            workspace=world.workspace, key=f"k{n}", topic=f"t{n}", answer="A.", questions=["q"]
        )
    assert count() == few <= 12


# --- Create and edit ----------------------------------------------------------------------------


def test_an_admin_creates_an_entry_and_it_is_audited(admin, world):
    response = admin.post(url("knowledge-create", world), new_entry())
    assert response.status_code == 302
    entry = entries(world)["visa-help"]
    assert entry.questions == ["Can you help with my visa?", "Bisa bantu urus visa?"]
    assert entry.enabled and entry.topic == "visa"
    [event] = audit_events(world)
    assert event.action == AuditAction.ASSISTANT_KNOWLEDGE_CHANGED
    assert event.details["knowledge"] == "created" and event.details["key"] == "visa-help"
    assert event.target_label == "knowledge entry visa-help" and event.actor == world.admin
    assert "Entry visa-help created." in admin.get(url("knowledge", world)).content.decode()


@pytest.mark.parametrize(
    ("typed", "field", "error"),
    [
        ({"key": "Visa Help"}, "key", "lowercase letters, digits"),
        ({"key": ""}, "key", "lowercase letters, digits"),
        ({"key": "office-hours"}, "key", "already exists"),
        ({"answer": "   "}, "answer", "Enter the approved answer"),
        ({"answer": "x" * 4001}, "answer", "Keep the answer to 4000 characters"),
        ({"questions": "\n  \n"}, "questions", "Enter at least one example question."),
        ({"questions": "ok?\n" + "q" * 501}, "questions", "line 2 is longer"),
        ({"topic": ""}, "topic", "Enter a topic"),
        ({"topic": "t" * 81}, "topic", "Keep the topic to 80 characters"),
    ],
)
def test_a_refused_entry_shows_why_keeps_what_was_typed_and_creates_nothing(
    admin, world, typed, field, error
):
    KnowledgeEntry.objects.for_workspace(world.workspace).create(
        workspace=world.workspace, key="office-hours", topic="contact", answer="A.", questions=["q"]
    )
    response = admin.post(url("knowledge-create", world), new_entry(**typed))
    assert response.status_code == 400
    assert any(error in m for m in response.context["form"].errors[field])
    html = response.content.decode()
    assert "Bisa bantu urus visa?" in html or field == "questions"
    assert "We help with student visa applications." in html or field == "answer"
    assert set(entries(world)) == {"office-hours"} and audit_events(world) == []


def test_an_entry_made_in_the_page_exports_and_imports_cleanly(admin, world):
    admin.post(url("knowledge-create", world), new_entry(questions=" a? \n\na?\nb? "))
    assert entries(world)["visa-help"].questions == ["a?", "b?"]  # trimmed, blank and repeats out
    text = admin.get(url("knowledge-export", world)).content.decode()
    [entry] = parse_knowledge_yaml(text).entries
    assert (entry.key, entry.questions) == ("visa-help", ("a?", "b?"))


def test_editing_saves_the_changes_keeps_the_key_and_is_audited(admin, world, example):
    entry = example["office-hours"]
    response = admin.post(
        url("knowledge-edit", world, entry_id=entry.pk),
        new_entry(key="renamed", topic="contact", enabled=None),
    )
    assert response.status_code == 302
    entry.refresh_from_db()
    assert entry.key == "office-hours"  # the key is the entry's identity
    assert entry.answer == "We help with student visa applications." and not entry.enabled
    [event] = audit_events(world)
    assert event.details["knowledge"] == "updated"
    assert event.details["fields"] == ["answer", "questions", "enabled"]


def test_editing_with_errors_keeps_the_typed_text_and_changes_nothing(admin, world, example):
    entry = example["office-hours"]
    response = admin.post(
        url("knowledge-edit", world, entry_id=entry.pk),
        new_entry(answer="New answer typed here", questions=""),
    )
    assert response.status_code == 400
    assert "New answer typed here" in response.content.decode()
    entry.refresh_from_db()
    assert entry.answer.startswith("Our office is open") and audit_events(world) == []


def test_an_entry_of_another_workspace_is_a_404_through_this_workspace(admin, world):
    other = world_make("beta")
    theirs = KnowledgeEntry.objects.for_workspace(other.workspace).create(
        workspace=other.workspace, key="secret", topic="t", answer="Theirs.", questions=["q"]
    )
    for name in ("knowledge-edit", "knowledge-enabled", "knowledge-delete"):
        assert admin.get(url(name, world, entry_id=theirs.pk)).status_code in (404, 405)
        assert admin.post(url(name, world, entry_id=theirs.pk), new_entry()).status_code == 404
    theirs.refresh_from_db()
    assert theirs.answer == "Theirs." and theirs.enabled


# --- Enable, disable, delete ----------------------------------------------------------------------


def test_disabling_and_enabling_is_one_click_and_audited(admin, world, example):
    entry = example["office-hours"]
    response = admin.post(url("knowledge-enabled", world, entry_id=entry.pk), {"enabled": "false"})
    assert response.status_code == 302
    entry.refresh_from_db()
    assert not entry.enabled
    response = admin.post(
        url("knowledge-enabled", world, entry_id=entry.pk),
        {"enabled": "true"},
        HTTP_HX_REQUEST="true",
    )
    entry.refresh_from_db()
    assert entry.enabled
    row = response.content.decode()
    assert row.strip().startswith(f'<tr id="entry-{entry.pk}">') and "Disable" in row
    assert [e.details["knowledge"] for e in audit_events(world)] == ["disabled", "enabled"]


def test_delete_asks_first_and_then_deletes_with_an_audit_entry(admin, world, example):
    entry = example["office-hours"]
    page = admin.get(url("knowledge-delete", world, entry_id=entry.pk))
    assert "This cannot be undone" in page.content.decode()
    assert "office-hours" in entries(world)  # asking deletes nothing
    response = admin.post(url("knowledge-delete", world, entry_id=entry.pk))
    assert response.status_code == 302
    assert "office-hours" not in entries(world)
    [event] = audit_events(world)
    assert event.details == {
        "knowledge": "deleted",
        "key": "office-hours",
        "fields": [],
        "topic": "contact",
    }


# --- Export -------------------------------------------------------------------------------------


def test_export_downloads_the_assistant_eval_format_with_the_workspace_settings(
    admin, world, example, tmp_path
):
    assistant_config_update(
        workspace=world.workspace, actor=AuditActor(user=world.admin), threshold=0.75
    )
    response = admin.get(url("knowledge-export", world))
    assert response["Content-Disposition"] == 'attachment; filename="alpha-knowledge.yaml"'
    text = response.content.decode()
    document = parse_knowledge_yaml(text)
    assert len(document.entries) == 12 and document.settings.threshold == 0.75
    assert yaml.safe_load(text)["workspace"] == "alpha"
    # It runs as is with assistant-eval.
    kb = tmp_path / "kb.yaml"
    kb.write_text(text, encoding="utf-8")
    out = StringIO()
    call_command(
        "assistant-eval", "--kb", str(kb), "--suite", str(EXAMPLE_SUITE), "--json", stdout=out
    )
    assert json.loads(out.getvalue())["summary"]["wrong_answers"] == 0


# --- Import -------------------------------------------------------------------------------------


def preview(admin, world, text: str):
    return admin.post(url("knowledge-import", world), {"text": text})


def test_import_previews_then_applies_in_one_step_on_confirmation(admin, world):
    knowledge_import_yaml(workspace=world.workspace, text=HOURS)
    text = EXAMPLE_KB.read_text(encoding="utf-8")
    response = preview(admin, world, text)
    assert response.status_code == 200
    result = response.context["preview"]
    assert (len(result.created), len(result.updated), len(result.unchanged)) == (11, 1, 0)
    assert result.updated[0].fields == ("answer", "questions")
    html = response.content.decode()
    assert "11 to create, 1 to update, 0 unchanged." in html
    assert "is not imported: change settings on the Settings page" in html
    assert set(entries(world)) == {"office-hours"}  # a preview changes nothing

    confirm = admin.post(url("knowledge-import", world), {"text": text, "digest": result.digest})
    assert confirm.status_code == 302
    assert len(entries(world)) == 12
    [event] = audit_events(world)
    assert event.details["knowledge"] == "imported"
    assert (event.details["created"], event.details["updated"]) == (11, 1)
    assert (
        "Import applied: 11 created, 1 updated."
        in admin.get(url("knowledge", world)).content.decode()
    )


def test_import_from_an_uploaded_file(admin, world):
    upload = SimpleUploadedFile("kb.yaml", HOURS.encode(), content_type="application/yaml")
    response = admin.post(url("knowledge-import", world), {"file": upload})
    assert response.context["preview"].created[0].key == "office-hours"


def test_an_import_with_errors_lists_each_with_its_location_and_applies_nothing(admin, world):
    knowledge_import_yaml(workspace=world.workspace, text=HOURS)
    bad = HOURS.replace("We are open", "Now open") + (
        "  - id: Bad Id\n    topic: x\n    questions: [q]\n    answer: a\n"
        "  - id: no-questions\n    topic: x\n    answer: a\n"
    )
    response = preview(admin, world, bad)
    assert response.status_code == 400
    html = response.content.decode()
    assert "Nothing will be imported: the file has 2 errors." in html
    assert "knowledge[1] (id Bad Id).id: must be 1-64 lowercase letters" in html
    assert "knowledge[2] (id no-questions).questions: Field required" in html
    assert "Apply the import" not in html
    assert "Now open" in html  # the text is kept in the form, to fix and preview again
    # Even a forged confirmation applies nothing.
    admin.post(url("knowledge-import", world), {"text": bad, "digest": "0" * 32})
    assert entries(world)["office-hours"].answer.startswith("We are open")
    assert audit_events(world) == []


def test_a_yaml_syntax_error_names_its_line(admin, world):
    response = preview(admin, world, "knowledge:\n  - id: a\n   topic: [\n")
    assert "not valid YAML at line" in response.content.decode()


def test_if_the_knowledge_changed_since_the_preview_it_is_shown_again_and_nothing_applied(
    admin, world
):
    response = preview(admin, world, HOURS)
    digest = response.context["preview"].digest
    knowledge_import_yaml(workspace=world.workspace, text=HOURS.replace("17:00", "18:00"))
    confirm = admin.post(url("knowledge-import", world), {"text": HOURS, "digest": digest})
    assert confirm.status_code == 200
    assert "changed since the preview" in confirm.content.decode()
    assert "18:00" in entries(world)["office-hours"].answer


def test_importing_an_unchanged_file_offers_nothing_to_apply(admin, world):
    knowledge_import_yaml(workspace=world.workspace, text=HOURS)
    html = preview(admin, world, HOURS).content.decode()
    assert "Nothing to import" in html and "Apply the import" not in html


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"text": "  "}, "Choose a YAML file or paste its text."),
        (
            {"file": SimpleUploadedFile("kb.yaml", "jam buka".encode("utf-16"))},
            "The file is not UTF-8 text",
        ),
    ],
)
def test_an_empty_or_unreadable_import_is_refused(admin, world, data, error):
    response = admin.post(url("knowledge-import", world), data)
    assert response.status_code == 400 and error in response.content.decode()
