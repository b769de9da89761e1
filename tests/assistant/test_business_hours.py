"""Business hours: the boundaries, time zones, and what customers get outside them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chatdesk.assistant.configuration import AssistantConfigError, assistant_config_update
from chatdesk.assistant.hours import (
    after_hours_text,
    hours_is_open,
    hours_next_opening,
    opening_text,
)
from chatdesk.assistant.models import DraftStatus
from chatdesk.assistant.respond import assistant_draft_approve, assistant_respond_to
from chatdesk.crm.models import Author
from chatdesk.messaging.tasks import message_process_inbound
from tests.assistant.helpers import (
    ACTOR,
    assistant_world,
    customer_writes,
    replies,
    typing_indicators,
)

JAKARTA_WEEKDAYS = {
    "days": [0, 1, 2, 3, 4],
    "start": "08:00",
    "end": "17:00",
    "timezone": "Asia/Jakarta",  # UTC+07:00, no daylight saving
}
IN_SCOPE = "What time does your office open?"
FORBIDDEN = "How much is the tuition fee for a master's in Australia?"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# 2026-11-23 is a Monday. Jakarta is 7 hours ahead of UTC.
MONDAY_0800_JAKARTA = utc(2026, 11, 23, 1, 0)
SATURDAY_1000_JAKARTA = utc(2026, 11, 21, 3, 0)


@pytest.mark.parametrize(
    ("at", "is_open"),
    [
        (utc(2026, 11, 23, 1, 0), True),  # Monday 08:00 exactly: opening time is inside
        (utc(2026, 11, 23, 0, 59, 59), False),  # Monday 07:59:59
        (utc(2026, 11, 23, 9, 59, 59), True),  # Monday 16:59:59
        (utc(2026, 11, 23, 10, 0), False),  # Monday 17:00 exactly: closing time is outside
        (utc(2026, 11, 21, 3, 0), False),  # Saturday 10:00
        (utc(2026, 11, 22, 23, 30), False),  # Sunday 23:30 UTC is Monday 06:30 in Jakarta
        (utc(2026, 11, 27, 20, 0), False),  # Friday 20:00 UTC is already Saturday in Jakarta
        (utc(2026, 11, 22, 20, 0), False),  # Sunday everywhere
    ],
)
def test_open_from_start_inclusive_to_end_exclusive_in_the_configured_time_zone(at, is_open):
    assert hours_is_open(hours=JAKARTA_WEEKDAYS, at=at) is is_open


def test_without_a_time_zone_the_hours_are_in_the_servers_time_zone(settings):
    settings.TIME_ZONE = "UTC"
    hours = {"days": [0], "start": "08:00", "end": "17:00"}
    assert hours_is_open(hours=hours, at=utc(2026, 11, 23, 8, 0))
    assert not hours_is_open(hours=hours, at=utc(2026, 11, 23, 1, 0))


def test_empty_hours_mean_always_open_with_no_next_opening():
    assert hours_is_open(hours={}, at=SATURDAY_1000_JAKARTA)
    assert hours_next_opening(hours={}, at=SATURDAY_1000_JAKARTA) is None


def test_the_next_opening_skips_the_weekend_and_is_shown_in_the_local_time_zone():
    opening = hours_next_opening(hours=JAKARTA_WEEKDAYS, at=SATURDAY_1000_JAKARTA)
    assert opening_text(when=opening) == "2026-11-23 08:00 (UTC+07:00)"
    # Before opening on a working day: later that same day.
    early = hours_next_opening(hours=JAKARTA_WEEKDAYS, at=utc(2026, 11, 23, 0, 30))
    assert opening_text(when=early) == "2026-11-23 08:00 (UTC+07:00)"
    # At closing time exactly: the next working day.
    closing = hours_next_opening(hours=JAKARTA_WEEKDAYS, at=utc(2026, 11, 23, 10, 0))
    assert opening_text(when=closing) == "2026-11-24 08:00 (UTC+07:00)"


def test_the_next_opening_follows_daylight_saving_changes():
    berlin = {**JAKARTA_WEEKDAYS, "timezone": "Europe/Berlin"}
    # Saturday 2026-03-28; clocks go forward on Sunday 29 March.
    opening = hours_next_opening(hours=berlin, at=utc(2026, 3, 28, 12, 0))
    assert opening_text(when=opening) == "2026-03-30 08:00 (UTC+02:00)"
    assert opening_text(when=utc(2026, 3, 30, 6, 0)) == "2026-03-30 06:00 (UTC)"


def test_the_after_hours_text_fills_in_the_next_opening_and_leaves_other_braces_alone():
    text = after_hours_text(
        template="Back {next_open}. {not a placeholder}",
        hours=JAKARTA_WEEKDAYS,
        at=SATURDAY_1000_JAKARTA,
    )
    assert text == "Back 2026-11-23 08:00 (UTC+07:00). {not a placeholder}"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "error"),
    [
        (
            {"business_hours": {**JAKARTA_WEEKDAYS, "timezone": "Mars/Olympus"}},
            "business_hours.timezone must be a time zone name like Asia/Jakarta",
        ),
        ({"review_timeout_minutes": 0}, "review_timeout_minutes must be a whole number from 1"),
        ({"review_timeout_minutes": 1441}, "review_timeout_minutes must be a whole number"),
        ({"review_timeout_minutes": "5"}, "review_timeout_minutes must be a whole number"),
        ({"review_timeout_minutes": True}, "review_timeout_minutes must be a whole number"),
        ({"after_hours_message": "x" * 1001}, "after_hours_message must be at most 1000"),
    ],
)
def test_bad_hours_settings_are_refused_with_a_clear_error(changes, error):
    world = assistant_world("bh-bad")
    with pytest.raises(AssistantConfigError) as refused:
        assistant_config_update(workspace=world.workspace, actor=ACTOR, **changes)
    assert any(e.startswith(error) for e in refused.value.errors), refused.value.errors


@pytest.mark.django_db
def test_hours_with_a_time_zone_and_the_new_settings_are_saved_as_a_new_version():
    world = assistant_world("bh-ok")
    config = assistant_config_update(
        workspace=world.workspace,
        actor=ACTOR,
        business_hours=JAKARTA_WEEKDAYS,
        review_timeout_minutes=15,
        after_hours_message="  Closed until {next_open}.  ",
    )
    assert config.business_hours == JAKARTA_WEEKDAYS
    assert (config.review_timeout_minutes, config.after_hours_message) == (
        15,
        "Closed until {next_open}.",
    )


# --- in the pipeline ---------------------------------------------------------------------------


def respond_at(message, now):
    message_process_inbound.func.job_body(message_id=message.pk)
    return assistant_respond_to(message_id=message.pk, now=now)


def with_hours(world, **changes):
    assistant_config_update(
        workspace=world.workspace, actor=ACTOR, business_hours=JAKARTA_WEEKDAYS, **changes
    )


@pytest.mark.django_db
def test_an_escalation_at_the_weekend_sends_the_after_hours_message_with_the_next_opening():
    world = assistant_world("bh-esc")
    with_hours(world)
    draft = respond_at(customer_writes(world.channel, FORBIDDEN), SATURDAY_1000_JAKARTA)
    assert draft.status == DraftStatus.ESCALATED
    [message] = replies(draft.conversation)
    assert message.author == Author.ASSISTANT
    assert "offline" in message.text and "(2026-11-23 08:00 (UTC+07:00))" in message.text
    assert "{next_open}" not in message.text
    assert draft.holding_message == message and draft.holding_sent_at == SATURDAY_1000_JAKARTA


@pytest.mark.django_db
def test_an_escalation_during_opening_hours_sends_the_holding_message():
    world = assistant_world("bh-in")
    with_hours(world)
    draft = respond_at(customer_writes(world.channel, FORBIDDEN), MONDAY_0800_JAKARTA)
    [message] = replies(draft.conversation)
    assert message.text == draft.config.holding_message


@pytest.mark.django_db
def test_a_draft_waiting_for_review_at_night_gets_the_after_hours_message_at_once():
    world = assistant_world("bh-rv")
    with_hours(world)
    message = customer_writes(world.channel, IN_SCOPE)
    draft = respond_at(message, SATURDAY_1000_JAKARTA)

    assert draft.status == DraftStatus.PENDING_REVIEW
    [after_hours] = replies(draft.conversation)
    assert "2026-11-23 08:00 (UTC+07:00)" in after_hours.text
    assert draft.holding_message == after_hours and draft.holding_sent_at is not None
    assert typing_indicators(message) == 0  # no "typing..." when nobody is there

    # Approved on Monday morning, the real reply still goes out.
    assistant_draft_approve(draft=draft, reviewer=world.agent)
    assert [m.text for m in replies(draft.conversation)] == [after_hours.text, draft.draft_text]


@pytest.mark.django_db
def test_a_draft_waiting_for_review_in_opening_hours_shows_typing_and_sends_nothing_yet():
    world = assistant_world("bh-rvin")
    with_hours(world)
    message = customer_writes(world.channel, IN_SCOPE)
    draft = respond_at(message, MONDAY_0800_JAKARTA)
    assert replies(draft.conversation) == [] and typing_indicators(message) == 1
    assert draft.holding_sent_at is None


@pytest.mark.django_db
def test_in_autonomous_mode_grounded_answers_still_go_out_at_night():
    world = assistant_world("bh-auto")
    with_hours(world, mode="autonomous", confirmed=True)
    draft = respond_at(customer_writes(world.channel, IN_SCOPE), SATURDAY_1000_JAKARTA)
    assert draft.status == DraftStatus.SENT
    [reply] = replies(draft.conversation)
    assert "09:00-17:00" in reply.text and "offline" not in reply.text


@pytest.mark.django_db
def test_without_an_after_hours_message_the_holding_message_is_used_at_night():
    world = assistant_world("bh-empty")
    with_hours(world, after_hours_message="")
    draft = respond_at(customer_writes(world.channel, FORBIDDEN), SATURDAY_1000_JAKARTA)
    assert [m.text for m in replies(draft.conversation)] == [draft.config.holding_message]
    waiting = respond_at(
        customer_writes(world.channel, IN_SCOPE, wa_id="628199990000"), SATURDAY_1000_JAKARTA
    )
    assert replies(waiting.conversation) == []  # it waits for the review timeout instead
