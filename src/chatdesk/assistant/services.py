"""Writes on the assistant's data (`<entity>_<action>`, keyword-only), and the few reads the
admin pages need beside them (settings history, knowledge list, import preview).

Every change an admin makes here is audited in the same transaction: configuration changes as
`assistant.config_changed`, knowledge changes as `assistant.knowledge_changed` with
`details["knowledge"]` naming what happened.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet

from chatdesk.assistant.configuration import (
    EDITABLE_FIELDS,
    assistant_config_current,
    assistant_config_update,
)
from chatdesk.assistant.knowledge import (
    ENTRY_ID,
    Entry,
    KnowledgeFormatError,
    dump_knowledge_yaml,
    parse_knowledge_yaml,
)
from chatdesk.assistant.models import AssistantConfig, KnowledgeEntry
from chatdesk.assistant.selectors import knowledge_entries
from chatdesk.audit.models import AuditAction
from chatdesk.audit.services import AuditActor, audit_record
from chatdesk.tenancy.models import Workspace

KNOWLEDGE_AUDIT_ACTION = AuditAction.ASSISTANT_KNOWLEDGE_CHANGED
AUDIT_KEYS_LISTED = 100  # an import of thousands of entries records counts, and this many keys

# --- Knowledge: the import/export format --------------------------------------------------------


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int


@transaction.atomic
def knowledge_import_yaml(*, workspace: Workspace, text: str) -> ImportResult:
    """Create or update the document's entries (matched on `id`); all or nothing.

    The whole document is validated before anything is written, so a file with one bad entry
    imports nothing and `KnowledgeFormatError.errors` names every problem. Entries of the
    workspace that the file does not mention are left as they are.
    """
    document = parse_knowledge_yaml(text)
    existing = {
        row.key: row
        for row in KnowledgeEntry.objects.for_workspace(workspace)
        .select_for_update()
        .filter(key__in=[e.key for e in document.entries])
    }
    created = updated = 0
    for entry in document.entries:
        values = _entry_values(entry)
        row = existing.get(entry.key)
        if row is None:
            KnowledgeEntry.objects.for_workspace(workspace).create(
                workspace=workspace, key=entry.key, **values
            )
            created += 1
        elif any(getattr(row, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(row, name, value)
            row.save()
            updated += 1
    return ImportResult(created=created, updated=updated)


def _entry_values(entry: Entry) -> dict[str, Any]:
    return {
        "topic": entry.topic,
        "answer": entry.answer,
        "questions": list(entry.questions),
        "enabled": entry.enabled,
    }


def knowledge_export_yaml(*, workspace: Workspace, config: AssistantConfig | None = None) -> str:
    """The workspace's entries (enabled or not) in the import format.

    With `config`, the document also carries its `assistant:` section, so the file runs as is
    with `chatdesk assistant-eval --kb` against the workspace's own settings (import ignores
    that section: settings change on the settings page only).
    """
    entries = knowledge_entries(workspace=workspace)
    if config is None:
        return dump_knowledge_yaml(entries, workspace=workspace.slug)
    head = {
        "workspace": workspace.slug,
        "assistant": {
            "name": config.name,
            "persona": config.persona,
            "allowed_topics": list(config.allowed_topics),
            "forbidden_topics": list(config.forbidden_topics),
            "threshold": config.threshold,
            "max_reply_chars": config.max_reply_chars,
            "use_first_name": config.use_first_name,
            "temperature": config.temperature,
            "holding_message": config.holding_message,
        },
    }
    # dump_knowledge_yaml without a workspace starts at `knowledge:`: the same entry layout.
    return yaml.safe_dump(
        head, allow_unicode=True, sort_keys=False, width=100
    ) + dump_knowledge_yaml(entries)


@dataclass(frozen=True)
class UpdatedEntry:
    entry: Entry
    fields: tuple[str, ...]  # what the import changes


@dataclass(frozen=True)
class ImportPreview:
    """What importing a document would do; nothing is applied while `errors` is not empty."""

    created: tuple[Entry, ...] = ()
    updated: tuple[UpdatedEntry, ...] = ()
    unchanged: tuple[Entry, ...] = ()
    errors: tuple[str, ...] = ()
    ignores_settings: bool = False  # the file has an `assistant:` section (import skips it)

    @property
    def has_changes(self) -> bool:
        return bool(self.created or self.updated)

    @property
    def digest(self) -> str:
        """Fingerprint of the plan: applying checks the plan did not change since the preview."""
        plan = {
            "created": [_entry_values(e) | {"key": e.key} for e in self.created],
            "updated": [_entry_values(u.entry) | {"key": u.entry.key} for u in self.updated],
        }
        return hashlib.sha256(json.dumps(plan, sort_keys=True).encode()).hexdigest()[:32]


_ASSISTANT_SECTION = re.compile(r"^assistant\s*:", re.MULTILINE)


def knowledge_import_preview(*, workspace: Workspace, text: str) -> ImportPreview:
    """Validate the document and compare it with the workspace's entries; writes nothing."""
    try:
        document = parse_knowledge_yaml(text)
    except KnowledgeFormatError as error:
        return ImportPreview(errors=tuple(error.errors))
    existing = {
        row.key: row
        for row in KnowledgeEntry.objects.for_workspace(workspace).filter(
            key__in=[e.key for e in document.entries]
        )
    }
    created, updated, unchanged = [], [], []
    for entry in document.entries:
        row = existing.get(entry.key)
        if row is None:
            created.append(entry)
            continue
        changed = tuple(
            name for name, value in _entry_values(entry).items() if getattr(row, name) != value
        )
        if changed:
            updated.append(UpdatedEntry(entry=entry, fields=changed))
        else:
            unchanged.append(entry)
    return ImportPreview(
        created=tuple(created),
        updated=tuple(updated),
        unchanged=tuple(unchanged),
        ignores_settings=bool(_ASSISTANT_SECTION.search(text)),
    )


class KnowledgeImportChangedError(Exception):
    """The workspace's entries changed between the preview and the confirmation."""

    def __init__(self, preview: ImportPreview):
        self.preview = preview
        super().__init__("The knowledge base changed since the preview; review it again.")


@transaction.atomic
def knowledge_import_apply(
    *, workspace: Workspace, actor: AuditActor, text: str, expected_digest: str
) -> ImportResult:
    """Apply a previewed import in one transaction, audited.

    Raises `KnowledgeFormatError` when the document is invalid (nothing applied) and
    `KnowledgeImportChangedError` when what it would do is no longer what the admin confirmed.
    """
    # Serialise imports per workspace and hold the entries still until the import is applied,
    # so the plan checked here is what gets written.
    Workspace.objects.select_for_update().filter(pk=workspace.pk).first()
    list(KnowledgeEntry.objects.for_workspace(workspace).select_for_update().values_list("pk"))
    preview = knowledge_import_preview(workspace=workspace, text=text)
    if preview.errors:
        raise KnowledgeFormatError(list(preview.errors))
    if preview.digest != expected_digest:
        raise KnowledgeImportChangedError(preview)
    result = knowledge_import_yaml(workspace=workspace, text=text)
    if result.created or result.updated:
        audit_record(
            workspace=workspace,
            action=KNOWLEDGE_AUDIT_ACTION,
            actor=actor,
            target_label="knowledge base (YAML import)",
            details={
                "knowledge": "imported",
                "created": result.created,
                "updated": result.updated,
                "created_keys": [e.key for e in preview.created][:AUDIT_KEYS_LISTED],
                "updated_keys": [u.entry.key for u in preview.updated][:AUDIT_KEYS_LISTED],
            },
        )
    return result


# --- Knowledge: one entry at a time -------------------------------------------------------------

KEY_MAX = 64
TOPIC_MAX = 80
ANSWER_MAX = 4000  # the import format's limits (knowledge.py), so an edited entry exports
QUESTIONS_MAX = 500
QUESTION_MAX = 500  # characters; a longer "question" is a document, and drowns retrieval


class KnowledgeEntryError(ValueError):
    """The entry was refused; `errors` maps a field name to its problems, for the form."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__("; ".join(m for messages in errors.values() for m in messages))


def _entry_problems(*, topic: str, answer: str, questions: Sequence[str]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not topic:
        errors["topic"] = ["Enter a topic, e.g. contact or visa."]
    elif len(topic) > TOPIC_MAX:
        errors["topic"] = [f"Keep the topic to {TOPIC_MAX} characters ({len(topic)} now)."]
    if not answer:
        errors["answer"] = ["Enter the approved answer: the assistant says nothing else."]
    elif len(answer) > ANSWER_MAX:
        errors["answer"] = [f"Keep the answer to {ANSWER_MAX} characters ({len(answer)} now)."]
    if not questions:
        errors["questions"] = ["Enter at least one example question."]
    elif len(questions) > QUESTIONS_MAX:
        errors["questions"] = [f"At most {QUESTIONS_MAX} questions ({len(questions)} now)."]
    else:
        long = [n for n, q in enumerate(questions, start=1) if len(q) > QUESTION_MAX]
        if long:
            lines = ", ".join(str(n) for n in long[:5])
            errors["questions"] = [
                f"Keep each question to {QUESTION_MAX} characters (line {lines} is longer)."
            ]
    return errors


def _clean_questions(questions: Sequence[str]) -> list[str]:
    """Stripped, blank lines dropped, duplicates dropped (first kept)."""
    seen: dict[str, None] = {}
    for question in questions:
        question = question.strip()
        if question:
            seen.setdefault(question, None)
    return list(seen)


@transaction.atomic
def knowledge_entry_create(
    *,
    workspace: Workspace,
    actor: AuditActor,
    key: str,
    topic: str,
    answer: str,
    questions: Sequence[str],
    enabled: bool = True,
) -> KnowledgeEntry:
    key, topic, answer = key.strip(), topic.strip(), answer.strip()
    questions = _clean_questions(questions)
    errors = _entry_problems(topic=topic, answer=answer, questions=questions)
    if not ENTRY_ID.match(key):
        errors["key"] = [
            f"Use 1-{KEY_MAX} lowercase letters, digits, '-' or '_', starting with a letter or "
            "digit (e.g. office-hours)."
        ]
    elif KnowledgeEntry.objects.for_workspace(workspace).filter(key=key).exists():
        errors["key"] = [f"An entry with the key {key!r} already exists: choose another key."]
    if errors:
        raise KnowledgeEntryError(errors)
    try:
        with transaction.atomic():
            entry = KnowledgeEntry.objects.for_workspace(workspace).create(
                workspace=workspace,
                key=key,
                topic=topic,
                answer=answer,
                questions=questions,
                enabled=enabled,
            )
    except IntegrityError:  # created by someone else since the check above
        raise KnowledgeEntryError(
            {"key": [f"An entry with the key {key!r} already exists: choose another key."]}
        ) from None
    _audit_entry(entry, actor, "created", fields=["topic", "answer", "questions", "enabled"])
    return entry


@transaction.atomic
def knowledge_entry_update(
    *,
    entry: KnowledgeEntry,
    actor: AuditActor,
    topic: str,
    answer: str,
    questions: Sequence[str],
    enabled: bool,
) -> list[str]:
    """Save the entry's new values; returns the names of the fields that changed."""
    values = {
        "topic": topic.strip(),
        "answer": answer.strip(),
        "questions": _clean_questions(questions),
        "enabled": enabled,
    }
    errors = _entry_problems(
        topic=values["topic"], answer=values["answer"], questions=values["questions"]
    )
    if errors:
        raise KnowledgeEntryError(errors)
    changed = [name for name, value in values.items() if getattr(entry, name) != value]
    if not changed:
        return []
    for name in changed:
        setattr(entry, name, values[name])
    entry.save(update_fields=[*changed, "updated_at"])
    _audit_entry(entry, actor, "updated", fields=changed)
    return changed


@transaction.atomic
def knowledge_entry_enabled_set(*, entry: KnowledgeEntry, actor: AuditActor, enabled: bool) -> bool:
    """Enable or disable the entry; returns whether anything changed."""
    if entry.enabled == enabled:
        return False
    entry.enabled = enabled
    entry.save(update_fields=["enabled", "updated_at"])
    _audit_entry(entry, actor, "enabled" if enabled else "disabled", fields=["enabled"])
    return True


@transaction.atomic
def knowledge_entry_delete(*, entry: KnowledgeEntry, actor: AuditActor) -> None:
    # Drafts keep the keys of the entries they used (plain strings), so history survives.
    _audit_entry(entry, actor, "deleted", fields=[], details={"topic": entry.topic})
    entry.delete()


def _audit_entry(
    entry: KnowledgeEntry,
    actor: AuditActor,
    what: str,
    *,
    fields: list[str],
    details: dict | None = None,
) -> None:
    audit_record(
        workspace=entry.workspace,
        action=KNOWLEDGE_AUDIT_ACTION,
        actor=actor,
        target=entry,
        target_label=f"knowledge entry {entry.key}",
        details={"knowledge": what, "key": entry.key, "fields": fields, **(details or {})},
    )


def knowledge_entry_list(
    *, workspace: Workspace, search: str = "", topic: str = ""
) -> QuerySet[KnowledgeEntry]:
    """The knowledge page's rows: every entry, optionally searched and filtered by topic."""
    queryset = KnowledgeEntry.objects.for_workspace(workspace)
    if topic:
        queryset = queryset.filter(topic=topic)
    for word in search.split()[:8]:
        queryset = queryset.filter(
            Q(key__icontains=word)
            | Q(topic__icontains=word)
            | Q(answer__icontains=word)
            | Q(questions__icontains=word)
        )
    return queryset.order_by("topic", "key", "pk")


def knowledge_topic_list(*, workspace: Workspace) -> list[str]:
    return list(
        KnowledgeEntry.objects.for_workspace(workspace)
        .order_by("topic")
        .values_list("topic", flat=True)
        .distinct()
    )


# --- Configuration ------------------------------------------------------------------------------

# Settings the form edits; `kill_switch` has its own button (it must take one click).
FORM_FIELDS = tuple(name for name in EDITABLE_FIELDS if name != "kill_switch")


def assistant_config_save(
    *,
    workspace: Workspace,
    actor: AuditActor,
    values: dict[str, Any],
    base_version: int | None,
    confirmed: bool = False,
) -> AssistantConfig | None:
    """Save what the admin changed on the form as the next version; None when nothing changed.

    Only the fields that differ from the version the form was loaded from (`base_version`) are
    sent, so two admins editing different settings at once do not undo each other's changes.
    Raises what `assistant_config_update` raises (`AssistantConfigError`,
    `ConfirmationRequiredError`).
    """
    configs = AssistantConfig.objects.for_workspace(workspace)
    base = configs.filter(version=base_version).first() if base_version else None
    base = base or assistant_config_current(workspace=workspace)
    changes = {name: value for name, value in values.items() if getattr(base, name) != value}
    if not changes:
        return None
    return assistant_config_update(workspace=workspace, actor=actor, confirmed=confirmed, **changes)


def assistant_kill_switch_set(
    *, workspace: Workspace, actor: AuditActor, on: bool
) -> AssistantConfig | None:
    """Turn the assistant off (on=True) or back on for the whole workspace, from the next
    message; None when it already was. Audited as a configuration change like any other."""
    if assistant_config_current(workspace=workspace).kill_switch == on:
        return None
    return assistant_config_update(workspace=workspace, actor=actor, kill_switch=on)


@dataclass(frozen=True)
class FieldChange:
    name: str
    before: Any
    after: Any

    @property
    def added(self) -> list:
        if isinstance(self.before, list) and isinstance(self.after, list):
            return [item for item in self.after if item not in self.before]
        return []

    @property
    def removed(self) -> list:
        if isinstance(self.before, list) and isinstance(self.after, list):
            return [item for item in self.before if item not in self.after]
        return []

    @property
    def is_list(self) -> bool:
        return isinstance(self.before, list) and isinstance(self.after, list)

    @property
    def is_long_text(self) -> bool:
        return any(isinstance(v, str) and len(v) > 60 for v in (self.before, self.after))


@dataclass(frozen=True)
class ConfigVersion:
    config: AssistantConfig
    changes: list[FieldChange] = field(default_factory=list)
    is_first: bool = False


def assistant_config_history(*, workspace: Workspace, limit: int = 20) -> list[ConfigVersion]:
    """The newest `limit` versions, each with what it changed from the one before (one query)."""
    rows = list(
        AssistantConfig.objects.for_workspace(workspace)
        .select_related("created_by")
        .order_by("-version")[: limit + 1]
    )
    history = []
    for index, config in enumerate(rows[:limit]):
        previous = rows[index + 1] if index + 1 < len(rows) else None
        if previous is None:
            history.append(ConfigVersion(config=config, is_first=config.version == 1))
            continue
        changes = [
            FieldChange(name=name, before=getattr(previous, name), after=getattr(config, name))
            for name in EDITABLE_FIELDS
            if getattr(previous, name, None) != getattr(config, name, None)
        ]
        history.append(ConfigVersion(config=config, changes=changes))
    return history
