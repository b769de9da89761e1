"""The dashboard from daily rollups equals the dashboard computed live, on the same data.

The data sits on the edges that break rollups: messages at local midnight (the workspace's
days are Asia/Jakarta days here, UTC+7, so a UTC day would split them differently), a reply on
the day after the question, replies days later, a conversation written to before the range and
on its first day, today's messages in conversations already written to earlier in the range,
drafts still waiting for review on a closed day, private notes and system messages.
"""

from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import override_settings

from chatdesk.assistant.models import DraftStatus
from chatdesk.crm.models import Author, Message
from chatdesk.reports.models import ConversationDay, DailyRollup
from chatdesk.reports.selectors import dashboard_get
from chatdesk.reports.services import (
    conversation_days_record_reply,
    daily_rollup_build,
    daily_rollups_rebuild,
)
from tests.crm.builders import contact_make, conversation_make
from tests.reports.builders import draft_make, inbound, reply

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("jakarta")]

JAKARTA = ZoneInfo("Asia/Jakarta")
NOW = datetime(2026, 5, 20, 15, 0, tzinfo=JAKARTA)
TODAY = date(2026, 5, 20)
GUARD_FAILED = [
    {"check": "uncertainty", "passed": False, "reason": "hedges: 'maybe'"},
    {"check": "promise", "passed": False, "reason": "promises: 'guarantee'"},
    {"check": "length", "passed": True, "reason": ""},
]


@pytest.fixture
def jakarta():
    with override_settings(TIME_ZONE="Asia/Jakarta"):
        yield


def at(month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0):
    return datetime(2026, month, day, hour, minute, second, micro, tzinfo=JAKARTA)


def conversation(world, **fields):
    contact = contact_make(world.workspace, created_at=at(1, 1))
    return conversation_make(world.workspace, contact, **fields)


def build_data(world):
    ws = world.workspace
    contact_make(ws, created_at=at(5, 14))  # local midnight: the 7-day range's first lead
    contact_make(ws, created_at=at(5, 13, 23, 59, 59, 999999))  # a microsecond before it
    contact_make(ws, created_at=at(5, 20, 0, 30))  # today local; still 19 May in UTC
    contact_make(ws, created_at=at(4, 2))

    c1 = conversation(world)  # the last microsecond of a day, answered the next day
    inbound(c1, at(5, 19, 23, 59, 59, 999999))
    reply(c1, at(5, 20))

    c2 = conversation(world, needs_human=True)  # local midnight exactly, two days of writing
    inbound(c2, at(5, 18))
    reply(c2, at(5, 18, 0, 10))
    inbound(c2, at(5, 19, 10))
    reply(c2, at(5, 19, 11), author=Author.ASSISTANT)

    c3 = conversation(world)  # answered a week later, then writes again today
    inbound(c3, at(5, 10, 9))
    reply(c3, at(5, 17, 9))
    inbound(c3, at(5, 20, 8))
    reply(c3, at(5, 20, 8, 5))

    c4 = conversation(world)  # wrote just before the 7-day range and on its first instant
    inbound(c4, at(5, 13, 23, 59, 59))
    inbound(c4, at(5, 14))
    reply(c4, at(5, 14, 1))

    c5 = conversation(world, needs_human=True)  # only today; a note is no reply
    inbound(c5, at(5, 20, 9))
    reply(c5, at(5, 20, 9, 10), is_private_note=True)
    reply(c5, at(5, 20, 9, 30), author=Author.ASSISTANT)

    c6 = conversation(world)  # never answered
    inbound(c6, at(5, 12, 7))

    c7 = conversation(world)  # today's message in a conversation written to earlier
    inbound(c7, at(5, 16, 16))
    reply(c7, at(5, 16, 16, 5))
    inbound(c7, at(5, 20, 10))

    c8 = conversation(world)  # our template, then a system message: no customer message
    reply(c8, at(5, 15, 9))
    reply(c8, at(5, 15, 9, 1), author=Author.SYSTEM)

    c9 = conversation(world, needs_human=True)  # only in the 90-day range
    inbound(c9, at(4, 1, 12))
    reply(c9, at(4, 1, 12, 45))

    c10 = conversation(world)  # today, not answered yet, written to after a reply to c10
    reply(c10, at(5, 20, 7))
    inbound(c10, at(5, 20, 11))

    # Assistant drafts: each with its own customer message.
    d = conversation(world)
    draft_make(d, at(5, 15, 10), status=DraftStatus.SENT)  # autonomous
    draft_make(d, at(5, 15, 11), status=DraftStatus.SENT, reviewed=True, complaint=True)
    draft_make(d, at(5, 16, 0), status=DraftStatus.EDITED_SENT, reviewed=True)
    draft_make(d, at(5, 16, 23, 59), status=DraftStatus.REJECTED, reviewed=True)
    draft_make(d, at(5, 17, 12), status=DraftStatus.PENDING_REVIEW)  # waits on a closed day
    draft_make(
        d,
        at(5, 18, 9),
        status=DraftStatus.ESCALATED,
        decision="escalate",
        reasons=["forbidden topic: pricing ('biaya')", "forbidden topic: refunds ('refund')"],
    )
    draft_make(
        d,
        at(5, 18, 10),
        status=DraftStatus.ESCALATED,
        decision="escalate",
        reasons=["guard uncertainty: hedges", "guard promise: promises"],
        verdicts=GUARD_FAILED,
    )
    draft_make(
        d,
        at(5, 20, 0, 1),
        status=DraftStatus.ESCALATED,
        decision="escalate",
        reasons=["low confidence 0.41 < 0.70", "holding message not sent: window closed"],
    )
    draft_make(d, at(5, 20, 12), status=DraftStatus.PENDING_REVIEW)
    draft_make(d, at(4, 20, 12), status=DraftStatus.SENT)


def comparable(figures):
    return replace(figures, computed_at=None, rollup_days=None, today_as_of=None)


@pytest.mark.parametrize("days", [7, 30, 90])
def test_the_dashboard_from_rollups_equals_the_live_computation(world_a, world_b, days):
    build_data(world_a)
    build_data(world_b)  # a second tenant with the same shape: nothing of it may leak into A
    live = dashboard_get(workspace=world_a.workspace, days=days, now=NOW)
    assert live.rollup_days == 0

    first_day = TODAY - timedelta(days=days - 1)
    for world in (world_a, world_b):
        daily_rollups_rebuild(workspace=world.workspace, first_day=first_day, last_day=TODAY)
    rolled = dashboard_get(workspace=world_a.workspace, days=days, now=NOW)
    assert rolled.rollup_days == days - 1  # every closed day; today is always live
    assert comparable(rolled) == comparable(live)


def test_the_hand_built_figures_are_the_expected_ones(world_a):
    build_data(world_a)
    daily_rollups_rebuild(workspace=world_a.workspace, first_day=date(2026, 5, 1), last_day=TODAY)
    figures = dashboard_get(workspace=world_a.workspace, days=7, now=NOW)
    assert [d.values["leads"] for d in figures.leads_per_day] == [1, 0, 0, 0, 0, 0, 1]
    # Written to in 14-20 May: c1, c2, c3, c4, c5, c7, c10 and the drafts' conversation.
    assert (figures.conversations_with_inbound, figures.escalated_conversations) == (8, 2)
    # First responses (t0 = first customer message from 14 May): c1 1 µs, c2 10 min,
    # c3 5 min (today), c4 1 h, c5 30 min, c7 5 min; c10 and the drafts' one have no reply.
    assert figures.answered_conversations == 6
    assert figures.median_first_response == timedelta(minutes=7, seconds=30)
    a = figures.assistant
    assert (a.drafts, a.sent, a.sent_autonomous, a.approved, a.edited) == (9, 3, 1, 1, 1)
    assert (a.rejected, a.pending_review, a.escalated, a.complaints) == (1, 2, 3, 1)
    assert {b.code: b.count for b in a.escalation_reasons} == {
        "forbidden_topic": 1,  # two forbidden topics, one draft
        "guard": 1,
        "low_confidence": 1,  # "holding message not sent" is not a cause
    }
    assert {b.code: b.count for b in a.guard_blocks} == {"uncertainty": 1, "promise": 1}
    per_day = {d.day.day: d.values for d in a.per_day}
    assert per_day[16] == {"drafts": 2, "sent": 1, "escalated": 0}
    assert per_day[20] == {"drafts": 2, "sent": 0, "escalated": 1}


def test_rebuilding_a_day_twice_changes_nothing(world_a):
    build_data(world_a)
    first_day = TODAY - timedelta(days=29)
    daily_rollups_rebuild(workspace=world_a.workspace, first_day=first_day, last_day=TODAY)
    once = dashboard_get(workspace=world_a.workspace, days=30, now=NOW)
    rows = ConversationDay.objects.for_workspace(world_a.workspace).count()
    daily_rollups_rebuild(workspace=world_a.workspace, first_day=first_day, last_day=TODAY)
    daily_rollup_build(workspace=world_a.workspace, day=date(2026, 5, 19))
    assert ConversationDay.objects.for_workspace(world_a.workspace).count() == rows
    assert DailyRollup.objects.for_workspace(world_a.workspace).count() == 30
    assert comparable(dashboard_get(workspace=world_a.workspace, days=30, now=NOW)) == comparable(
        once
    )


def test_a_day_without_a_rollup_is_computed_live(world_a):
    build_data(world_a)
    live = dashboard_get(workspace=world_a.workspace, days=7, now=NOW)
    daily_rollups_rebuild(workspace=world_a.workspace, first_day=date(2026, 5, 14), last_day=TODAY)
    DailyRollup.objects.for_workspace(world_a.workspace).filter(day=date(2026, 5, 18)).delete()
    figures = dashboard_get(workspace=world_a.workspace, days=7, now=NOW)
    assert figures.rollup_days == 5
    assert comparable(figures) == comparable(live)


def test_a_rollup_built_before_its_day_ended_is_not_used(world_a):
    build_data(world_a)
    daily_rollups_rebuild(workspace=world_a.workspace, first_day=date(2026, 5, 14), last_day=TODAY)
    # Built at 18:00 on 19 May: it missed c1's message at 23:59:59.999999.
    DailyRollup.objects.for_workspace(world_a.workspace).filter(day=date(2026, 5, 19)).update(
        built_at=at(5, 19, 18), messages_in=0
    )
    figures = dashboard_get(workspace=world_a.workspace, days=7, now=NOW)
    assert figures.rollup_days == 5
    assert {d.day.day: d.values["in"] for d in figures.messages_per_day}[19] == 2


def test_a_reply_days_later_updates_the_closed_day_at_once(world_a):
    build_data(world_a)
    first_day = TODAY - timedelta(days=29)
    daily_rollups_rebuild(workspace=world_a.workspace, first_day=first_day, last_day=TODAY)
    c6_day = ConversationDay.objects.for_workspace(world_a.workspace).get(day=date(2026, 5, 12))
    assert c6_day.first_reply_at is None
    # Answered today, eight days later: message_send_text records the message and calls the hook.
    answer_at = at(5, 20, 14)
    reply(c6_day.conversation, answer_at)
    conversation_days_record_reply(
        conversation=c6_day.conversation, author=Author.AGENT, at=answer_at
    )
    c6_day.refresh_from_db()
    assert c6_day.first_reply_at == answer_at
    rolled = dashboard_get(workspace=world_a.workspace, days=30, now=NOW)
    assert rolled.rollup_days == 29
    DailyRollup.objects.for_workspace(world_a.workspace).delete()
    live = dashboard_get(workspace=world_a.workspace, days=30, now=NOW)
    assert comparable(rolled) == comparable(live)
    assert live.answered_conversations == 7  # c6 now counts (8 days, 7 hours)


def test_a_note_or_a_system_message_is_not_a_first_reply(world_a):
    conv = conversation(world_a)
    inbound(conv, at(5, 12, 7))
    daily_rollup_build(workspace=world_a.workspace, day=date(2026, 5, 12))
    for author in (Author.SYSTEM, Author.CUSTOMER):
        conversation_days_record_reply(conversation=conv, author=author, at=at(5, 13))
    row = ConversationDay.objects.for_workspace(world_a.workspace).get(conversation=conv)
    assert row.first_reply_at is None
    conversation_days_record_reply(conversation=conv, author=Author.ASSISTANT, at=at(5, 12, 6))
    row.refresh_from_db()
    assert row.first_reply_at is None  # before the customer wrote: not a reply to it
    conversation_days_record_reply(conversation=conv, author=Author.ASSISTANT, at=at(5, 14))
    conversation_days_record_reply(conversation=conv, author=Author.AGENT, at=at(5, 13))
    row.refresh_from_db()
    assert row.first_reply_at == at(5, 13)  # the earliest reply wins, whatever the order


# Today from today's rollup while the worker keeps it fresh, live otherwise.


def rebuilt_at(world, built_at, *days):
    """The worker's last run built these days at `built_at` (the rebuild ran on the real clock,
    after NOW; this is the moment the job would have stamped on them)."""
    DailyRollup.objects.for_workspace(world.workspace).filter(day__in=days).update(
        built_at=built_at
    )


@pytest.mark.parametrize("days", [7, 30, 90])
def test_today_from_a_fresh_rollup_equals_the_live_computation(world_a, world_b, days):
    build_data(world_a)
    build_data(world_b)
    live = dashboard_get(workspace=world_a.workspace, days=days, now=NOW)
    first_day = TODAY - timedelta(days=days - 1)
    yesterday = TODAY - timedelta(days=1)
    for world in (world_a, world_b):
        daily_rollups_rebuild(workspace=world.workspace, first_day=first_day, last_day=yesterday)
        # The worker's latest run, two minutes ago.
        daily_rollup_build(workspace=world.workspace, day=TODAY, now=NOW - timedelta(minutes=2))
    today = DailyRollup.objects.for_workspace(world_a.workspace).get(day=TODAY)
    assert str(days) in today.range_figures
    rolled = dashboard_get(workspace=world_a.workspace, days=days, now=NOW)
    assert rolled.rollup_days == days  # every day, today included
    assert rolled.today_as_of == NOW - timedelta(minutes=2)
    assert comparable(rolled) == comparable(live)


def test_a_range_with_a_closed_day_missing_at_the_build_is_computed_from_its_days(world_a):
    build_data(world_a)
    live = dashboard_get(workspace=world_a.workspace, days=7, now=NOW)
    daily_rollups_rebuild(
        workspace=world_a.workspace, first_day=date(2026, 5, 14), last_day=date(2026, 5, 19)
    )
    DailyRollup.objects.for_workspace(world_a.workspace).filter(day=date(2026, 5, 16)).delete()
    daily_rollup_build(workspace=world_a.workspace, day=TODAY, now=NOW - timedelta(minutes=4))
    assert DailyRollup.objects.for_workspace(world_a.workspace).get(day=TODAY).range_figures == {}
    # The missing day is built after today's rollup: its range's figures come from the days.
    daily_rollup_build(workspace=world_a.workspace, day=date(2026, 5, 16))
    figures = dashboard_get(workspace=world_a.workspace, days=7, now=NOW)
    assert figures.rollup_days == 7
    assert comparable(figures) == comparable(live)


@pytest.mark.parametrize("stored", [True, False], ids=["range figures stored", "days only"])
def test_today_from_a_fresh_rollup_reads_no_message_draft_or_contact(world_a, stored):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from chatdesk.assistant.models import AssistantDraft
    from chatdesk.crm.models import Contact, Conversation

    build_data(world_a)
    daily_rollups_rebuild(workspace=world_a.workspace, first_day=date(2026, 4, 1), last_day=TODAY)
    if stored:  # what the job builds
        daily_rollup_build(workspace=world_a.workspace, day=TODAY, now=NOW - timedelta(minutes=1))
    # (Without: a rollup without range figures, e.g. built before they existed.)
    rebuilt_at(world_a, NOW - timedelta(minutes=1), TODAY, date(2026, 5, 17))
    with CaptureQueriesContext(connection) as queries:
        figures = dashboard_get(workspace=world_a.workspace, days=30, now=NOW)
    assert figures.rollup_days == 30
    sql = [q["sql"] for q in queries]
    for model in (Message, AssistantDraft, Contact):
        assert not [q for q in sql if model._meta.db_table in q]
    conversations = [q for q in sql if Conversation._meta.db_table in q]
    days = [q for q in sql if ConversationDay._meta.db_table in q]
    if stored:
        # The rollups and the open conversations now: whatever the data, nothing else.
        assert (len(sql), len(conversations), len(days)) == (2, 1, 0)
    else:
        # And the range's conversations written to, and the median over conversation days.
        assert (len(sql), len(conversations), len(days)) == (4, 2, 1)


@pytest.mark.parametrize(
    "how",
    ["missing", "stale", "invalidated", "built after the moment asked for"],
)
def test_today_is_computed_live_when_its_rollup_is_not_fresh(world_a, how):
    from chatdesk.reports.services import DASHBOARD_TODAY_MAX_AGE

    build_data(world_a)
    live = dashboard_get(workspace=world_a.workspace, days=7, now=NOW)
    daily_rollups_rebuild(workspace=world_a.workspace, first_day=date(2026, 5, 14), last_day=TODAY)
    today = DailyRollup.objects.for_workspace(world_a.workspace).filter(day=TODAY)
    today.update(messages_in=999)  # would show if the dashboard read it
    if how == "missing":
        today.delete()
    elif how == "stale":  # the worker has not run for a while
        rebuilt_at(world_a, NOW - DASHBOARD_TODAY_MAX_AGE, TODAY)
    elif how == "invalidated":  # e.g. a complaint flagged on one of today's drafts
        rebuilt_at(world_a, at(5, 20), TODAY)
    else:
        rebuilt_at(world_a, NOW + timedelta(seconds=1), TODAY)
    figures = dashboard_get(workspace=world_a.workspace, days=7, now=NOW)
    assert figures.rollup_days == 6
    assert figures.today_as_of == NOW
    assert comparable(figures) == comparable(live)


def test_a_fresh_rollup_shows_today_as_of_its_build(world_a):
    build_data(world_a)
    daily_rollups_rebuild(workspace=world_a.workspace, first_day=date(2026, 5, 14), last_day=TODAY)
    rebuilt_at(world_a, NOW - timedelta(minutes=3), TODAY)
    before = dashboard_get(workspace=world_a.workspace, days=7, now=NOW)
    inbound(conversation(world_a), NOW - timedelta(minutes=1))  # after the build
    after = dashboard_get(workspace=world_a.workspace, days=7, now=NOW)
    assert after.inbound_total == before.inbound_total  # shown at the next build
    assert after.today_as_of == NOW - timedelta(minutes=3)
    daily_rollup_build(workspace=world_a.workspace, day=TODAY)
    rebuilt_at(world_a, NOW, TODAY)
    assert dashboard_get(workspace=world_a.workspace, days=7, now=NOW).inbound_total == (
        before.inbound_total + 1
    )


def test_a_day_with_drafts_waiting_takes_them_from_its_fresh_rollup_else_live(world_a):
    from chatdesk.assistant.models import AssistantDraft

    build_data(world_a)
    daily_rollups_rebuild(workspace=world_a.workspace, first_day=date(2026, 5, 14), last_day=TODAY)
    waiting_day = date(2026, 5, 17)  # its draft waits for review
    rebuilt_at(world_a, NOW - timedelta(minutes=4), TODAY, waiting_day)
    figures = dashboard_get(workspace=world_a.workspace, days=7, now=NOW)
    assert figures.assistant.pending_review == 2
    # Reviewed since the job's last run: the fresh rollup still says waiting, and the page
    # says as of when; the next run (or a stale rollup: the worker is down) counts it.
    AssistantDraft.objects.for_workspace(world_a.workspace).filter(
        created_at__date=waiting_day
    ).update(status=DraftStatus.REJECTED)
    figures = dashboard_get(workspace=world_a.workspace, days=7, now=NOW)
    assert (figures.assistant.pending_review, figures.assistant.rejected) == (2, 1)
    assert figures.today_as_of == NOW - timedelta(minutes=4)
    rebuilt_at(world_a, at(5, 19), waiting_day)  # final, but not fresh
    figures = dashboard_get(workspace=world_a.workspace, days=7, now=NOW)
    assert (figures.assistant.pending_review, figures.assistant.rejected) == (1, 2)
    assert figures.rollup_days == 7  # its message counts are final: still from the rollup


def test_rebuilding_today_rewrites_only_the_conversation_days_that_changed(world_a):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    build_data(world_a)
    daily_rollup_build(workspace=world_a.workspace, day=TODAY)
    rows = ConversationDay.objects.for_workspace(world_a.workspace).filter(day=TODAY)
    before = dict(rows.values_list("conversation_id", "pk"))
    table = ConversationDay._meta.db_table

    def writes():
        with CaptureQueriesContext(connection) as queries:
            daily_rollup_build(workspace=world_a.workspace, day=TODAY)
        return [
            q["sql"].split()[0]
            for q in queries
            if table in q["sql"] and not q["sql"].startswith("SELECT")
        ]

    assert writes() == []  # nothing changed: nothing written
    newcomer = conversation(world_a)
    inbound(newcomer, at(5, 20, 13))
    assert writes() == ["INSERT"]
    ConversationDay.objects.for_workspace(world_a.workspace).filter(conversation=newcomer).update(
        first_inbound_at=at(5, 20, 14)
    )  # wrong: the build puts it right
    assert writes() == ["UPDATE"]
    assert rows.get(conversation=newcomer).first_inbound_at == at(5, 20, 13)
    assert dict(rows.exclude(conversation=newcomer).values_list("conversation_id", "pk")) == before
    Message.objects.for_workspace(world_a.workspace).filter(conversation=newcomer).delete()
    assert writes() == ["DELETE"]
    assert dict(rows.values_list("conversation_id", "pk")) == before
