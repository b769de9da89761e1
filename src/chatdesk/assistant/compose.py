"""Composers turn the retrieved entries into a draft reply.

`ApprovedAnswerComposer` (no LLM) returns the approved answer itself, greeted by first name when
the workspace allows it. An LLM composer implements the same `Composer` protocol; whatever it
returns still goes through the guard.

A composer only ever sees a `ComposeRequest`: the message and earlier turns with phone numbers
and email addresses masked, the customer's first name (never a number), the retrieved entries
and the settings. Nothing else about the customer, and nothing about other customers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from chatdesk.assistant.conf import AssistantSettings
from chatdesk.assistant.knowledge import Entry
from chatdesk.assistant.text import STOPWORDS_EN, STOPWORDS_ID, words, wordset

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Seven or more digits, possibly grouped with spaces, dots, dashes or brackets: phone numbers,
# account and ID numbers. Dates and times have fewer digits per run and survive.
_LONG_NUMBER = re.compile(r"\+?\d[\d\s().-]{5,}\d")


def redact(text: str) -> str:
    text = _EMAIL.sub("[email]", text)
    return _LONG_NUMBER.sub(
        lambda m: "[number]" if sum(c.isdigit() for c in m.group()) >= 7 else m.group(), text
    )


def first_name(name: str | None) -> str | None:
    """The first word of a display name, or None when it does not look like a name.

    WhatsApp profile names can be anything, including the phone number itself or an email.
    """
    if not name:
        return None
    first = name.strip().split()[0] if name.strip() else ""
    if not first or len(first) > 30 or not all(c.isalpha() or c in "'-." for c in first):
        return None
    return first[:1].upper() + first[1:]


_ID_MARKERS = STOPWORDS_ID | wordset(
    "apa berapa kapan bagaimana gimana mana dimana siapa kenapa mengapa tidak gak nggak enggak "
    "jam hari buka tutup kuliah daftar belum ada aja saja kalau kalo cara syarat untuk"
)
_EN_MARKERS = STOPWORDS_EN | wordset(
    "what when where how why who which open need can do does is are there any"
)


def looks_indonesian(text: str) -> bool:
    tokens = words(text)
    return sum(t in _ID_MARKERS for t in tokens) > sum(t in _EN_MARKERS for t in tokens)


@dataclass(frozen=True)
class ComposeRequest:
    message: str  # redacted
    context_turns: tuple[str, ...]  # redacted, most recent first
    entries: tuple[Entry, ...]  # the retrieved entries, best first: the only allowed facts
    settings: AssistantSettings
    first_name: str | None  # None unless the workspace allows personalisation


class Composer(Protocol):
    name: str

    def compose(self, request: ComposeRequest) -> str: ...


class ComposerError(Exception):
    """The composer could not produce a draft (LLM error, timeout); the message escalates."""


class ApprovedAnswerComposer:
    name = "approved-answer"

    def compose(self, request: ComposeRequest) -> str:
        answer = request.entries[0].answer.strip()
        if not request.first_name:
            return answer
        greeting = "Halo" if looks_indonesian(request.message) else "Hi"
        personalised = f"{greeting} {request.first_name}! {answer}"
        # The greeting is a nicety: never let it push a good answer over the length cap.
        return personalised if len(personalised) <= request.settings.max_reply_chars else answer


def build_request(
    *,
    message: str,
    context_turns: Sequence[str],
    entries: Sequence[Entry],
    settings: AssistantSettings,
    customer_name: str | None,
) -> ComposeRequest:
    return ComposeRequest(
        message=redact(message),
        context_turns=tuple(redact(t) for t in context_turns),
        entries=tuple(entries),
        settings=settings,
        first_name=first_name(customer_name) if settings.use_first_name else None,
    )
