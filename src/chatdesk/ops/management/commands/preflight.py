"""`chatdesk preflight`: the operator's go/no-go before a deploy.

One line per item (PASS, WARN or FAIL): the environment against the production rules, the
database (reachable, migrations applied), Redis when configured, collected static files, and every
system check including the deployment ones (`check --deploy`). It exits 1 on any FAIL.

Every failure is one line: the exception class, a short reason with known secrets scrubbed, and
where it tried (a masked URL or host), never a traceback or a DSN with its password.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.staticfiles.storage import ManifestFilesMixin
from django.core.checks import ERROR, WARNING, run_checks
from django.core.files.storage import storages
from django.core.management.base import BaseCommand
from django.db import connections
from django.db.migrations.executor import MigrationExecutor

from chatdesk.config.checks import CONFIG_CHECK_IDS
from chatdesk.config.env import E_MISSING, Environment, load_environment, mask, mask_url

PASS, WARN, FAIL = "PASS", "WARN", "FAIL"
# Warnings that are a no-go in production. chatdesk.W001: no workspace has an accepted owner, so
# nobody can sign in (design brief, pitfall 4: "preflight fails" while it holds).
BLOCKING_WARNINGS_IN_PRODUCTION = frozenset({"chatdesk.W001"})
CONNECT_TIMEOUT_SECONDS = 5
REASON_MAX_CHARS = 160


@dataclass(frozen=True)
class Item:
    outcome: str
    name: str
    detail: str

    def render(self) -> str:
        return f"{self.outcome}  {self.name}: {self.detail}"


def preflight_items(*, environment: Environment, using: str = "default") -> list[Item]:
    """Every preflight item, in order. Never raises: a crashing step is one FAIL line."""
    items = configuration_items(environment)
    with _connect_timeout(using):
        database = database_items(environment, using=using)
        items += database
        database_ready = all(item.outcome == PASS for item in database)
        items += redis_items(environment)
        items += static_files_items()
        items += system_check_items(environment, databases=[using] if database_ready else None)
    return items


def configuration_items(environment: Environment) -> list[Item]:
    items = []
    if not environment.settings.is_production:
        items.append(
            Item(
                FAIL,
                "configuration",
                f"APP_ENV is {environment.settings.APP_ENV.value}; a production server needs "
                "APP_ENV=production (the production rules below apply only then)",
            )
        )
    items += [
        Item(FAIL, "configuration", f"[{problem.code}] {problem.render()}")
        for problem in environment.problems
    ]
    if not items:
        items.append(Item(PASS, "configuration", "every variable is valid for production"))
    return items


def database_items(environment: Environment, *, using: str) -> list[Item]:
    unusable = [
        p for p in environment.problems_for("DATABASE_URL") if p.invalid or p.code == E_MISSING
    ]
    if unusable:
        return [Item(FAIL, "database", "not checked: DATABASE_URL is missing or invalid")]
    connection = connections[using]
    where = _database_label(connection)
    if (
        connection.vendor == "sqlite"
        and not connection.is_in_memory_db()
        and not _sqlite_file_exists(connection.settings_dict["NAME"])
    ):
        # Connecting would create an empty file and report success.
        return [
            Item(FAIL, "database", f"{where} does not exist; run `chatdesk migrate` to create it")
        ]
    try:
        connection.ensure_connection()
    except Exception as exc:  # any driver error is one FAIL line
        return [
            Item(FAIL, "database", f"cannot connect to {where}: {_describe(exc, environment)}"),
            Item(FAIL, "migrations", "not checked: no database connection"),
        ]
    items = [Item(PASS, "database", f"reachable at {where}")]
    try:
        executor = MigrationExecutor(connection)
        conflicts = executor.loader.detect_conflicts()
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as exc:
        items.append(Item(FAIL, "migrations", f"could not be read: {_describe(exc, environment)}"))
        return items
    if conflicts:
        apps = ", ".join(sorted(conflicts))
        items.append(Item(FAIL, "migrations", f"conflicting migrations in {apps}"))
    elif plan:
        first = plan[0][0]
        items.append(
            Item(
                FAIL,
                "migrations",
                f"{len(plan)} not applied (first: {first.app_label}.{first.name}); "
                "run `chatdesk migrate`",
            )
        )
    else:
        items.append(Item(PASS, "migrations", "all applied"))
    return items


def redis_items(environment: Environment) -> list[Item]:
    url = environment.settings.REDIS_URL
    if environment.problems_for("REDIS_URL") and not url:
        return [Item(FAIL, "redis", "not checked: REDIS_URL is missing or invalid")]
    if not url:
        return [
            Item(
                WARN,
                "redis",
                "not configured: the cache lives in the database and rate limits in process "
                "memory (development only)",
            )
        ]
    import redis

    client = redis.Redis.from_url(
        url, socket_connect_timeout=CONNECT_TIMEOUT_SECONDS, socket_timeout=CONNECT_TIMEOUT_SECONDS
    )
    try:
        client.ping()
    except Exception as exc:
        return [
            Item(FAIL, "redis", f"unreachable at {mask_url(url)}: {_describe(exc, environment)}")
        ]
    finally:
        client.close()
    return [Item(PASS, "redis", f"reachable at {mask_url(url)}")]


def static_files_items() -> list[Item]:
    storage = storages["staticfiles"]
    if not isinstance(storage, ManifestFilesMixin):
        return []  # development storage serves files straight from the apps
    try:
        collected = storage.read_manifest() is not None
    except Exception as exc:
        return [Item(FAIL, "static files", f"manifest unreadable: {type(exc).__name__}")]
    if not collected:
        # With a manifest storage every page that links a static file fails without it.
        return [
            Item(
                FAIL,
                "static files",
                f"not collected (no {storage.manifest_name} in {settings.STATIC_ROOT}); run "
                "`chatdesk collectstatic --noinput`",
            )
        ]
    return [Item(PASS, "static files", f"collected in {settings.STATIC_ROOT}")]


def system_check_items(environment: Environment, *, databases: list[str] | None) -> list[Item]:
    try:
        messages = run_checks(include_deployment_checks=True, databases=databases)
    except Exception as exc:
        return [Item(FAIL, "system checks", f"crashed: {_describe(exc, environment)}")]
    items = []
    for message in messages:
        # Configuration problems already have their own lines above.
        if message.is_silenced() or message.id in CONFIG_CHECK_IDS or message.level < WARNING:
            continue
        blocking = message.level >= ERROR or (
            environment.settings.is_production and message.id in BLOCKING_WARNINGS_IN_PRODUCTION
        )
        text = " ".join(str(message.msg).split())
        if message.hint:
            text += f" Hint: {' '.join(str(message.hint).split())}"
        items.append(Item(FAIL if blocking else WARN, f"check {message.id}", text))
    if not items:
        scope = "including" if databases else "without (database not ready)"
        items.append(Item(PASS, "system checks", f"no issues ({scope} database checks)"))
    return items


def _database_label(connection) -> str:
    params = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite {params['NAME']}"
    host = params.get("HOST") or "localhost"
    port = f":{params['PORT']}" if params.get("PORT") else ""
    user = f"{params['USER']}@" if params.get("USER") else ""
    return f"{connection.vendor} {user}{host}{port}/{params.get('NAME', '')}"


def _sqlite_file_exists(name) -> bool:
    return Path(str(name)).exists()


def _describe(exc: BaseException, environment: Environment) -> str:
    """`ClassName: first line of the message`, with every known secret replaced by its mask."""
    reason = (str(exc).strip().splitlines() or [""])[0]
    for secret in _known_secrets(environment):
        reason = reason.replace(secret, mask(secret))
    if len(reason) > REASON_MAX_CHARS:
        reason = reason[: REASON_MAX_CHARS - 1] + "…"
    return f"{type(exc).__name__}: {reason}" if reason else type(exc).__name__


def _known_secrets(environment: Environment) -> list[str]:
    secrets = list(environment.settings.secret_values())
    secrets += list(getattr(settings, "REDACTED_VALUES", []))
    # Passwords of the service URLs, however short (secret_values skips very short values).
    for url in (environment.settings.DATABASE_URL, environment.settings.REDIS_URL):
        password = urlsplit(url).password if url else None
        if password:
            secrets.append(password)
    # Longest first, so a secret that contains another is replaced whole.
    return sorted({s for s in secrets if s}, key=len, reverse=True)


@contextlib.contextmanager
def _connect_timeout(using: str) -> Iterator[None]:
    # libpq waits for the operating system's TCP timeout (minutes) on an unanswered host.
    params = connections[using].settings_dict
    if "postgresql" not in params.get("ENGINE", ""):
        yield
        return
    options = params.setdefault("OPTIONS", {})
    previous = options.get("connect_timeout")
    options["connect_timeout"] = previous or CONNECT_TIMEOUT_SECONDS
    try:
        yield
    finally:
        if previous is None:
            options.pop("connect_timeout", None)
        else:
            options["connect_timeout"] = previous


class Command(BaseCommand):
    help = (
        "Go/no-go before a deploy: the environment against the production rules, database "
        "reachable, migrations applied, Redis reachable when configured, static files collected, "
        "and every system check including the deployment ones. One PASS/WARN/FAIL line per item; "
        "exits 1 on any FAIL."
    )
    # It runs the system checks itself and reports each one as a line.
    requires_system_checks = []
    requires_migrations_checks = False

    def add_arguments(self, parser):
        parser.add_argument("--database", default="default", help="database alias to check")

    def handle(self, *args, database: str, **options):
        environment = getattr(settings, "ENVIRONMENT", None) or load_environment()
        items = preflight_items(environment=environment, using=database)
        for item in items:
            self.stdout.write(item.render())
        failures = sum(item.outcome == FAIL for item in items)
        warnings = sum(item.outcome == WARN for item in items)
        if failures:
            self.stdout.write(f"NO-GO: {failures} failure(s), {warnings} warning(s)")
            raise SystemExit(1)
        self.stdout.write(f"GO: no failures, {warnings} warning(s)")
