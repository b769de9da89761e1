"""Versioned assistant configuration: every change is a new `AssistantConfig` row.

`assistant_config_current` is what the worker reads for each message, so a change applies from
the next message without a restart. A new workspace gets a review-all version on first use.
Moving to sampled or autonomous (drafts reach customers without a human looking at each one)
needs `confirmed=True`, which the UI sets only after an admin's explicit confirmation.
"""

from __future__ import annotations

import re
from typing import Any

from django.db import IntegrityError, transaction

from chatdesk.assistant.conf import MAX_TEMPERATURE, AssistantSettings
from chatdesk.assistant.hours import timezone_name_valid
from chatdesk.assistant.models import AssistantConfig, AssistantMode
from chatdesk.audit.models import AuditAction
from chatdesk.audit.services import AuditActor, audit_record
from chatdesk.tenancy.models import Workspace

EDITABLE_FIELDS = (
    "name",
    "persona",
    "allowed_topics",
    "forbidden_topics",
    "threshold",
    "mode",
    "sample_every",
    "holding_message",
    "business_hours",
    "after_hours_message",
    "review_timeout_minutes",
    "temperature",
    "max_reply_chars",
    "use_first_name",
    "kill_switch",
)
UNSUPERVISED_MODES = (AssistantMode.SAMPLED, AssistantMode.AUTONOMOUS)
MAX_SAMPLE_EVERY = 1000
MAX_REVIEW_TIMEOUT_MINUTES = 1440
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class AssistantConfigError(ValueError):
    """A configuration change was refused; `errors` names every problem, for the form."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("; ".join(errors))


class ConfirmationRequiredError(AssistantConfigError):
    """Sampled and autonomous modes send drafts no human has read: an admin must confirm."""


def assistant_config_current(*, workspace: Workspace) -> AssistantConfig:
    """The newest version; a workspace without one gets a default review-all version 1."""
    current = AssistantConfig.objects.for_workspace(workspace).order_by("-version").first()
    if current is not None:
        return current
    try:
        with transaction.atomic():
            return AssistantConfig.objects.for_workspace(workspace).create(
                workspace=workspace, version=1
            )
    except IntegrityError:  # another worker created it first
        return AssistantConfig.objects.for_workspace(workspace).order_by("-version").first()


def assistant_settings(*, config: AssistantConfig) -> AssistantSettings:
    """The value object `assistant_decide` reads."""
    return config.to_settings()


@transaction.atomic
def assistant_config_update(
    *, workspace: Workspace, actor: AuditActor, confirmed: bool = False, **changes: Any
) -> AssistantConfig:
    """Create the next version with `changes` applied; validated as a whole and audited.

    Raises `AssistantConfigError` (every problem listed) for bad values or unknown fields, and
    `ConfirmationRequiredError` when moving to sampled or autonomous without `confirmed=True`.
    """
    # Serialise versions per workspace: two admins saving at once get v2 and v3, not a clash.
    Workspace.objects.select_for_update().filter(pk=workspace.pk).first()
    current = assistant_config_current(workspace=workspace)
    unknown = sorted(set(changes) - set(EDITABLE_FIELDS))
    if unknown:
        raise AssistantConfigError([f"unknown setting: {name}" for name in unknown])
    values = {name: getattr(current, name) for name in EDITABLE_FIELDS}
    values.update(_normalise(changes))
    errors = _validate(values)
    if errors:
        raise AssistantConfigError(errors)
    if values["mode"] in UNSUPERVISED_MODES and values["mode"] != current.mode and not confirmed:
        label = AssistantMode(values["mode"]).label.lower()
        raise ConfirmationRequiredError(
            [
                f"Switching to {label} mode sends assistant replies that no human has reviewed; "
                "an admin must confirm this change explicitly."
            ]
        )
    changed = [name for name in EDITABLE_FIELDS if values[name] != getattr(current, name)]
    config = AssistantConfig.objects.for_workspace(workspace).create(
        workspace=workspace,
        version=current.version + 1,
        created_by=actor.user,
        **values,
    )
    audit_record(
        workspace=workspace,
        action=AuditAction.ASSISTANT_CONFIG_CHANGED,
        actor=actor,
        target=config,
        details={
            "version": config.version,
            "fields": changed,
            **{
                name: {"from": getattr(current, name), "to": values[name]}
                for name in changed
                if name not in ("persona", "holding_message", "after_hours_message")  # long texts
            },
        },
    )
    return config


def _normalise(changes: dict[str, Any]) -> dict[str, Any]:
    out = dict(changes)
    for name in ("allowed_topics", "forbidden_topics"):
        if name in out and isinstance(out[name], str):
            out[name] = [t for t in (p.strip() for p in out[name].split(",")) if t]
        if name in out and isinstance(out[name], (list, tuple)):
            out[name] = [str(t).strip() for t in out[name] if str(t).strip()]
    for name in ("name", "persona", "holding_message", "after_hours_message"):
        if name in out and isinstance(out[name], str):
            out[name] = out[name].strip()
    return out


def _validate(values: dict[str, Any]) -> list[str]:
    errors = []
    if not isinstance(values["name"], str) or not values["name"] or len(values["name"]) > 80:
        errors.append("name must be 1 to 80 characters")
    for name in ("allowed_topics", "forbidden_topics"):
        if not isinstance(values[name], list):
            errors.append(f"{name} must be a list of topic names")
    if values["mode"] not in AssistantMode.values:
        errors.append(f"mode must be one of {', '.join(AssistantMode.values)}")
    sample = values["sample_every"]
    if (
        not isinstance(sample, int)
        or isinstance(sample, bool)
        or not 2 <= sample <= MAX_SAMPLE_EVERY
    ):
        errors.append(f"sample_every must be a whole number from 2 to {MAX_SAMPLE_EVERY}")
    for name in ("threshold", "temperature"):
        if not isinstance(values[name], (int, float)) or isinstance(values[name], bool):
            errors.append(f"{name} must be a number")
    if isinstance(values["temperature"], (int, float)) and not (
        0 <= values["temperature"] <= MAX_TEMPERATURE
    ):
        errors.append(f"temperature must be between 0 and {MAX_TEMPERATURE}")
    if isinstance(values["threshold"], (int, float)) and not 0 <= values["threshold"] <= 1:
        errors.append("threshold must be between 0 and 1")
    cap = values["max_reply_chars"]
    if not isinstance(cap, int) or isinstance(cap, bool) or not 20 <= cap <= 4096:
        errors.append("max_reply_chars must be a whole number from 20 to 4096")
    for name in ("use_first_name", "kill_switch"):
        if not isinstance(values[name], bool):
            errors.append(f"{name} must be true or false")
    for name in ("holding_message", "after_hours_message"):
        if not isinstance(values[name], str) or len(values[name]) > 1000:
            errors.append(f"{name} must be at most 1000 characters")
    timeout = values["review_timeout_minutes"]
    if (
        not isinstance(timeout, int)
        or isinstance(timeout, bool)
        or not 1 <= timeout <= MAX_REVIEW_TIMEOUT_MINUTES
    ):
        errors.append(
            f"review_timeout_minutes must be a whole number from 1 to {MAX_REVIEW_TIMEOUT_MINUTES}"
        )
    errors.extend(_business_hours_errors(values["business_hours"]))
    return errors


def _business_hours_errors(hours: Any) -> list[str]:
    if hours in ({}, None):
        return [] if hours == {} else ["business_hours must be an object ({} means always)"]
    if not isinstance(hours, dict) or set(hours) - {"days", "start", "end", "timezone"}:
        return [
            'business_hours must look like {"days": [0, 1, 2, 3, 4], "start": "08:00", '
            '"end": "17:00", "timezone": "Asia/Jakarta"} (timezone optional)'
        ]
    errors = []
    days = hours.get("days")
    if not isinstance(days, list) or not days or any(d not in range(7) for d in days):
        errors.append("business_hours.days must list weekdays 0 (Monday) to 6 (Sunday)")
    for key in ("start", "end"):
        if not isinstance(hours.get(key), str) or not _TIME.match(hours[key]):
            errors.append(f"business_hours.{key} must be a time like 08:30")
    if "timezone" in hours and not timezone_name_valid(hours["timezone"]):
        errors.append("business_hours.timezone must be a time zone name like Asia/Jakarta")
    if not errors and hours["start"] >= hours["end"]:
        errors.append("business_hours.start must be before business_hours.end")
    return errors
