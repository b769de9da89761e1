"""Configuration checks: Django system checks (ids chatdesk.E001 ...) and the check-env checklist.

Each `Problem` that `load_environment()` found when the settings were read becomes one
`checks.Error` with id `chatdesk.<code>`: the message names the variable and what is wrong, the
hint is the fix. Neither ever carries a secret's value (see `chatdesk.config.env`).

Both checks are registered without `deploy=True`, so `chatdesk check` and `chatdesk check --deploy`
list them alike: invalid values are problems in every mode, and production problems only exist
when APP_ENV=production, where a plain `chatdesk check` saying "no issues" while the process
refuses to start would be a trap.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import Enum
from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks
from pydantic import SecretStr

from chatdesk.config import env
from chatdesk.config.env import (
    DEV_ENCRYPTION_KEY,
    DEV_SECRET_KEY,
    E_MISSING,
    AppSettings,
    Environment,
    Problem,
    mask,
    mask_url,
)

TAG = "chatdesk_config"
# Every id these checks can emit; `chatdesk preflight` lists configuration problems on their own
# lines and skips these ids among the system checks so nothing is reported twice.
CONFIG_CHECK_IDS = frozenset(
    f"chatdesk.{code}"
    for code in (
        env.E_MISSING,
        env.E_DEBUG,
        env.E_WEAK_SECRET,
        env.E_LOCAL_URL,
        env.E_SQLITE,
        env.E_DEV_FEATURE,
        env.E_INVALID,
        env.E_HOSTS,
    )
)


def problem_to_error(problem: Problem) -> checks.Error:
    return checks.Error(
        f"{problem.variable}: {problem.message}",
        hint=f"{problem.fix[:1].upper()}{problem.fix[1:]}.",
        id=f"chatdesk.{problem.code}",
    )


def _problems() -> list[Problem]:
    return list(getattr(settings, "CHATDESK_CONFIG_PROBLEMS", []))


@checks.register(TAG)
def check_invalid_values(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Malformed values, in every mode (the process was started with them dropped)."""
    return [problem_to_error(p) for p in _problems() if p.invalid]


@checks.register(TAG)
def check_production_rules(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Missing, development-only or unsafe values; `load_environment` finds them in production."""
    return [problem_to_error(p) for p in _problems() if not p.invalid]


# The checklist printed by `chatdesk check-env`: one row per declared variable.

OK = "ok"
DEFAULT = "default"
NOT_SET = "not set (optional)"
MISSING = "missing"
INVALID = "invalid"
PROBLEM = "problem"
STATUSES = (OK, DEFAULT, NOT_SET, MISSING, INVALID, PROBLEM)

# Variables whose unset value is replaced by a development default (an AppSettings property).
EFFECTIVE_DEFAULTS = {
    "DEBUG": "debug",
    "SECRET_KEY": "secret_key",
    "DATABASE_URL": "database_url",
    "APP_BASE_URL": "base_url",
    "ALLOWED_HOSTS": "allowed_hosts",
    "ENCRYPTION_KEYS": "encryption_keys",
    "EMAIL_PROVIDER": "email_provider",
    "DEFAULT_FROM_EMAIL": "from_email",
    "LOG_FORMAT": "log_format",
}
# Development defaults that are secrets in form only: they are public (in the source), but a
# checklist that prints key material teaches the wrong habit, so they are described instead.
PUBLIC_DEV_SECRETS = {DEV_SECRET_KEY: "development key", DEV_ENCRYPTION_KEY: "development key"}


@dataclass(frozen=True)
class ProblemRow:
    code: str
    message: str
    fix: str


@dataclass(frozen=True)
class VariableRow:
    name: str
    status: str
    value: str
    description: str
    problems: list[ProblemRow] = field(default_factory=list)


@dataclass(frozen=True)
class Checklist:
    app_env: str
    rows: list[VariableRow]

    @property
    def problem_count(self) -> int:
        return sum(len(row.problems) for row in self.rows)

    @property
    def production_ready(self) -> bool:
        return self.app_env == "production" and self.problem_count == 0

    @property
    def verdict(self) -> str:
        if self.problem_count:
            return f"NOT production-ready: {self.problem_count} problem(s) to fix (listed above)"
        if self.app_env != "production":
            return (
                f"not production-ready: APP_ENV is {self.app_env} (the production rules apply "
                "only with APP_ENV=production; run check-env with the production variables)"
            )
        return "production-ready: every variable is valid for production"

    def counts(self) -> dict[str, int]:
        return {status: sum(row.status == status for row in self.rows) for status in STATUSES}


def build_checklist(environment: Environment) -> Checklist:
    app_settings = environment.settings
    rows = []
    for name, info in AppSettings.model_fields.items():
        problems = environment.problems_for(name)
        provided = name in environment.provided
        status = _status(name, problems, provided, app_settings)
        rows.append(
            VariableRow(
                name=name,
                status=status,
                value=_display(name, status, provided, app_settings),
                description=info.description or "",
                problems=[ProblemRow(p.code, p.message, p.fix) for p in problems],
            )
        )
    # Problems not tied to a declared variable (none today) must still be counted and shown.
    declared = set(AppSettings.model_fields)
    stray = [p for p in environment.problems if p.variable not in declared]
    for problem in stray:
        rows.append(
            VariableRow(
                name=problem.variable,
                status=INVALID if problem.invalid else PROBLEM,
                value="",
                description="",
                problems=[ProblemRow(problem.code, problem.message, problem.fix)],
            )
        )
    return Checklist(app_env=app_settings.APP_ENV.value, rows=rows)


def _status(name: str, problems, provided: bool, app_settings: AppSettings) -> str:
    if any(p.invalid for p in problems):
        return INVALID
    if any(p.code == E_MISSING for p in problems):
        return MISSING
    if problems:
        return PROBLEM
    if provided:
        return OK
    if name in EFFECTIVE_DEFAULTS or getattr(app_settings, name) not in (None, []):
        return DEFAULT
    return NOT_SET


def _display(name: str, status: str, provided: bool, app_settings: AppSettings) -> str:
    if status == INVALID:
        return "(rejected)"
    if provided:
        return _show(getattr(app_settings, name))
    if name in EFFECTIVE_DEFAULTS:
        value = getattr(app_settings, EFFECTIVE_DEFAULTS[name])
        if status == MISSING:
            return ""
        shown = _show(value)
        return shown or "(empty)"
    return _show(getattr(app_settings, name))


def _show(value: object) -> str:
    """A value as the checklist prints it: secrets masked, URL passwords and queries hidden."""
    if value is None:
        return ""
    if isinstance(value, SecretStr):
        secret = value.get_secret_value()
        parts = [part.strip() for part in secret.split(",") if part.strip()]
        return ", ".join(_mask_secret(part) for part in parts)
    if isinstance(value, list):
        return ", ".join(_show(item) for item in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return str(value.value)
    text = str(value)
    if text in PUBLIC_DEV_SECRETS:
        return PUBLIC_DEV_SECRETS[text]
    return mask_url(text) if "://" in text else text


def _mask_secret(secret: str) -> str:
    if secret in PUBLIC_DEV_SECRETS:
        return PUBLIC_DEV_SECRETS[secret]
    parts = urlsplit(secret)
    if parts.scheme in {"http", "https"} and parts.hostname:
        # A secret URL (webhook, DSN): the host helps recognise it, the rest stays hidden.
        return f"{parts.scheme}://{parts.hostname}/{mask(secret)}"
    return mask(secret)


def render_text(checklist: Checklist) -> str:
    width = max(len(row.name) for row in checklist.rows)
    status_width = max(len(status) for status in STATUSES)
    lines = [f"chatdesk environment checklist (APP_ENV={checklist.app_env})", ""]
    for row in checklist.rows:
        lines.append(f"  {row.name:<{width}}  {row.status:<{status_width}}  {row.value}".rstrip())
        for problem in row.problems:
            lines.append(f"      [{problem.code}] {row.name}: {problem.message}")
            lines.append(f"          fix: {problem.fix}")
    counts = checklist.counts()
    summary = ", ".join(f"{counts[status]} {status}" for status in STATUSES)
    lines += [
        "",
        f"{len(checklist.rows)} variables: {summary}; {checklist.problem_count} problem(s).",
        checklist.verdict,
    ]
    return "\n".join(lines)


def render_json(checklist: Checklist) -> str:
    document = {
        "app_env": checklist.app_env,
        "production_ready": checklist.production_ready,
        "verdict": checklist.verdict,
        "problem_count": checklist.problem_count,
        "summary": checklist.counts(),
        "variables": [asdict(row) for row in checklist.rows],
    }
    return json.dumps(document, indent=2, ensure_ascii=False)
