"""Health endpoints for load balancers and orchestrators: no auth, no session, no secrets.

`/healthz` says the process answers (liveness: restart me if this fails). `/readyz` says this
instance can serve traffic (readiness: stop routing to me while it fails): the database answers,
every migration is applied, and Redis answers when it is configured. A failing check reports
only the exception's class name, never its message, which may contain a host or a DSN.
"""

from __future__ import annotations

import logging

import redis
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from redis.backoff import NoBackoff
from redis.retry import Retry

logger = logging.getLogger(__name__)

OK = "ok"
SKIPPED = "skipped"
# A probe must answer well within the orchestrator's timeout, even when Redis is gone.
REDIS_TIMEOUT_SECONDS = 1


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": OK})


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    checks = {
        "database": _check("database", _database_ping),
        "migrations": _check("migrations", _migrations_pending),
        "redis": _check("redis", _redis_ping),
    }
    ready = all(result in (OK, SKIPPED) for result in checks.values())
    return JsonResponse(
        {"status": OK if ready else "fail", "checks": checks}, status=200 if ready else 503
    )


def _check(name: str, probe) -> str:
    try:
        return probe()
    except Exception as exc:
        # The traceback goes to the (redacted) log for the operator; the response, which anyone
        # can read, gets the class name only.
        logger.warning("readiness check %s failed: %s", name, type(exc).__name__, exc_info=True)
        return f"fail: {type(exc).__name__}"


def _database_ping() -> str:
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return OK


def _migrations_pending() -> str:
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        logger.warning(
            "readiness: %d unapplied migration(s): %s",
            len(plan),
            ", ".join(f"{m.app_label}.{m.name}" for m, _ in plan[:10]),
        )
        return f"fail: {len(plan)} unapplied"
    return OK


def _redis_ping() -> str:
    url = settings.ENV.REDIS_URL
    if not url:
        return SKIPPED
    # No retries: redis-py's default retries with backoff would hold the probe for seconds.
    client = redis.Redis.from_url(
        url,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 0),
    )
    try:
        client.ping()
    finally:
        client.close()
    return OK
