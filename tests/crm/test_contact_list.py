"""The contacts list: server-side filters, search, keyset pagination and its query budget."""

from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chatdesk.crm.models import Label, LeadSource, LeadStatus
from chatdesk.crm.selectors import CONTACT_PAGE_SIZE
from tests.crm.builders import contact_make

pytestmark = pytest.mark.django_db


def list_url(world, **params):
    query = f"?{urlencode(params)}" if params else ""
    return f"/w/{world.workspace.slug}/contacts/{query}"


def names_on(response) -> list[str]:
    return [c.name for c in response.context["contacts"]]


def label_make(world, name):
    return Label.objects.for_workspace(world.workspace).create(workspace=world.workspace, name=name)


@pytest.fixture
def signed_in(client, world_a):
    client.force_login(world_a.agent)
    return client


def test_list_shows_contacts_newest_first(signed_in, world_a):
    contact_make(world_a.workspace, name="Older", created_at=datetime(2026, 1, 1, tzinfo=UTC))
    contact_make(world_a.workspace, name="Newer", created_at=datetime(2026, 2, 1, tzinfo=UTC))
    response = signed_in.get(list_url(world_a))
    assert response.status_code == 200
    assert names_on(response) == ["Newer", "Older"]


def test_filter_by_lead_status_keeps_only_that_status(signed_in, world_a):
    contact_make(world_a.workspace, name="Fresh", lead_status=LeadStatus.NEW)
    contact_make(world_a.workspace, name="Won", lead_status=LeadStatus.ENROLLED)
    assert names_on(signed_in.get(list_url(world_a, lead_status="enrolled"))) == ["Won"]


def test_filter_by_source_keeps_only_that_source(signed_in, world_a):
    contact_make(world_a.workspace, name="Typed", source=LeadSource.MANUAL)
    contact_make(world_a.workspace, name="Chatted", source=LeadSource.WHATSAPP)
    assert names_on(signed_in.get(list_url(world_a, source="manual"))) == ["Typed"]


def test_filter_by_label_keeps_only_labelled_contacts(signed_in, world_a):
    vip = label_make(world_a, "VIP")
    other = label_make(world_a, "Other")
    contact_make(world_a.workspace, name="Important", labels=[vip, other])
    contact_make(world_a.workspace, name="Ordinary", labels=[other])
    contact_make(world_a.workspace, name="Bare")
    assert names_on(signed_in.get(list_url(world_a, label=vip.pk))) == ["Important"]


def test_filter_by_owner_and_by_no_owner(signed_in, world_a):
    contact_make(world_a.workspace, name="Mine", owner=world_a.agent)
    contact_make(world_a.workspace, name="Admins", owner=world_a.admin)
    contact_make(world_a.workspace, name="Nobodys")
    assert names_on(signed_in.get(list_url(world_a, owner=world_a.agent.pk))) == ["Mine"]
    assert names_on(signed_in.get(list_url(world_a, owner="none"))) == ["Nobodys"]


def test_filter_by_created_range_includes_both_end_days(signed_in, world_a):
    for day in (9, 10, 15, 20, 21):
        contact_make(
            world_a.workspace, name=f"Day {day}", created_at=datetime(2026, 3, day, 12, tzinfo=UTC)
        )
    response = signed_in.get(list_url(world_a, created_from="2026-03-10", created_to="2026-03-20"))
    assert names_on(response) == ["Day 20", "Day 15", "Day 10"]


def test_created_range_the_wrong_way_round_is_an_error_not_an_empty_list(signed_in, world_a):
    contact_make(world_a.workspace)
    response = signed_in.get(list_url(world_a, created_from="2026-03-20", created_to="2026-03-10"))
    assert response.status_code == 400
    assert "before" in response.content.decode()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("siti", ["Siti Rahma"]),  # name, case-insensitive
        ("@kampus.ac", ["Budi"]),  # e-mail
        ("0812 5555", ["Siti Rahma"]),  # local number with the trunk 0
        ("+62 812-5555", ["Siti Rahma"]),  # international, with punctuation
        ("4444", ["Budi"]),  # any part of the number
    ],
)
def test_search_matches_name_email_or_phone(signed_in, world_a, query, expected):
    contact_make(world_a.workspace, name="Siti Rahma", phone="+6281255550001")
    contact_make(world_a.workspace, name="Budi", phone="+6281344440002", email="budi@kampus.ac.id")
    assert names_on(signed_in.get(list_url(world_a, q=query))) == expected


def test_filters_combine(signed_in, world_a):
    contact_make(world_a.workspace, name="Ani Lost", lead_status=LeadStatus.LOST)
    contact_make(world_a.workspace, name="Ani New", lead_status=LeadStatus.NEW)
    contact_make(world_a.workspace, name="Bob Lost", lead_status=LeadStatus.LOST)
    assert names_on(signed_in.get(list_url(world_a, q="ani", lead_status="lost"))) == ["Ani Lost"]


def test_pages_walk_every_contact_once_without_offset(signed_in, world_a):
    # Many contacts share created_at (an import): the id breaks the tie, so no row is skipped
    # or repeated at a page boundary.
    same_moment = datetime(2026, 4, 1, 9, tzinfo=UTC)
    expected = {
        contact_make(world_a.workspace, created_at=same_moment).name
        for _ in range(CONTACT_PAGE_SIZE + 7)
    }
    expected |= {
        contact_make(world_a.workspace, created_at=datetime(2026, 4, 2, tzinfo=UTC)).name
        for _ in range(CONTACT_PAGE_SIZE)
    }
    seen: list[str] = []
    url = list_url(world_a)
    with CaptureQueriesContext(connection) as queries:
        pages = 0
        while url:
            response = signed_in.get(url)
            assert response.status_code == 200
            seen += names_on(response)
            next_url = response.context.get("next_url")
            url = f"/w/{world_a.workspace.slug}/contacts/{next_url}" if next_url else None
            pages += 1
    assert pages == 3
    assert len(seen) == len(set(seen)) == len(expected)
    assert set(seen) == expected
    assert not [q["sql"] for q in queries.captured_queries if "OFFSET" in q["sql"].upper()]


def test_next_page_keeps_the_filters(signed_in, world_a):
    for _ in range(CONTACT_PAGE_SIZE + 2):
        contact_make(world_a.workspace, lead_status=LeadStatus.QUALIFIED)
    contact_make(world_a.workspace, name="Not qualified", lead_status=LeadStatus.NEW)
    first = signed_in.get(list_url(world_a, lead_status="qualified"))
    second = signed_in.get(f"/w/{world_a.workspace.slug}/contacts/{first.context['next_url']}")
    assert len(names_on(second)) == 2
    assert "Not qualified" not in names_on(first) + names_on(second)


def test_htmx_load_more_returns_only_the_next_rows(signed_in, world_a):
    for _ in range(CONTACT_PAGE_SIZE + 1):
        contact_make(world_a.workspace)
    first = signed_in.get(list_url(world_a))
    more = signed_in.get(
        f"/w/{world_a.workspace.slug}/contacts/{first.context['next_url']}", HTTP_HX_REQUEST="true"
    )
    html = more.content.decode()
    assert more.status_code == 200
    assert "<tr>" in html and "<form" not in html and "<html" not in html


def test_a_forged_page_cursor_is_a_clear_error(signed_in, world_a):
    response = signed_in.get(list_url(world_a, after="not-a-cursor"))
    assert response.status_code == 400
    assert "not valid" in response.content.decode()


def test_another_workspaces_label_or_owner_is_a_form_error(signed_in, world_a, world_b):
    foreign_label = label_make(world_b, "Theirs")
    contact_make(world_a.workspace)
    for params in ({"label": foreign_label.pk}, {"owner": world_b.agent.pk}):
        response = signed_in.get(list_url(world_a, **params))
        assert response.status_code == 400, params
        assert response.context["contacts"] == []
        assert "Select a valid choice" in response.content.decode()


def test_list_never_shows_another_workspaces_contacts(signed_in, world_a, world_b):
    contact_make(world_a.workspace, name="Ours")
    contact_make(world_b.workspace, name="Theirs")
    assert names_on(signed_in.get(list_url(world_a))) == ["Ours"]
    assert names_on(signed_in.get(list_url(world_a, q="Theirs"))) == []


def _list_queries(client, world, **params) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(list_url(world, **params)).status_code == 200
    return len(queries)


def test_list_runs_the_same_number_of_queries_for_5_and_50_contacts(
    signed_in, world_a, django_assert_max_num_queries
):
    labels = [label_make(world_a, f"L{i}") for i in range(3)]
    for _ in range(5):
        contact_make(world_a.workspace, owner=world_a.admin, labels=labels)
    signed_in.get(list_url(world_a))  # the first visit also stores the workspace in the session
    few = _list_queries(signed_in, world_a)
    for _ in range(45):
        contact_make(world_a.workspace, owner=world_a.agent, labels=labels)
    many = _list_queries(signed_in, world_a)
    assert few == many <= 10  # 9 + the nav's badges (one query)
    with django_assert_max_num_queries(10):
        signed_in.get(list_url(world_a, lead_status="new", label=labels[0].pk, q="Contact"))


def test_only_admins_are_offered_import_and_export(client, world_a):
    client.force_login(world_a.agent)
    agent_page = client.get(list_url(world_a)).content.decode()
    client.force_login(world_a.admin)
    admin_page = client.get(list_url(world_a, lead_status="lost")).content.decode()
    assert "Import CSV" not in agent_page and "export.csv" not in agent_page
    assert "Import CSV" in admin_page
    assert "export.csv?lead_status=lost" in admin_page  # the export keeps the filters
