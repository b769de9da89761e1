"""Knowledge entries and the YAML format shared by import/export and `chatdesk assistant-eval`.

The document (every key but `knowledge` is optional)::

    workspace: acme-education          # informational; import uses the target workspace
    assistant:                         # read by assistant-eval; import leaves settings alone
      name: Ayu
      persona: Friendly study-abroad advisor
      allowed_topics: []               # empty: every topic below
      forbidden_topics: [pricing, refunds, scholarships, admission decisions, guarantees]
      threshold: 0.70
      max_reply_chars: 300
      use_first_name: true
    knowledge:
      - id: office-hours               # lowercase letters, digits, - and _; unique
        topic: contact
        enabled: true                  # default true
        questions:                     # example questions, any language, at least one
          - When is your office open?
          - Jam buka kantor kapan?
        answer: Our office is open Monday to Friday, 09:00-17:00 WIB.

Unknown keys are errors (a misspelt `qustions` must not silently drop an entry's questions).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from chatdesk.assistant.conf import DEFAULT_MAX_REPLY_CHARS, MAX_TEMPERATURE, AssistantSettings
from chatdesk.assistant.topics import DEFAULT_FORBIDDEN_TOPICS

MAX_DOCUMENT_BYTES = 2_000_000
MAX_ENTRIES = 5_000
ENTRY_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


@dataclass(frozen=True)
class Entry:
    """One approved answer and the questions it answers (the unit retrieval ranks)."""

    key: str
    topic: str
    answer: str
    questions: tuple[str, ...]
    enabled: bool = True


class KnowledgeFormatError(ValueError):
    """The document is not valid; `errors` lists every problem, one readable line each."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("Invalid knowledge file:\n" + "\n".join(f"  - {e}" for e in errors))


class _EntryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Text
    topic: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
    answer: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
    questions: list[Text] = Field(min_length=1, max_length=500)
    enabled: bool = True

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not ENTRY_ID.match(value):
            raise ValueError(
                "must be 1-64 lowercase letters, digits, '-' or '_', "
                "starting with a letter or digit"
            )
        return value


class _AssistantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text = "Assistant"
    persona: str = ""
    allowed_topics: list[Text] = []
    forbidden_topics: list[Text] = list(DEFAULT_FORBIDDEN_TOPICS)
    threshold: float = Field(default=0.70, ge=0.0, le=1.0)
    max_reply_chars: int = Field(default=DEFAULT_MAX_REPLY_CHARS, ge=20, le=4096)
    use_first_name: bool = True
    temperature: float = Field(default=0.1, ge=0.0, le=MAX_TEMPERATURE)
    holding_message: str | None = None


class _DocumentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workspace: str | None = None
    assistant: _AssistantIn | None = None
    knowledge: list[Any] = Field(max_length=MAX_ENTRIES)


@dataclass(frozen=True)
class KnowledgeDocument:
    workspace: str | None
    settings: AssistantSettings
    entries: list[Entry]


def _where(loc: tuple) -> str:
    """'knowledge[3] (id faq-visa).questions[0]' from a pydantic location."""
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts[-1] = f"{parts[-1]}[{item}]" if parts else f"[{item}]"
        else:
            parts.append(str(item))
    return ".".join(parts) or "document"


def _format(error: dict, prefix: str = "") -> str:
    where = _where(tuple(error["loc"]))
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    return f"{prefix}{where}: {message}"


def parse_knowledge_yaml(text: str) -> KnowledgeDocument:
    """Parse and validate a knowledge document; raise `KnowledgeFormatError` listing every error."""
    if len(text.encode("utf-8", errors="replace")) > MAX_DOCUMENT_BYTES:
        raise KnowledgeFormatError([f"file is larger than {MAX_DOCUMENT_BYTES // 1_000_000} MB"])
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "could not be parsed"
        raise KnowledgeFormatError([f"not valid YAML{where}: {problem}"]) from None
    if not isinstance(raw, dict):
        raise KnowledgeFormatError(["the document must be a mapping with a 'knowledge' list"])
    try:
        document = _DocumentIn.model_validate(raw)
    except ValidationError as exc:
        raise KnowledgeFormatError([_format(e) for e in exc.errors()]) from None

    errors: list[str] = []
    entries: list[Entry] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(document.knowledge):
        label = f"knowledge[{index}]"
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            label += f" (id {item['id']})"
        if not isinstance(item, dict):
            errors.append(f"{label}: must be a mapping with id, topic, questions and answer")
            continue
        try:
            parsed = _EntryIn.model_validate(item)
        except ValidationError as exc:
            errors.extend(_format(e, prefix=f"{label}.") for e in exc.errors())
            continue
        if parsed.id in seen:
            errors.append(f"{label}: duplicate id, already used by knowledge[{seen[parsed.id]}]")
            continue
        seen[parsed.id] = index
        entries.append(
            Entry(
                key=parsed.id,
                topic=parsed.topic,
                answer=parsed.answer,
                questions=tuple(parsed.questions),
                enabled=parsed.enabled,
            )
        )
    if errors:
        raise KnowledgeFormatError(errors)

    section = document.assistant or _AssistantIn()
    values = section.model_dump(exclude={"holding_message"})
    values["allowed_topics"] = tuple(values["allowed_topics"])
    values["forbidden_topics"] = tuple(values["forbidden_topics"])
    if section.holding_message:
        values["holding_message"] = section.holding_message
    return KnowledgeDocument(
        workspace=document.workspace, settings=AssistantSettings(**values), entries=entries
    )


def dump_knowledge_yaml(entries: list[Entry], *, workspace: str | None = None) -> str:
    document: dict[str, Any] = {}
    if workspace:
        document["workspace"] = workspace
    document["knowledge"] = [
        {
            "id": e.key,
            "topic": e.topic,
            "enabled": e.enabled,
            "questions": list(e.questions),
            "answer": e.answer,
        }
        for e in entries
    ]
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=100)
