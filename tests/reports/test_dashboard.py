"""Dashboard figures on a small hand-built dataset, their display, and the query budget."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chatdesk.crm.models import Author, ConversationStatus
from chatdesk.reports.selectors import dashboard_get, dashboard_range
from chatdesk.reports.views import duration_text, percent_text
from tests.crm.builders import contact_make, conversation_make
from tests.reports.builders import inbound, reply

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 5, 20, 15, 0, tzinfo=UTC)  # a 7-day range is 14 May 00:00 to 21 May 00:00
LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 5, day, hour, minute, tzinfo=UTC)


def conversation(world, **fields):
    contact = contact_make(world.workspace, created_at=LONG_AGO)  # not a new lead in the range
    return conversation_make(world.workspace, contact, **fields)


def build_dataset(world):
    """The week of 14-20 May 2026, with the expected figures in comments."""
    ws = world.workspace
    # New leads: 1 on 14 May, 2 on 20 May; one in April is outside the range.
    contact_make(ws, created_at=at(14, 8))
    contact_make(ws, created_at=at(20, 9))
    contact_make(ws, created_at=at(20, 14, 59))
    contact_make(ws, created_at=datetime(2026, 4, 30, tzinfo=UTC))

    c1 = conversation(world)  # answered by an agent after 5 min
    inbound(c1, at(15, 10))
    reply(c1, at(15, 10, 5))

    c2 = conversation(world, needs_human=True)  # two messages, the assistant answers 3 min later
    inbound(c2, at(16, 11))
    inbound(c2, at(16, 11, 1))
    reply(c2, at(16, 11, 3), author=Author.ASSISTANT)

    c3 = conversation(world, status=ConversationStatus.RESOLVED)  # a private note is no reply
    inbound(c3, at(17, 12))
    reply(c3, at(17, 12, 1), is_private_note=True)
    reply(c3, at(17, 12, 20))

    c4 = conversation(world, needs_human=True)  # our template came first; reply after 10 min
    reply(c4, at(18, 9))
    inbound(c4, at(18, 9, 30))
    reply(c4, at(18, 9, 40))

    c5 = conversation(world, status=ConversationStatus.PENDING)  # not answered yet
    inbound(c5, at(19, 8))

    c6 = conversation(world)  # only a system message, no customer message
    reply(c6, at(19, 9), author=Author.SYSTEM)

    c7 = conversation(world, status=ConversationStatus.RESOLVED, needs_human=True)
    inbound(c7, at(10, 10))  # before the range: none of its figures count
    reply(c7, at(10, 11))


def test_dashboard_figures_on_a_hand_built_week(world_a, world_b):
    build_dataset(world_a)
    # Another workspace's busy week must not change any figure of A.
    other = conversation(world_b, needs_human=True)
    inbound(other, at(15, 10))
    reply(other, at(15, 12), author=Author.ASSISTANT)
    contact_make(world_b.workspace, created_at=at(15, 9))

    figures = dashboard_get(workspace=world_a.workspace, days=7, now=NOW)

    assert figures.new_leads == 3
    assert [d.values["leads"] for d in figures.leads_per_day] == [1, 0, 0, 0, 0, 0, 2]
    assert figures.leads_per_day[0].day == date(2026, 5, 14)
    assert figures.open_conversations == 4  # c1, c2, c4, c6
    assert figures.waiting_for_human == 2  # c2, c4
    per_day = {d.day.day: (d.values["in"], d.values["out"]) for d in figures.messages_per_day}
    assert per_day == {14: (0, 0), 15: (1, 1), 16: (2, 1), 17: (1, 1), 18: (1, 2), 19: (1, 1),
                       20: (0, 0)}  # fmt: skip
    assert (figures.inbound_total, figures.outbound_total) == (6, 6)
    assert figures.assistant_replies == 1
    assert figures.assistant_share == pytest.approx(1 / 6)
    assert (figures.escalated_conversations, figures.conversations_with_inbound) == (2, 5)
    assert figures.escalation_rate == pytest.approx(0.4)
    # First responses: 5, 3, 20 and 10 minutes; c5 has none yet.
    assert figures.answered_conversations == 4
    assert figures.median_first_response == timedelta(minutes=7, seconds=30)


def test_median_of_an_odd_number_of_conversations_is_the_middle_one(world_a):
    for minutes in (1, 4, 30):
        conv = conversation(world_a)
        inbound(conv, at(15, 10))
        reply(conv, at(15, 10, minutes))
    figures = dashboard_get(workspace=world_a.workspace, days=7, now=NOW)
    assert figures.median_first_response == timedelta(minutes=4)


def test_an_empty_workspace_shows_zeros_and_not_available(world_a):
    figures = dashboard_get(workspace=world_a.workspace, days=30, now=NOW)
    assert figures.new_leads == figures.open_conversations == figures.inbound_total == 0
    assert len(figures.leads_per_day) == len(figures.messages_per_day) == 30
    assert figures.assistant_share is None
    assert figures.escalation_rate is None
    assert figures.median_first_response is None


def test_ranges_are_whole_days_ending_today():
    since, until = dashboard_range(days=7, now=NOW)
    assert (since, until) == (at(14, 0), datetime(2026, 5, 21, tzinfo=UTC))
    since, _ = dashboard_range(days=90, now=NOW)
    assert since == datetime(2026, 2, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "n/a"),
        (timedelta(seconds=45), "45 s"),
        (timedelta(minutes=7, seconds=30), "7 min 30 s"),
        (timedelta(minutes=7), "7 min"),
        (timedelta(hours=2, minutes=5, seconds=10), "2 h 5 min"),
        (timedelta(days=3, hours=4), "3 d 4 h"),
    ],
)
def test_durations_read_like_a_person_would_say_them(value, text):
    assert duration_text(value) == text


def test_rates_are_percentages_or_not_available():
    assert percent_text(None) == "n/a"
    assert percent_text(1 / 6) == "17%"


def dashboard_url(world, days=None):
    return f"/w/{world.workspace.slug}/dashboard/" + (f"?days={days}" if days else "")


def test_dashboard_page_shows_figures_and_accessible_charts(client, world_a):
    now = timezone.now()
    conv = conversation(world_a)
    asked = now - timedelta(minutes=10)
    inbound(conv, asked)
    reply(conv, asked + timedelta(minutes=2), author=Author.ASSISTANT)
    client.force_login(world_a.agent)
    response = client.get(dashboard_url(world_a, 7))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<span class="value">2 min</span>' in html
    assert '<span class="value">100%</span><span class="what">replies by the assistant' in html
    assert '<svg viewBox="0 0 600 200" role="img" aria-labelledby="messages-title' in html
    assert f"<title>{asked.day} {asked:%b}: 1 inbound messages</title>" in html
    assert "<summary>Data table</summary>" in html
    assert 'href="?days=7" aria-current="page"' in html


def test_dashboard_of_an_empty_workspace_says_not_available(client, world_a):
    client.force_login(world_a.agent)
    html = client.get(dashboard_url(world_a)).content.decode()
    assert '<span class="value">n/a</span><span class="what">median first response' in html
    assert '<span class="value">n/a</span><span class="what">escalation rate' in html
    assert '<span class="value">0</span><span class="what">new leads' in html


def test_an_unknown_range_is_explained_and_the_default_shown(client, world_a):
    client.force_login(world_a.agent)
    response = client.get(dashboard_url(world_a, 5))
    assert response.status_code == 400
    assert response.context["figures"].days == 30
    assert "Choose a range of 7, 30, 90 days." in response.content.decode()


def _dashboard_queries(client, world) -> int:
    cache.clear()  # measure the computation, not the one-minute cache
    with CaptureQueriesContext(connection) as queries:
        assert client.get(dashboard_url(world, 90)).status_code == 200
    return len(queries)


def test_dashboard_runs_a_fixed_number_of_queries_whatever_the_data_size(
    client, world_a, django_assert_max_num_queries, django_assert_num_queries
):
    client.force_login(world_a.agent)
    client.get(dashboard_url(world_a))  # the first visit also stores the workspace in the session
    empty = _dashboard_queries(client, world_a)
    now = timezone.now()
    for i in range(25):
        contact_make(world_a.workspace)
        conv = conversation(world_a, needs_human=i % 3 == 0)
        for day in range(i % 6):
            inbound(conv, now - timedelta(days=day, minutes=30))
            reply(conv, now - timedelta(days=day, minutes=20), author=Author.ASSISTANT)
    busy = _dashboard_queries(client, world_a)
    assert empty == busy
    # The figures: rollups, leads, messages, drafts, escalation details, open conversations,
    # conversations written to, first responses.
    with django_assert_num_queries(8):
        dashboard_get(workspace=world_a.workspace, days=90)
    # The page: the figures, what every page costs (measured on a cached hit), and up to 5 for
    # storing the figures when the cache is the database (no Redis).
    with CaptureQueriesContext(connection) as cached_hit:
        client.get(dashboard_url(world_a, 90))
    cache.clear()
    with django_assert_max_num_queries(len(cached_hit) + 8 + 5):
        client.get(dashboard_url(world_a, 90))


def test_figures_are_cached_per_workspace_and_never_shown_to_another(client, world_a, world_b):
    conv = conversation(world_a)
    inbound(conv, timezone.now() - timedelta(minutes=1))
    client.force_login(world_a.agent)
    assert client.get(dashboard_url(world_a, 7)).context["figures"].inbound_total == 1
    # Within the minute A's page comes from the cache: new data shows at the next refresh.
    inbound(conv, timezone.now())
    assert client.get(dashboard_url(world_a, 7)).context["figures"].inbound_total == 1
    client.force_login(world_b.agent)
    assert client.get(dashboard_url(world_b, 7)).context["figures"].inbound_total == 0


def test_the_page_says_as_of_when_todays_figures_were_taken(client, world_a):
    from zoneinfo import ZoneInfo

    from django.test import override_settings

    from chatdesk.reports.models import DailyRollup
    from chatdesk.reports.services import daily_rollup_build

    client.force_login(world_a.agent)
    cache.clear()
    with override_settings(TIME_ZONE="Asia/Jakarta"):  # the zone the days are counted in
        now = timezone.now()
        inbound(conversation(world_a), now - timedelta(minutes=20))
        # No rollup for today (the worker has not run): counted live, as of now.
        figures = client.get(dashboard_url(world_a, 7)).context["figures"]
        assert figures.today_as_of == figures.computed_at
        html = client.get(dashboard_url(world_a, 7)).content.decode()
        live_at = figures.computed_at.astimezone(ZoneInfo("Asia/Jakarta"))
        assert f"Figures for today as of {live_at:%H:%M} WIB." in html

        # The worker built today's rollup three minutes ago: the page shows it, as of then.
        today = timezone.localdate(now)
        daily_rollup_build(workspace=world_a.workspace, day=today)
        built_at = max(
            now - timedelta(minutes=3),
            timezone.make_aware(datetime.combine(today, datetime.min.time()))
            + timedelta(seconds=1),
        )
        DailyRollup.objects.for_workspace(world_a.workspace).filter(day=today).update(
            built_at=built_at
        )
        cache.clear()
        response = client.get(dashboard_url(world_a, 7))
    assert response.context["figures"].today_as_of == built_at
    assert response.context["figures"].inbound_total == 1
    local = built_at.astimezone(ZoneInfo("Asia/Jakarta"))
    assert f"Figures for today as of {local:%H:%M} WIB." in response.content.decode()
