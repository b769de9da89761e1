"""What the inbox template shows, prepared once per request in Python.

A page lists 30 conversations and 30 messages; done in the template, every row reversed its own
URLs, formatted three dates through Django's date filter and looked up a dozen attributes, and
every select rendered each option through the form widget templates. That was most of a thread
page's 70 ms of CPU. Here each URL is reversed once (with a placeholder id, then filled in per
row), dates are formatted directly (the same output as the template filters, see the tests) and
choices come out as plain (value, label, selected) rows.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from django.urls import reverse
from django.utils import timezone
from django.utils.dates import MONTHS_3
from django.utils.text import Truncator

from chatdesk.crm.models import Author, Conversation, Direction, Message, MessageStatus
from chatdesk.inbox.forms import user_display_name

# Stands in for each row's id in a URL reversed once (the row's id is the URL's last argument,
# so its last occurrence is the one replaced).
_PLACEHOLDER = 2_147_000_001
PREVIEW_LENGTH = 90
_TICKS = {
    MessageStatus.QUEUED: "◷",
    MessageStatus.SENDING: "…",
    MessageStatus.SENT: "✓",
    MessageStatus.FAILED: "!",
}


def url_maker(name: str, *, per_row: str, **fixed) -> Callable[[int], str]:
    """`url_maker("inbox:thread", per_row="conversation_id", workspace_slug=s)(7)`: the URL
    reversed once, with each row's own id put in place of a placeholder."""
    url = reverse(name, kwargs={**fixed, per_row: _PLACEHOLDER})
    head, tail = url.rsplit(str(_PLACEHOLDER), 1)
    return lambda pk: f"{head}{int(pk)}{tail}"


class DateText:
    """Django's `date` filter output for the inbox's formats, without its per-call cost."""

    def __init__(self) -> None:
        self._months: dict[int, str] = {}

    def _month(self, month: int) -> str:
        if month not in self._months:
            self._months[month] = str(MONTHS_3[month]).title()  # the filter's "M"
        return self._months[month]

    def iso(self, value: datetime) -> str:  # "c"
        return timezone.localtime(value).isoformat()

    def short(self, value: datetime) -> str:  # "j M H:i"
        local = timezone.localtime(value)
        return f"{local.day} {self._month(local.month)} {local:%H:%M}"

    def long(self, value: datetime, *, seconds: bool = False) -> str:  # "j M Y H:i[:s]"
        local = timezone.localtime(value)
        clock = f"{local:%H:%M:%S}" if seconds else f"{local:%H:%M}"
        return f"{local.day} {self._month(local.month)} {local.year} {clock}"


@dataclass
class Choice:
    value: str
    label: str
    selected: bool


def choices_of(bound_field, *, objects: Iterable | None = None) -> list[Choice]:
    """A select's or checkbox list's options, the form's current value(s) marked. `objects`:
    the field's queryset already loaded (two fields of a page share one query)."""
    field = bound_field.field
    if objects is None:
        pairs = field.choices
    else:
        empty = [("", field.empty_label)] if getattr(field, "empty_label", None) else []
        pairs = empty + [(obj.pk, field.label_from_instance(obj)) for obj in objects]
    current = bound_field.value()
    chosen = {str(v) for v in current} if isinstance(current, list | tuple) else {str(current)}
    rows = []
    for value, label in pairs:
        value = "" if value is None else str(value)
        rows.append(Choice(value=value, label=str(label), selected=value in chosen))
    return rows


def conversations_prepare(
    conversations: Iterable[Conversation], *, workspace_slug: str, suffix: str
) -> None:
    """Sets `url`, `time_iso`, `time_title`, `time_short`, `preview` and `assignee_name`."""
    thread = url_maker("inbox:thread", per_row="conversation_id", workspace_slug=workspace_slug)
    dates = DateText()
    for c in conversations:
        c.url = thread(c.pk) + suffix
        at = c.last_message_at
        c.time_iso, c.time_title, c.time_short = dates.iso(at), dates.long(at), dates.short(at)
        c.assignee_name = user_display_name(c.assignee) if c.assignee_id else ""
        c.preview = preview_text(c.preview_text or "")


def preview_text(text: str) -> str:
    """The `truncatechars:90` filter's output; most previews are short enough to skip its
    character-by-character walk (which then changes nothing but the NFC normalisation)."""
    if len(text) <= PREVIEW_LENGTH:
        return unicodedata.normalize("NFC", text)
    return Truncator(text).chars(PREVIEW_LENGTH)


def messages_prepare(
    messages: Iterable[Message], *, conversation: Conversation, workspace_slug: str
) -> None:
    """Sets what each message row shows: css classes, author, times, status, media URLs."""
    media, retry = (
        url_maker(
            name,
            per_row="message_id",
            workspace_slug=workspace_slug,
            conversation_id=conversation.pk,
        )
        for name in ("inbox:media", "inbox:media-retry")
    )
    contact = str(conversation.contact)
    dates = DateText()
    for m in messages:
        if m.is_private_note:
            m.css = "is-note"
            m.author_label = f"Private note · {_user_name(m) or 'Agent'}"
        else:
            m.css = "is-in" if m.direction == Direction.INBOUND else "is-out"
            m.author_label = {
                Author.CUSTOMER: contact,
                Author.AGENT: _user_name(m) or "Agent",
                Author.ASSISTANT: "Assistant",
            }.get(m.author, "System")
        at = m.provider_timestamp
        m.time_iso, m.time_short = dates.iso(at), dates.short(at)
        m.time_title = dates.long(at, seconds=True)
        m.shows_status = m.direction == Direction.OUTBOUND and not m.is_private_note
        if m.shows_status:
            m.tick = _TICKS.get(m.status, "✓✓")
            m.status_label = m.get_status_display()
            m.status_title = m.status_label + (
                f" · {dates.short(m.status_at)} UTC" if m.status_at else ""
            )
        if m.media_state:
            m.media_url, m.retry_url = media(m.pk), retry(m.pk)


def _user_name(message: Message) -> str:
    return user_display_name(message.sent_by) if message.sent_by_id else ""
