import pytest
import yaml

from chatdesk.assistant.knowledge import KnowledgeFormatError, parse_knowledge_yaml
from chatdesk.assistant.models import KnowledgeEntry
from chatdesk.assistant.selectors import knowledge_entries
from chatdesk.assistant.services import knowledge_export_yaml, knowledge_import_yaml
from tests.assistant.conftest import EXAMPLE_KB
from tests.factories import make_workspace

pytestmark = pytest.mark.django_db

GOOD = """
knowledge:
  - id: office-hours
    topic: contact
    questions:
      - When are you open?
      - Jam buka kapan?
    answer: Monday-Friday 09:00-17:00 WIB.
  - id: location
    topic: contact
    enabled: false
    questions:
      - Where are you?
    answer: Jl. Sudirman 45, Jakarta.
"""


def test_import_creates_entries_and_a_second_import_updates_them():
    workspace = make_workspace()
    result = knowledge_import_yaml(workspace=workspace, text=GOOD)
    assert (result.created, result.updated) == (2, 0)
    again = knowledge_import_yaml(workspace=workspace, text=GOOD.replace("09:00", "08:00"))
    assert (again.created, again.updated) == (0, 1)
    entries = {e.key: e for e in knowledge_entries(workspace=workspace)}
    assert entries["office-hours"].answer == "Monday-Friday 08:00-17:00 WIB."
    assert entries["office-hours"].questions == ("When are you open?", "Jam buka kapan?")
    assert entries["location"].enabled is False
    assert [e.key for e in knowledge_entries(workspace=workspace, enabled_only=True)] == [
        "office-hours"
    ]


def test_entries_belong_to_the_workspace_that_imported_them():
    mine, theirs = make_workspace(), make_workspace()
    knowledge_import_yaml(workspace=mine, text=GOOD)
    assert knowledge_entries(workspace=theirs) == []
    knowledge_import_yaml(workspace=theirs, text=GOOD)  # same ids in another workspace: fine
    assert KnowledgeEntry.objects.for_workspace(theirs).count() == 2


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("knowledge: [", "not valid YAML at line 1"),
        ("- just a list", "the document must be a mapping"),
        ("entries: []", "knowledge: Field required"),
        (
            "knowledge:\n  - {id: a, topic: t, answer: x}",
            "knowledge[0] (id a).questions: Field required",
        ),
        (
            "knowledge:\n  - {id: a, topic: t, answer: x, qustions: [q]}",
            "knowledge[0] (id a).qustions: unknown key",
        ),
        (
            "knowledge:\n  - {id: Bad Id, topic: t, answer: x, questions: [q]}",
            "knowledge[0] (id Bad Id).id: must be 1-64 lowercase letters",
        ),
        (
            "knowledge:\n  - {id: a, topic: t, answer: '  ', questions: [q]}",
            "knowledge[0] (id a).answer: String should have at least 1 character",
        ),
        (
            "knowledge:\n  - {id: a, topic: t, answer: x, questions: []}",
            "knowledge[0] (id a).questions: List should have at least 1 item",
        ),
        (
            "knowledge:\n  - {id: a, topic: t, answer: x, questions: [q]}\n"
            "  - {id: a, topic: t, answer: y, questions: [r]}",
            "knowledge[1] (id a): duplicate id, already used by knowledge[0]",
        ),
        ("knowledge:\n  - just text", "knowledge[0]: must be a mapping"),
        (
            "assistant: {threshold: 1.5}\nknowledge: []",
            "assistant.threshold: Input should be less than or equal to 1",
        ),
    ],
)
def test_an_invalid_file_names_the_problem(text, error):
    with pytest.raises(KnowledgeFormatError) as caught:
        parse_knowledge_yaml(text)
    assert any(e.startswith(error) for e in caught.value.errors), caught.value.errors


def test_an_invalid_file_imports_nothing_and_lists_every_error():
    workspace = make_workspace()
    text = GOOD + "  - {id: broken, topic: t, questions: [q]}\n  - {id: also-broken}\n"
    with pytest.raises(KnowledgeFormatError) as caught:
        knowledge_import_yaml(workspace=workspace, text=text)
    assert len(caught.value.errors) >= 3  # missing answer; missing topic, answer, questions
    assert "broken" in str(caught.value) and "also-broken" in str(caught.value)
    assert knowledge_entries(workspace=workspace) == []


def test_export_round_trips_through_import():
    source, target = make_workspace(), make_workspace()
    knowledge_import_yaml(workspace=source, text=EXAMPLE_KB.read_text(encoding="utf-8"))
    exported = knowledge_export_yaml(workspace=source)
    assert yaml.safe_load(exported)["workspace"] == source.slug
    knowledge_import_yaml(workspace=target, text=exported)
    assert knowledge_entries(workspace=target) == knowledge_entries(workspace=source)
    assert "Jam buka kantor kapan?" in exported  # Indonesian kept readable, not escaped
