"""CSV import: a preview with every row's errors, then all rows or nothing."""

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError

from chatdesk.crm import csv_io
from chatdesk.crm.models import Contact, Label, LeadSource, LeadStatus, LeadStatusChange
from chatdesk.crm.services import ImportRejectedError, contact_import_apply
from tests.crm.builders import contact_make

pytestmark = pytest.mark.django_db

VALID = (
    "name,phone,email,lead_status,labels,owner_email,custom.course\n"
    "Siti Rahma,0812-5555-0001,SITI@example.com,qualified,VIP;Batch 7,admin-alpha@example.com,MBA\n"
    'Budi,+62 813 4444 0002,,Contacted,,,"Data, AI"\n'
    "Chen,+1 650 253 0000,,,,,\n"
)


def import_url(world):
    return f"/w/{world.workspace.slug}/contacts/import/"


def upload(client, world, text: str | bytes, region="ID", name="contacts.csv"):
    data = text.encode() if isinstance(text, str) else text
    return client.post(
        import_url(world),
        {"file": SimpleUploadedFile(name, data, content_type="text/csv"), "region": region},
    )


def confirm(client, world, preview):
    form = preview.context["confirm_form"]
    return client.post(
        f"{import_url(world)}confirm/",
        {"token": form.initial["token"], "region": form.initial["region"]},
    )


def contacts(world):
    return Contact.objects.for_workspace(world.workspace)


@pytest.fixture
def admin(client, world_a):
    client.force_login(world_a.admin)
    return client


def test_preview_lists_every_bad_row_with_its_reason_and_offers_no_import(admin, world_a):
    text = (
        "name,phone,lead_status\n"
        "Good Person,081255550001,new\n"
        "Bad Phone,12345,new\n"
        ",081255550003,new\n"
        "Odd Status,081255550004,maybe\n"
        "Twice,0812 5555 0001,\n"
    )
    preview = upload(admin, world_a, text)
    assert preview.status_code == 400
    errors = {item.row.line: item.errors for item in preview.context["shown_rows"]}
    assert set(errors) == {3, 4, 5, 6}  # the good row (line 2) is not listed among errors
    assert "not a valid phone number" in errors[3][0]
    assert errors[4] == ["Name is missing."]
    assert "Unknown lead status “maybe”" in errors[5][0]
    assert errors[6] == ["Same phone number as line 2."]
    html = preview.content.decode()
    assert "Nothing will be imported until every row is correct" in html
    assert preview.context["confirm_form"] is None
    assert not contacts(world_a).exists()


def test_a_file_with_one_bad_row_imports_nothing_even_if_confirmed(admin, world_a):
    good = upload(admin, world_a, VALID)
    assert good.status_code == 200
    # Confirm a valid preview, but swap the stored file for one with an error (as if the
    # data changed between preview and import): nothing of it may be written.
    bad = VALID + "Owner Unknown,081255550009,,,,stranger@example.com,\n"
    token = good.context["confirm_form"].initial["token"]
    key = f"crm:import:{world_a.workspace.pk}:{world_a.admin.pk}:{token}"
    cache.set(key, {"text": bad, "region": "ID"})
    response = confirm(admin, world_a, good)
    assert response.status_code == 400
    assert "not a member of this workspace" in response.content.decode()
    assert not contacts(world_a).exists()
    assert not Label.objects.for_workspace(world_a.workspace).exists()


def test_a_failure_while_writing_rolls_back_every_row_already_written(world_a, monkeypatch):
    rows = csv_io.contacts_csv_parse(VALID)
    through = Contact.labels.through
    written = []

    def fail(*args, **kwargs):  # the last write of an import: contacts and labels exist by now
        written.extend(contacts(world_a))
        raise IntegrityError("simulated")

    monkeypatch.setattr(through.objects, "bulk_create", fail)
    with pytest.raises(ImportRejectedError):
        contact_import_apply(workspace=world_a.workspace, actor=world_a.admin, rows=rows)
    assert len(written) == 3
    assert not contacts(world_a).exists()
    assert not Label.objects.for_workspace(world_a.workspace).exists()
    assert not LeadStatusChange.objects.for_workspace(world_a.workspace).exists()


def test_a_valid_file_imports_every_row_with_e164_phones(admin, world_a):
    preview = upload(admin, world_a, VALID)
    assert preview.status_code == 200
    assert preview.context["counts"] == {"create": 3, "update": 0, "unchanged": 0, "error": 0}
    assert preview.context["plan"].new_labels == ["Batch 7", "VIP"]
    assert not contacts(world_a).exists()  # the preview writes nothing
    html = preview.content.decode()
    assert 'name="token"' in html and "Import 3 rows" in html

    response = confirm(admin, world_a, preview)
    assert response.status_code == 302
    assert response["Location"] == f"/w/{world_a.workspace.slug}/contacts/"
    by_phone = {c.phone: c for c in contacts(world_a).prefetch_related("labels")}
    assert set(by_phone) == {"+6281255550001", "+6281344440002", "+16502530000"}
    siti = by_phone["+6281255550001"]
    assert siti.wa_id == "6281255550001"
    assert siti.email == "siti@example.com"
    assert siti.lead_status == LeadStatus.QUALIFIED
    assert siti.source == LeadSource.IMPORT
    assert siti.owner == world_a.admin
    assert siti.custom_fields == {"course": "MBA"}
    assert {label.name for label in siti.labels.all()} == {"VIP", "Batch 7"}
    assert by_phone["+6281344440002"].lead_status == LeadStatus.CONTACTED
    assert by_phone["+6281344440002"].custom_fields == {"course": "Data, AI"}
    assert by_phone["+16502530000"].lead_status == LeadStatus.NEW
    # The history records who brought each lead in.
    history = LeadStatusChange.objects.for_workspace(world_a.workspace)
    assert history.count() == 3
    assert {h.changed_by for h in history} == {world_a.admin}
    followed = admin.get(response["Location"]).content.decode()
    assert "Import finished: 3 new, 0 updated, 0 unchanged, 2 new labels." in followed


def test_the_default_region_reads_local_numbers(admin, world_a):
    preview = upload(admin, world_a, "name,phone\nLocal,(650) 253-0000\n", region="US")
    assert preview.status_code == 200
    confirm(admin, world_a, preview)
    assert contacts(world_a).get().phone == "+16502530000"


def test_importing_the_same_file_twice_changes_nothing_the_second_time(admin, world_a):
    confirm(admin, world_a, upload(admin, world_a, VALID))
    before = {c.pk: (c.name, c.email, c.lead_status, c.custom_fields) for c in contacts(world_a)}
    history = LeadStatusChange.objects.for_workspace(world_a.workspace).count()

    again = upload(admin, world_a, VALID)
    assert again.context["counts"] == {"create": 0, "update": 0, "unchanged": 3, "error": 0}
    confirm(admin, world_a, again)
    after = {c.pk: (c.name, c.email, c.lead_status, c.custom_fields) for c in contacts(world_a)}
    assert after == before
    assert LeadStatusChange.objects.for_workspace(world_a.workspace).count() == history
    assert Label.objects.for_workspace(world_a.workspace).count() == 2


def test_a_known_phone_updates_that_contact_and_records_the_status_change(admin, world_a):
    existing = contact_make(
        world_a.workspace,
        name="Old Name",
        phone="+6281255550001",
        email="keep@example.com",
        source=LeadSource.WHATSAPP,
        custom_fields={"city": "Bandung"},
    )
    text = "name,phone,email,lead_status,custom.course\nSiti Rahma,081255550001,,applied,MBA\n"
    preview = upload(admin, world_a, text)
    assert preview.context["counts"]["update"] == 1
    confirm(admin, world_a, preview)
    existing.refresh_from_db()
    assert existing.name == "Siti Rahma"
    assert existing.email == "keep@example.com"  # an empty cell changes nothing
    assert existing.source == LeadSource.WHATSAPP  # where the lead came from stays
    assert existing.custom_fields == {"city": "Bandung", "course": "MBA"}
    change = LeadStatusChange.objects.for_workspace(world_a.workspace).get(contact=existing)
    assert (change.from_status, change.to_status, change.changed_by) == (
        "new",
        "applied",
        world_a.admin,
    )
    assert contacts(world_a).count() == 1


def test_an_export_imports_back_unchanged(admin, world_a):
    contact_make(
        world_a.workspace,
        name="=Formula Name",
        phone="+6281299990001",
        owner=world_a.agent,
        custom_fields={"a": "1"},
    )
    contact_make(world_a.workspace, name="Plain", phone="+6281299990002")
    exported = b"".join(
        admin.get(f"/w/{world_a.workspace.slug}/contacts/export.csv").streaming_content
    )
    preview = upload(admin, world_a, exported)
    assert preview.status_code == 200, preview.context["shown_rows"]
    assert preview.context["counts"]["unchanged"] == 2


def test_contacts_of_another_workspace_are_never_updated_by_an_import(admin, world_a, world_b):
    theirs = contact_make(world_b.workspace, name="Theirs", phone="+6281255550001")
    confirm(admin, world_a, upload(admin, world_a, VALID))
    theirs.refresh_from_db()
    assert theirs.name == "Theirs"
    assert contacts(world_a).filter(phone="+6281255550001").exists()


def test_an_owner_from_another_workspace_is_a_row_error(admin, world_a, world_b):
    text = f"name,phone,owner_email\nX,081255550001,{world_b.agent.email}\n"
    preview = upload(admin, world_a, text)
    assert preview.status_code == 400
    assert "is not a member of this workspace" in preview.content.decode()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "The submitted file is empty."),
        ("phone\n081255550001\n", "Required column(s) missing: name."),
        ("name,phone,favourite\nA,081255550001,x\n", "Unknown column(s): favourite"),
        ("name,phone\n", "The file has a header but no contacts."),
        ("name,phone,phone\nA,1,2\n", "The column “phone” appears twice."),
    ],
)
def test_a_file_that_cannot_be_imported_is_explained(admin, world_a, text, message):
    response = upload(admin, world_a, text)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_a_non_utf8_file_is_refused_with_the_fix(admin, world_a):
    response = upload(admin, world_a, "name,phone\nJosé,081255550001\n".encode("latin-1"))
    assert response.status_code == 400
    assert "Save it as “CSV UTF-8”" in response.content.decode()


def test_an_oversized_file_is_refused_before_it_is_read(admin, world_a, monkeypatch):
    monkeypatch.setattr(csv_io, "MAX_IMPORT_BYTES", 100)
    monkeypatch.setattr("chatdesk.crm.forms.MAX_IMPORT_BYTES", 100)
    response = upload(admin, world_a, "name,phone\n" + "A,081255550001\n" * 20)
    assert response.status_code == 400
    assert "larger than" in response.content.decode()
    assert not contacts(world_a).exists()


def test_too_many_rows_is_refused(admin, world_a, monkeypatch):
    monkeypatch.setattr(csv_io, "MAX_IMPORT_ROWS", 2)
    text = "name,phone\nA,081255550001\nB,081255550002\nC,081255550003\n"
    response = upload(admin, world_a, text)
    assert response.status_code == 400
    assert "more than 2 rows" in response.content.decode()


def test_an_expired_or_foreign_preview_imports_nothing(admin, client, world_a):
    preview = upload(admin, world_a, VALID)
    token = preview.context["confirm_form"].initial["token"]
    # Another admin of the same workspace cannot use this user's preview token.
    client.force_login(world_a.owner)
    response = client.post(f"{import_url(world_a)}confirm/", {"token": token, "region": "ID"})
    assert response.status_code == 302
    assert response["Location"] == import_url(world_a)
    assert not contacts(world_a).exists()


def test_agents_cannot_import(client, world_a):
    client.force_login(world_a.admin)
    token = upload(client, world_a, VALID).context["confirm_form"].initial["token"]
    client.force_login(world_a.agent)
    assert client.get(import_url(world_a)).status_code == 403
    assert upload(client, world_a, VALID).status_code == 403
    confirm = client.post(f"{import_url(world_a)}confirm/", {"token": token, "region": "ID"})
    assert confirm.status_code == 403
    assert not contacts(world_a).exists()


def test_parser_reads_the_custom_fields_json_column_and_custom_columns():
    text = 'name,phone,custom_fields,custom.b\nA,081255550001,"{""a"": ""1"", ""b"": ""x""}",2\n'
    (row,) = csv_io.contacts_csv_parse(text)
    assert row.errors == []
    assert row.custom_fields == {"a": "1", "b": "2"}


def test_parser_reports_bad_custom_fields_json():
    (row,) = csv_io.contacts_csv_parse('name,phone,custom_fields\nA,081255550001,"[1]"\n')
    assert row.errors == ['custom_fields must be a JSON object, like {"course": "MBA"}.']


def test_parser_ignores_unnamed_trailing_columns():
    (row,) = csv_io.contacts_csv_parse("name,phone,,\nA,081255550001,,\n")
    assert (row.name, row.phone, row.errors) == ("A", "+6281255550001", [])


def test_parser_skips_blank_lines_at_the_end():
    rows = csv_io.contacts_csv_parse("name,phone\nA,081255550001\n,\n\n")
    assert len(rows) == 1


def test_the_quote_an_export_puts_before_formulas_is_removed_on_import():
    (row,) = csv_io.contacts_csv_parse("name,phone\n'=SUM(1),'+6281255550001\n")
    assert (row.name, row.phone, row.errors) == ("=SUM(1)", "+6281255550001", [])
