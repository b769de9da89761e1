"""CSV export: the whole filtered list, streamed, with spreadsheet formulas neutralised."""

import csv
import io

import pytest

from chatdesk.crm import selectors
from chatdesk.crm.csv_io import csv_safe
from chatdesk.crm.models import Label, LeadStatus
from tests.crm.builders import contact_make

pytestmark = pytest.mark.django_db


def export(client, world, **params):
    response = client.get(f"/w/{world.workspace.slug}/contacts/export.csv", params)
    assert response.status_code == 200, response.content
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="contacts-alpha-')
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


@pytest.fixture
def admin(client, world_a):
    client.force_login(world_a.admin)
    return client


def test_export_contains_every_matching_contact_not_only_one_page(admin, world_a, monkeypatch):
    # Small chunks, so the export has to walk several keyset chunks.
    monkeypatch.setattr(selectors, "EXPORT_CHUNK_SIZE", 3)
    for _ in range(selectors.CONTACT_PAGE_SIZE + 5):
        contact_make(world_a.workspace)
    rows = export(admin, world_a)
    assert len(rows) == selectors.CONTACT_PAGE_SIZE + 5
    assert len({r["phone"] for r in rows}) == len(rows)


def test_export_honours_the_filters(admin, world_a, world_b):
    vip = Label.objects.for_workspace(world_a.workspace).create(
        workspace=world_a.workspace, name="VIP"
    )
    contact_make(world_a.workspace, name="Ani", lead_status=LeadStatus.QUALIFIED, labels=[vip])
    contact_make(world_a.workspace, name="Budi", lead_status=LeadStatus.QUALIFIED)
    contact_make(world_a.workspace, name="Citra", lead_status=LeadStatus.NEW, labels=[vip])
    contact_make(world_b.workspace, name="Other workspace", lead_status=LeadStatus.QUALIFIED)
    rows = export(admin, world_a, lead_status="qualified", label=vip.pk)
    assert [r["name"] for r in rows] == ["Ani"]
    assert rows[0]["labels"] == "VIP"
    assert {r["name"] for r in export(admin, world_a, q="i")} == {"Ani", "Budi", "Citra"}


def test_export_neutralises_cells_a_spreadsheet_would_run_as_formulas(admin, world_a):
    contact_make(
        world_a.workspace,
        name='=HYPERLINK("http://evil.example","click")',
        email="x@example.com",
        custom_fields={"note": "@SUM(A1:A9)", "plain": "ok"},
        phone="+6281211112222",
    )
    contact_make(world_a.workspace, name="-2+3", phone="+6281211113333")
    contact_make(world_a.workspace, name="+cmd", phone="+6281211114444")
    rows = {r["email"] or r["name"]: r for r in export(admin, world_a)}
    assert rows["x@example.com"]["name"] == '\'=HYPERLINK("http://evil.example","click")'
    assert rows["'-2+3"]["name"] == "'-2+3"
    assert rows["'+cmd"]["name"] == "'+cmd"
    # Phones in E.164 start with "+": quoted too, and the importer removes that quote again.
    assert rows["x@example.com"]["phone"] == "'+6281211112222"
    # JSON starts with "{": nothing to neutralise, the value stays readable.
    assert rows["x@example.com"]["custom_fields"] == '{"note": "@SUM(A1:A9)", "plain": "ok"}'


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@A1", "\tx", "\rx"])
def test_csv_safe_prefixes_every_formula_start(value):
    assert csv_safe(value) == "'" + value


def test_csv_safe_leaves_ordinary_text_alone():
    assert csv_safe("Siti Rahma") == "Siti Rahma"
    assert csv_safe(None) == ""


def test_agents_cannot_export(client, world_a):
    client.force_login(world_a.agent)
    contact_make(world_a.workspace)
    assert client.get(f"/w/{world_a.workspace.slug}/contacts/export.csv").status_code == 403


def test_export_with_invalid_filters_is_a_400_not_an_unfiltered_file(admin, world_a, world_b):
    foreign = Label.objects.for_workspace(world_b.workspace).create(
        workspace=world_b.workspace, name="Theirs"
    )
    response = admin.get(f"/w/{world_a.workspace.slug}/contacts/export.csv", {"label": foreign.pk})
    assert response.status_code == 400
    assert "label" in response.content.decode()
