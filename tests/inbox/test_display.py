"""The inbox's rows prepared in Python must read exactly as the template filters wrote them."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.template.defaultfilters import date as date_filter
from django.template.defaultfilters import truncatechars
from django.urls import reverse
from django.utils import timezone as dj_timezone

from chatdesk.inbox import display
from chatdesk.inbox.forms import AssignForm, LabelsForm
from tests.inbox.factories import label_make

MOMENTS = [
    datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
    datetime(2026, 11, 27, 23, 59, 59, tzinfo=UTC),
    datetime(2025, 5, 31, 0, 0, tzinfo=UTC),
    # Stored in another offset: shown in the site's time zone, like the filter does.
    datetime(2026, 9, 9, 1, 30, tzinfo=timezone(timedelta(hours=7))),
]


@pytest.mark.parametrize("moment", MOMENTS)
def test_dates_read_exactly_as_the_date_filter_writes_them(moment):
    dates, local = display.DateText(), dj_timezone.localtime(moment)
    assert dates.iso(moment) == date_filter(local, "c")
    assert dates.short(moment) == date_filter(local, "j M H:i")
    assert dates.long(moment) == date_filter(local, "j M Y H:i")
    assert dates.long(moment, seconds=True) == date_filter(local, "j M Y H:i:s")


@pytest.mark.parametrize("pk", [1, 7, 2_147_000_001, 98765432101])
def test_row_urls_are_the_urls_reverse_gives(pk):
    make = display.url_maker(
        "inbox:media", per_row="message_id", workspace_slug="alpha-2", conversation_id=12
    )
    assert make(pk) == reverse(
        "inbox:media",
        kwargs={"workspace_slug": "alpha-2", "conversation_id": 12, "message_id": pk},
    )


def test_choices_mark_the_forms_value_and_keep_the_empty_choice(world_a):
    first, second = label_make(world_a.workspace, "A"), label_make(world_a.workspace, "B")
    labels = LabelsForm(workspace=world_a.workspace, initial={"labels": [second.pk]})
    assert [(c.label, c.selected) for c in display.choices_of(labels["labels"])] == [
        ("A", False),
        ("B", True),
    ]
    loaded = display.choices_of(labels["labels"], objects=[first, second])
    assert loaded == display.choices_of(labels["labels"])

    assign = AssignForm({"assignee": str(world_a.agent.pk)}, workspace=world_a.workspace)
    options = display.choices_of(assign["assignee"])
    assert options[0].value == "" and options[0].label == "Unassigned"
    assert [o.value for o in options if o.selected] == [str(world_a.agent.pk)]


@pytest.mark.parametrize(
    "text",
    ["", "Halo", "x" * 90, "y" * 91, "Café" + "é" * 120, "e\u0301" * 95, "Apakah 🙏 " * 20],
)
def test_previews_are_cut_exactly_as_truncatechars_cuts_them(text):
    assert display.preview_text(text) == truncatechars(text, display.PREVIEW_LENGTH)
