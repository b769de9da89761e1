"""The one reader of the process environment.

Every setting chatdesk reads from the environment is declared in `AppSettings`. Django settings,
the CLI, the worker and the checks all take their values from `load_environment()`, so a variable
that is not declared here does not exist for the application.

Validation has two layers:
- *invalid* values (a malformed URL, a non-integer timeout, a bad Fernet key) are problems in every
  mode; the process refuses to start with a list of them instead of a traceback;
- *production* rules (required variables, no DEBUG, no development secrets, no localhost/http URLs,
  no SQLite, no development-only features) are problems only when `APP_ENV=production`.

Problems never carry a secret's value: they name the variable, say what is wrong and how to fix it.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

PROJECT_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_VAR_DIR = PROJECT_ROOT / "var"

# Development-only defaults. Production rejects each of them by value, so copying a development
# .env into production cannot go unnoticed.
DEV_SECRET_KEY = "django-insecure-chatdesk-development-only-key-do-not-deploy-0000000000"
DEV_ENCRYPTION_KEY = base64.urlsafe_b64encode(
    hashlib.sha256(b"chatdesk development-only encryption key").digest()
).decode()
DEV_BASE_URL = "http://localhost:8000"
DEV_FROM_EMAIL = "chatdesk <noreply@chatdesk.localhost>"


class AppEnv(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class EmailProvider(StrEnum):
    CONSOLE = "console"  # prints mail to stdout: development only
    MEMORY = "memory"  # Django's locmem outbox: tests only
    RESEND = "resend"  # through django-anymail


class AssistantRetriever(StrEnum):
    LEXICAL = "lexical"  # bm25s + typo tolerance, always installed
    EMBEDDINGS = "embeddings"  # the packaged MiniLM (optional extra `embeddings`)
    OPENAI = "openai"  # EMBEDDINGS_MODEL on the OpenAI-compatible LLM endpoint


class LogFormat(StrEnum):
    JSON = "json"
    TEXT = "text"


CommaList = Annotated[list[str], NoDecode]


def _split_commas(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class AppSettings(BaseSettings):
    """Declared environment. Field descriptions are shown by `chatdesk check-env`."""

    model_config = SettingsConfigDict(
        case_sensitive=True, extra="ignore", validate_default=True, env_ignore_empty=True
    )

    APP_ENV: AppEnv = Field(AppEnv.DEVELOPMENT, description="development, test or production")
    DEBUG: bool | None = Field(None, description="Django debug pages; never on in production")
    SECRET_KEY: SecretStr | None = Field(None, description="Django signing key, 50+ random chars")
    DATABASE_URL: str | None = Field(
        None, description="postgres://user:pass@host:5432/db (SQLite file in development)"
    )
    REDIS_URL: str | None = Field(None, description="redis://host:6379/0, shared limits and cache")
    APP_BASE_URL: str | None = Field(None, description="public https URL; webhook URLs derive it")
    ALLOWED_HOSTS: CommaList = Field(
        default_factory=list, description="comma-separated host names served"
    )
    CSRF_TRUSTED_ORIGINS: CommaList = Field(
        default_factory=list, description="extra trusted origins (APP_BASE_URL is always trusted)"
    )
    ENCRYPTION_KEYS: SecretStr | None = Field(
        None, description="comma-separated Fernet keys for secrets at rest; first is current"
    )
    EMAIL_PROVIDER: EmailProvider | None = Field(
        None, description="console (development), memory (tests) or resend"
    )
    RESEND_API_KEY: SecretStr | None = Field(None, description="Resend API key (re_...)")
    DEFAULT_FROM_EMAIL: str | None = Field(None, description="sender of invitations and resets")
    LLM_BASE_URL: str | None = Field(None, description="OpenAI-compatible endpoint (optional)")
    LLM_API_KEY: SecretStr | None = Field(None, description="LLM API key (optional)")
    LLM_MODEL: str | None = Field(None, description="LLM model name (optional)")
    LLM_TIMEOUT_SECONDS: int = Field(15, ge=1, le=120, description="LLM call timeout, seconds")
    EMBEDDINGS_MODEL: str | None = Field(
        None, description="embeddings model on the LLM endpoint, for ASSISTANT_RETRIEVER=openai"
    )
    ASSISTANT_RETRIEVER: AssistantRetriever = Field(
        AssistantRetriever.LEXICAL,
        description="assistant scope gate: lexical, embeddings (extra) or openai (endpoint)",
    )
    WEBHOOK_EVENT_RETENTION_DAYS: int = Field(
        30, ge=1, le=3650, description="days raw webhook events are kept for replay and audit"
    )
    INBOUND_RECONCILE_AFTER_SECONDS: int = Field(
        120, ge=10, le=86400, description="re-enqueue inbound messages unprocessed after this"
    )
    WHATSAPP_GRAPH_BASE_URL: str = Field(
        "https://graph.facebook.com", description="Meta Graph API base URL"
    )
    WHATSAPP_GRAPH_API_VERSION: str = Field("v24.0", description="Meta Graph API version")
    KAPSO_API_BASE_URL: str = Field("https://api.kapso.ai", description="Kapso API base URL")
    SENTRY_DSN: SecretStr | None = Field(None, description="Sentry DSN (optional)")
    ALERT_SLACK_WEBHOOK_URL: SecretStr | None = Field(
        None, description="Slack incoming webhook for alerts (optional)"
    )
    METRICS_TOKEN: SecretStr | None = Field(None, description="bearer token for /metrics")
    OIDC_SERVER_URL: str | None = Field(None, description="OpenID Connect issuer URL (optional)")
    OIDC_CLIENT_ID: str | None = Field(None, description="OpenID Connect client id")
    OIDC_CLIENT_SECRET: SecretStr | None = Field(None, description="OpenID Connect client secret")
    OIDC_PROVIDER_NAME: str = Field("Single sign-on", description="label on the login button")
    GOOGLE_CLIENT_ID: str | None = Field(None, description="Google login client id (optional)")
    GOOGLE_CLIENT_SECRET: SecretStr | None = Field(None, description="Google login secret")
    LOG_LEVEL: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR")
    LOG_FORMAT: LogFormat | None = Field(None, description="json (production default) or text")
    SIMULATOR_ENABLED: bool = Field(
        False, description="development only: route provider calls to the local simulator"
    )
    SIMULATOR_URL: str = Field(
        "http://127.0.0.1:8025", description="where the development simulator listens"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only the mapping `load_environment()` passes in: pydantic-settings would otherwise also
        # read os.environ on every build, so a variable dropped as invalid (or absent from a test's
        # mapping) would come back from the process environment.
        return (init_settings,)

    @field_validator("ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", mode="before")
    @classmethod
    def _comma_lists(cls, value: Any) -> Any:
        return _split_commas(value)

    @field_validator(
        "APP_BASE_URL",
        "LLM_BASE_URL",
        "WHATSAPP_GRAPH_BASE_URL",
        "KAPSO_API_BASE_URL",
        "OIDC_SERVER_URL",
        "SIMULATOR_URL",
    )
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        check_http_url(value)
        return value.rstrip("/")

    @field_validator("ALERT_SLACK_WEBHOOK_URL")
    @classmethod
    def _secret_http_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_http_url(value.get_secret_value(), show_value=False)
        return value

    @field_validator("DATABASE_URL")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        scheme = urlsplit(value).scheme
        if scheme not in {"postgres", "postgresql", "pgsql", "sqlite"}:
            raise ValueError("must start with postgres:// or sqlite:// (got another scheme)")
        return value

    @field_validator("REDIS_URL")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in {"redis", "rediss"}:
            raise ValueError("must start with redis:// or rediss://")
        return value

    @field_validator("ENCRYPTION_KEYS")
    @classmethod
    def _fernet_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        keys = _split_commas(value.get_secret_value())
        if not keys:
            raise ValueError("must hold at least one Fernet key")
        for position, key in enumerate(keys, start=1):
            try:
                Fernet(key)
            except ValueError:
                raise ValueError(
                    f"key #{position} is not a valid Fernet key (32 url-safe base64-encoded "
                    "bytes); generate one with `chatdesk generate-key`"
                ) from None
        return value

    @field_validator("LOG_LEVEL")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level

    # Effective values: development and test get safe defaults, production gets nothing implicit.

    @property
    def is_production(self) -> bool:
        return self.APP_ENV is AppEnv.PRODUCTION

    @property
    def debug(self) -> bool:
        if self.DEBUG is not None:
            return self.DEBUG
        return self.APP_ENV is AppEnv.DEVELOPMENT

    @property
    def secret_key(self) -> str:
        return self.SECRET_KEY.get_secret_value() if self.SECRET_KEY else DEV_SECRET_KEY

    @property
    def database_url(self) -> str:
        return self.DATABASE_URL or f"sqlite:///{DEFAULT_VAR_DIR / 'chatdesk.sqlite3'}"

    @property
    def base_url(self) -> str:
        return self.APP_BASE_URL or DEV_BASE_URL

    @property
    def allowed_hosts(self) -> list[str]:
        if self.ALLOWED_HOSTS:
            return self.ALLOWED_HOSTS
        if self.is_production:
            return []
        return ["localhost", "127.0.0.1", "[::1]", "testserver"]

    @property
    def encryption_keys(self) -> list[str]:
        if self.ENCRYPTION_KEYS:
            return _split_commas(self.ENCRYPTION_KEYS.get_secret_value())
        return [DEV_ENCRYPTION_KEY]

    @property
    def email_provider(self) -> EmailProvider:
        if self.EMAIL_PROVIDER:
            return self.EMAIL_PROVIDER
        if self.APP_ENV is AppEnv.TEST:
            return EmailProvider.MEMORY
        if self.RESEND_API_KEY:
            return EmailProvider.RESEND
        return EmailProvider.CONSOLE

    @property
    def from_email(self) -> str:
        return self.DEFAULT_FROM_EMAIL or DEV_FROM_EMAIL

    @property
    def log_format(self) -> LogFormat:
        if self.LOG_FORMAT:
            return self.LOG_FORMAT
        return LogFormat.JSON if self.is_production else LogFormat.TEXT

    @property
    def rate_limit_storage_uri(self) -> str:
        """`limits` storage: Redis when configured, else process memory (refused in production)."""
        return self.REDIS_URL or "memory://"

    def secret_values(self) -> list[str]:
        """Every configured secret, for the log redaction filter. Never log this list."""
        values: list[str] = []
        for name in SECRET_FIELDS:
            value = getattr(self, name)
            if value is not None:
                values.extend(_split_commas(value.get_secret_value()) or [])
        values.append(self.secret_key)
        values.extend(self.encryption_keys)
        for url in (self.DATABASE_URL, self.REDIS_URL):
            password = urlsplit(url).password if url else None
            if password:
                values.append(password)
        return [v for v in dict.fromkeys(values) if len(v) >= 6]


SECRET_FIELDS = tuple(
    name
    for name, info in AppSettings.model_fields.items()
    if info.annotation in (SecretStr, SecretStr | None)
)
URL_FIELDS_CHECKED_IN_PRODUCTION = (
    "APP_BASE_URL",
    "LLM_BASE_URL",
    "WHATSAPP_GRAPH_BASE_URL",
    "KAPSO_API_BASE_URL",
    "ALERT_SLACK_WEBHOOK_URL",
)


def check_http_url(value: str, *, show_value: bool = True) -> None:
    parts = urlsplit(value)
    # A URL can carry credentials (https://user:password@host): those are masked even here.
    echoed = mask_url(value) if parts.password else value
    shown = f" (got {echoed!r})" if show_value else ""
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"must be an absolute http(s) URL like https://example.com{shown}")
    try:
        parts.port  # noqa: B018 - raises on a non-numeric port
    except ValueError:
        raise ValueError(f"has an invalid port{shown}") from None


def is_local_host(host: str | None) -> bool:
    if not host:
        return True
    host = host.strip("[]").lower().rstrip(".")
    if host in {"localhost", "0.0.0.0"} or host.endswith((".localhost", ".local")):  # noqa: S104
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        try:
            # Shorthand IPv4 forms that resolvers accept: 127.1, 2130706433, 0x7f000001.
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return False
    return address.is_loopback or address.is_unspecified


@dataclass(frozen=True)
class Problem:
    """One reason the configuration is not acceptable. `code` is the system check id suffix."""

    variable: str
    message: str
    fix: str
    code: str
    invalid: bool = False  # invalid in every mode, not only in production

    def render(self) -> str:
        return f"{self.variable}: {self.message}. Fix: {self.fix}"


# Problem codes double as Django system check ids (chatdesk.E001 ...).
E_MISSING = "E001"
E_DEBUG = "E002"
E_WEAK_SECRET = "E003"
E_LOCAL_URL = "E004"
E_SQLITE = "E005"
E_DEV_FEATURE = "E006"
E_INVALID = "E007"
E_HOSTS = "E008"


@dataclass
class Environment:
    """The validated settings plus every problem found reading them."""

    settings: AppSettings
    problems: list[Problem] = field(default_factory=list)
    provided: frozenset[str] = frozenset()

    @property
    def invalid(self) -> list[Problem]:
        return [p for p in self.problems if p.invalid]

    @property
    def blocking(self) -> list[Problem]:
        """Problems that stop the web server, the worker and management commands."""
        return self.problems if self.settings.is_production else self.invalid

    def problems_for(self, variable: str) -> list[Problem]:
        return [p for p in self.problems if p.variable == variable]


class ConfigurationError(Exception):
    """Raised when a process must not start. The message lists every problem, no secrets."""

    def __init__(self, problems: list[Problem], app_env: str):
        self.problems = problems
        lines = [f"chatdesk cannot start: {len(problems)} configuration problem(s) ({app_env}):"]
        lines += [f"  - [{p.code}] {p.render()}" for p in problems]
        lines.append("Run `chatdesk check-env` for the full checklist; see .env.example.")
        super().__init__("\n".join(lines))


def load_environment(environ: Mapping[str, str] | None = None) -> Environment:
    """Read and validate the environment. Never raises for bad values: it reports them."""
    source = dict(os.environ if environ is None else environ)
    declared = set(AppSettings.model_fields)
    provided = frozenset(k for k in declared if source.get(k, "").strip())
    problems: list[Problem] = []
    bad: set[str] = set()
    try:
        settings = _build(source)
    except ValidationError as exc:
        for error in exc.errors():
            variable = str(error["loc"][0]) if error["loc"] else "environment"
            bad.add(variable)
            problems.append(
                Problem(
                    variable=variable,
                    message=_describe_validation_error(variable, error),
                    fix=f"set {variable} to a valid value (see .env.example) or unset it",
                    code=E_INVALID,
                    invalid=True,
                )
            )
        # Re-read without the broken variables so the checklist can still show everything else.
        settings = _build({k: v for k, v in source.items() if k not in bad})
    problems += [p for p in retriever_problems(settings) if p.variable not in bad]
    if settings.is_production:
        # A variable already reported invalid was read as unset: its production rules would
        # judge the development default instead (e.g. "contains the development key").
        problems += [p for p in production_problems(settings, provided) if p.variable not in bad]
    return Environment(settings=settings, problems=problems, provided=provided)


def retriever_problems(settings: AppSettings) -> list[Problem]:
    """What the chosen ASSISTANT_RETRIEVER needs; missing, every message would escalate."""
    problems: list[Problem] = []
    if settings.ASSISTANT_RETRIEVER is AssistantRetriever.EMBEDDINGS:
        # Imported only when chosen: the check looks for the extra's packages and model.
        from chatdesk.assistant.embeddings import INSTALL_HINT, missing

        reason = missing()
        if reason:
            problems.append(
                Problem(
                    "ASSISTANT_RETRIEVER",
                    f"is embeddings but the optional extra is not installed ({reason})",
                    f"install it: {INSTALL_HINT}; or set ASSISTANT_RETRIEVER=lexical",
                    E_INVALID,
                    invalid=True,
                )
            )
    elif settings.ASSISTANT_RETRIEVER is AssistantRetriever.OPENAI:
        fixes = {
            "LLM_BASE_URL": "set it to the OpenAI-compatible endpoint, e.g. https://llm.example.com/v1",
            "LLM_API_KEY": "set it to the endpoint's API key",
            "EMBEDDINGS_MODEL": "set it to an embeddings model the endpoint serves",
        }
        for variable, fix in fixes.items():
            if getattr(settings, variable) is None:
                problems.append(
                    Problem(
                        variable,
                        "is required when ASSISTANT_RETRIEVER=openai but not set",
                        f"{fix}; or set ASSISTANT_RETRIEVER=lexical",
                        E_INVALID,
                        invalid=True,
                    )
                )
    return problems


def _build(source: dict[str, str]) -> AppSettings:
    # pydantic-settings reads os.environ by itself; feed it exactly the mapping we were given.
    declared = {k: v for k, v in source.items() if k in AppSettings.model_fields}
    return AppSettings.model_validate({k: v for k, v in declared.items() if v.strip()})


def _describe_validation_error(variable: str, error: Mapping[str, Any]) -> str:
    message = str(error.get("msg", "invalid value"))
    # `msg` never echoes the input (pydantic keeps that in `input`), so secrets stay out.
    return f"invalid value: {message.removeprefix('Value error, ')}"


def production_problems(settings: AppSettings, provided: frozenset[str]) -> list[Problem]:
    problems: list[Problem] = []

    def missing(variable: str, fix: str) -> None:
        problems.append(Problem(variable, "is required in production but not set", fix, E_MISSING))

    required = {
        "SECRET_KEY": "generate one with `chatdesk generate-secret-key`",
        "DATABASE_URL": "point it at PostgreSQL: postgres://USER:PASSWORD@HOST:5432/DB",
        "REDIS_URL": "point it at Redis (shared rate limits and cache): redis://HOST:6379/0",
        "APP_BASE_URL": "set the public https URL, e.g. https://crm.example.com",
        "ALLOWED_HOSTS": "list the public host names, e.g. crm.example.com",
        "ENCRYPTION_KEYS": "generate one with `chatdesk generate-key`",
        "DEFAULT_FROM_EMAIL": "set the sender address, e.g. chatdesk <noreply@example.com>",
    }
    for variable, fix in required.items():
        if variable not in provided:
            missing(variable, fix)
    if settings.email_provider is not EmailProvider.RESEND:
        problems.append(
            Problem(
                "EMAIL_PROVIDER",
                f"is {settings.email_provider.value}, which does not deliver mail",
                "set EMAIL_PROVIDER=resend and RESEND_API_KEY",
                E_DEV_FEATURE,
            )
        )
    if "RESEND_API_KEY" not in provided:
        missing("RESEND_API_KEY", "set the Resend API key (re_...) used to send invitations")
    if settings.debug:
        problems.append(
            Problem("DEBUG", "is on in production", "unset DEBUG or set DEBUG=false", E_DEBUG)
        )
    if "SECRET_KEY" in provided:
        reason = weak_secret_key_reason(settings.secret_key)
        if reason:
            problems.append(
                Problem(
                    "SECRET_KEY",
                    reason,
                    "generate a new one with `chatdesk generate-secret-key`",
                    E_WEAK_SECRET,
                )
            )
    if "ENCRYPTION_KEYS" in provided and DEV_ENCRYPTION_KEY in settings.encryption_keys:
        problems.append(
            Problem(
                "ENCRYPTION_KEYS",
                "contains the development key",
                "generate a new key with `chatdesk generate-key` and rotate",
                E_WEAK_SECRET,
            )
        )
    for variable in URL_FIELDS_CHECKED_IN_PRODUCTION:
        raw = getattr(settings, variable)
        if raw is None:
            continue
        url = raw.get_secret_value() if isinstance(raw, SecretStr) else raw
        parts = urlsplit(url)
        if is_local_host(parts.hostname):
            problems.append(
                Problem(
                    variable,
                    "points at a local address (localhost, 127.0.0.0/8, ::1 or *.local)",
                    "use the public https URL of the service",
                    E_LOCAL_URL,
                )
            )
        elif parts.scheme != "https":
            problems.append(
                Problem(variable, "uses http, not https", "use an https:// URL", E_LOCAL_URL)
            )
    if "DATABASE_URL" in provided and settings.database_url.startswith("sqlite"):
        problems.append(
            Problem(
                "DATABASE_URL",
                "is SQLite, which is for development only",
                "use PostgreSQL: postgres://USER:PASSWORD@HOST:5432/DB",
                E_SQLITE,
            )
        )
    if "*" in settings.ALLOWED_HOSTS:
        problems.append(
            Problem(
                "ALLOWED_HOSTS",
                "contains '*', which accepts any Host header",
                "list the public host names explicitly",
                E_HOSTS,
            )
        )
    if settings.SIMULATOR_ENABLED:
        problems.append(
            Problem(
                "SIMULATOR_ENABLED",
                "turns on the WhatsApp simulator, a development-only feature",
                "unset SIMULATOR_ENABLED",
                E_DEV_FEATURE,
            )
        )
    return problems


_TEST_LOOKING = ("insecure", "dev", "test", "changeme", "change-me", "example", "secret", "dummy")


def weak_secret_key_reason(value: str) -> str | None:
    if value == DEV_SECRET_KEY:
        return "is the development default"
    if len(value) < 50:
        return f"is too short ({len(value)} characters; at least 50 are needed)"
    if len(set(value)) < 5:
        return "has fewer than 5 distinct characters"
    lowered = value.lower()
    for marker in _TEST_LOOKING:
        if marker in lowered:
            return f"looks like a test value (contains {marker!r})"
    return None


# A leading label such as `sk_live_`, `re_` or `sk-proj-`: letters only, at most two segments.
_MASK_LABEL = re.compile(r"(?:[A-Za-z]{1,6}[_-]){1,2}")
# A label is shown only when at least this many characters stay hidden behind it.
_MASK_MIN_HIDDEN = 12


def mask(value: str | None) -> str:
    """Show enough of a secret to recognise it, never enough to use it: `sk_live_…9f2a`."""
    if not value:
        return ""
    if len(value) < 12:
        return "…" if len(value) < 8 else f"…{value[-2:]}"
    label = _MASK_LABEL.match(value)
    prefix = label.group(0) if label else ""
    if len(value) - len(prefix) - 4 < _MASK_MIN_HIDDEN:
        prefix = ""
    return f"{prefix}…{value[-4:]}"


def mask_url(url: str) -> str:
    """A URL with its password (and any query string) replaced."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password:
        netloc = netloc.replace(f":{parts.password}@", ":…@")
    query = "?…" if parts.query else ""
    return f"{parts.scheme}://{netloc}{parts.path}{query}"
