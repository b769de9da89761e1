"""The periodic rollup job, the rebuild command, and the reply hook in the real send path."""

from datetime import date, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from chatdesk.assistant.models import DraftStatus
from chatdesk.crm.models import Author
from chatdesk.jobs.periodic import autodiscover, registry
from chatdesk.messaging.outbound import message_send_text
from chatdesk.reports.days import day_start
from chatdesk.reports.models import ConversationDay, DailyRollup
from chatdesk.reports.services import (
    CONVERSATION_DAYS_KEPT,
    MISSING_DAYS_PER_RUN,
    WINDOW_DAYS,
    daily_rollup_build,
    daily_rollups_refresh,
)
from tests.crm.builders import contact_make, conversation_make
from tests.reports.builders import draft_make, inbound

pytestmark = pytest.mark.django_db


def conversation(world):
    return conversation_make(world.workspace, contact_make(world.workspace))


def rollup_days(world) -> set[date]:
    return set(DailyRollup.objects.for_workspace(world.workspace).values_list("day", flat=True))


def test_the_job_is_registered_to_run_every_few_minutes():
    autodiscover()
    names = {j.name: j.every for j in registry.all()}
    assert names["chatdesk.reports.tasks.refresh_daily_rollups"] == timedelta(minutes=5)


def test_each_run_builds_today_yesterday_and_backfills_a_few_missing_days(world_a, world_b):
    today = timezone.localdate()
    daily_rollups_refresh()
    expected = {today, today - timedelta(days=1)} | {
        today - timedelta(days=n) for n in range(2, 2 + MISSING_DAYS_PER_RUN)
    }
    assert rollup_days(world_a) == rollup_days(world_b) == expected
    for _ in range(WINDOW_DAYS // MISSING_DAYS_PER_RUN + 1):
        daily_rollups_refresh()
    assert len(rollup_days(world_a)) == WINDOW_DAYS


def test_todays_rollup_holds_the_figures_of_each_range_whose_closed_days_are_built(world_a):
    today = timezone.localdate()
    daily_rollups_refresh()  # a new installation: the first run backfills a week
    rollup = DailyRollup.objects.for_workspace(world_a.workspace).get(day=today)
    assert set(rollup.range_figures) == {"7"}
    assert rollup.range_figures["7"] == {
        "written_to": 0,
        "escalated": 0,
        "answered": 0,
        "median_us": None,
    }
    for _ in range(WINDOW_DAYS // MISSING_DAYS_PER_RUN + 1):
        daily_rollups_refresh()
    rollup.refresh_from_db()
    assert set(rollup.range_figures) == {"7", "30", "90"}
    yesterday = DailyRollup.objects.for_workspace(world_a.workspace).get(
        day=today - timedelta(days=1)
    )
    assert yesterday.range_figures == {}  # only today's row serves the ranges


def test_days_with_drafts_waiting_for_review_are_rebuilt_until_reviewed(world_a):
    today = timezone.localdate()
    five_days_ago = timezone.now() - timedelta(days=5)
    draft = draft_make(conversation(world_a), five_days_ago, status=DraftStatus.PENDING_REVIEW)
    for _ in range(WINDOW_DAYS // MISSING_DAYS_PER_RUN + 1):
        daily_rollups_refresh()
    day = timezone.localdate(five_days_ago)
    assert DailyRollup.objects.for_workspace(world_a.workspace).get(day=day).pending_review == 1
    type(draft).objects.for_workspace(world_a.workspace).filter(pk=draft.pk).update(
        status=DraftStatus.REJECTED, reviewed_at=timezone.now()
    )
    daily_rollups_refresh()
    rollup = DailyRollup.objects.for_workspace(world_a.workspace).get(day=day)
    assert (rollup.pending_review, rollup.rejected) == (0, 1)
    assert today != day


def test_old_conversation_days_are_pruned(world_a):
    conv = conversation(world_a)
    old = timezone.now() - timedelta(days=CONVERSATION_DAYS_KEPT + 3)
    inbound(conv, old)
    daily_rollup_build(workspace=world_a.workspace, day=timezone.localdate(old))
    assert ConversationDay.objects.for_workspace(world_a.workspace).count() == 1
    daily_rollups_refresh()
    assert ConversationDay.objects.for_workspace(world_a.workspace).count() == 0


def test_the_command_rebuilds_the_days_asked_for(world_a, world_b):
    out = StringIO()
    call_command(
        "reports-rebuild", "--workspace", world_a.workspace.slug, "--days", "3", stdout=out
    )
    today = timezone.localdate()
    assert rollup_days(world_a) == {today - timedelta(days=n) for n in range(3)}
    assert rollup_days(world_b) == set()
    assert f"{world_a.workspace.slug}: 3 days rebuilt" in out.getvalue()
    call_command("reports-rebuild", "--days", "3", stdout=StringIO())  # again: idempotent
    assert len(rollup_days(world_a)) == len(rollup_days(world_b)) == 3


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--workspace", "nope"], "No workspace with slug 'nope'."),
        (["--days", "0"], "--days must be between 1 and 3660, got 0."),
    ],
)
def test_the_command_explains_bad_arguments_and_builds_nothing(world_a, args, error):
    with pytest.raises(CommandError, match=error):
        call_command("reports-rebuild", *args)
    assert rollup_days(world_a) == set()


def test_a_reply_through_the_send_path_updates_earlier_days(world_a):
    conv = conversation(world_a)
    now = timezone.now()
    two_days_ago = now - timedelta(days=2)
    inbound(conv, two_days_ago)
    inbound(conv, now - timedelta(hours=1))  # the 24-hour window is open
    daily_rollup_build(workspace=world_a.workspace, day=timezone.localdate(two_days_ago))
    sent = message_send_text(conversation=conv, text="Sorry for the wait!", author=Author.AGENT)
    row = ConversationDay.objects.for_workspace(world_a.workspace).get(conversation=conv)
    assert row.first_reply_at == sent.provider_timestamp


def test_invalidating_a_day_makes_the_next_run_rebuild_it(world_a):
    today = timezone.localdate()
    for _ in range(WINDOW_DAYS // MISSING_DAYS_PER_RUN + 1):
        daily_rollups_refresh()
    day = today - timedelta(days=10)
    from chatdesk.reports.services import daily_rollups_invalidate

    daily_rollups_invalidate(workspace=world_a.workspace, at=day_start(day))
    rollup = DailyRollup.objects.for_workspace(world_a.workspace).get(day=day)
    assert rollup.built_at == day_start(day)
    daily_rollups_refresh()
    rollup.refresh_from_db()
    assert rollup.built_at > day_start(today)


def test_the_reply_hook_is_one_update_and_no_read(world_a, django_assert_num_queries):
    from chatdesk.crm.models import Conversation
    from chatdesk.reports.services import conversation_days_record_reply

    conv = conversation(world_a)
    fresh = Conversation.objects.for_workspace(world_a.workspace).get(pk=conv.pk)  # no cache
    with django_assert_num_queries(1):
        conversation_days_record_reply(conversation=fresh, author=Author.AGENT, at=timezone.now())
