"""Prometheus metrics at `/metrics`, read from the database at scrape time.

Why from the database: gunicorn runs several worker processes and a scrape reaches one of them,
so in-process counters would each hold a fraction of the truth (and vanish on restart). Every
figure here is derived from rows every process shares, with a fixed number of small indexed
queries per scrape (one per family, grouped over all workspaces), and nothing is written per
request.

Access: `Authorization: Bearer <METRICS_TOKEN>`, compared in constant time. Without a
configured token the endpoint does not exist (404): metrics are opt-in. A missing or wrong
token gets 403. The path goes through the normal middleware (allowed hosts, https redirect),
unlike the health probes: scrape it by the public host name.

Families (label `workspace` is the workspace slug):
- chatdesk_assistant_drafts_today{workspace,outcome}: drafts made today by what became of them
  (sent_autonomous, approved, edited, rejected, pending_review, escalated);
- chatdesk_assistant_escalations_today{workspace,reason}, chatdesk_assistant_guard_blocks_today
  {workspace,check}, chatdesk_assistant_complaints_today{workspace};
- chatdesk_messages_today{workspace,direction}, chatdesk_assistant_replies_today{workspace};
- chatdesk_reports_rollup_age_seconds{workspace}: how old the figures above are (they come from
  today's rollup, rebuilt every 5 minutes by the worker);
- chatdesk_webhook_events_received_today{workspace};
- chatdesk_channel_active / _last_webhook_timestamp_seconds /
  _last_signature_failure_timestamp_seconds{workspace,channel,kind} (channel = its id);
- chatdesk_jobs_ready{queue}, chatdesk_jobs_oldest_due_age_seconds{queue},
  chatdesk_job_failures_open{queue}, chatdesk_workers_alive.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Min
from django.http import Http404, HttpRequest, HttpResponse
from django.tasks import TaskResultStatus
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

from chatdesk.reports.days import day_start
from chatdesk.reports.reasons import check_code

# Cross-tenant by nature: an operator's view of every workspace, one labelled series each. Each
# query groups by workspace; nothing of one workspace is ever added to another's series.
OUTCOMES = (
    ("sent_autonomous", "sent_autonomous"),
    ("approved", "approved"),
    ("edited", "edited"),
    ("rejected", "rejected"),
    ("pending_review", "pending_review"),
    ("escalated", "escalated"),
)


def _gauge(name: str, documentation: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=labels)


def _reports_families(now) -> Iterator[Metric]:
    from chatdesk.reports.models import DailyRollup

    drafts = _gauge(
        "chatdesk_assistant_drafts_today",
        "Assistant drafts made today, by what became of them so far",
        ["workspace", "outcome"],
    )
    escalations = _gauge(
        "chatdesk_assistant_escalations_today",
        "Drafts escalated today, by reason (a draft counts once per reason)",
        ["workspace", "reason"],
    )
    blocks = _gauge(
        "chatdesk_assistant_guard_blocks_today",
        "Drafts the guard blocked today, by failed check",
        ["workspace", "check"],
    )
    complaints = _gauge(
        "chatdesk_assistant_complaints_today",
        "Today's drafts flagged by agents as complaints",
        ["workspace"],
    )
    messages = _gauge(
        "chatdesk_messages_today",
        "Messages today (private notes excluded), by direction",
        ["workspace", "direction"],
    )
    replies = _gauge(
        "chatdesk_assistant_replies_today",
        "Outbound messages written by the assistant today",
        ["workspace"],
    )
    age = _gauge(
        "chatdesk_reports_rollup_age_seconds",
        "Age of today's figures (today's rollup, rebuilt by the worker every few minutes)",
        ["workspace"],
    )
    today = timezone.localdate(now)
    rollups = (
        DailyRollup.dangerously_unscoped_objects.filter(day=today)
        .select_related("workspace")
        .order_by("workspace__slug")
    )
    for rollup in rollups:
        slug = rollup.workspace.slug
        for outcome, field in OUTCOMES:
            drafts.add_metric([slug, outcome], getattr(rollup, field))
        for reason, n in sorted(rollup.escalation_reasons.items()):
            escalations.add_metric([slug, reason], n)
        for check, n in sorted(rollup.guard_blocks.items()):
            blocks.add_metric([slug, check_code(check)], n)
        complaints.add_metric([slug], rollup.complaints)
        messages.add_metric([slug, "in"], rollup.messages_in)
        messages.add_metric([slug, "out"], rollup.messages_out)
        replies.add_metric([slug], rollup.messages_out_assistant)
        age.add_metric([slug], max((now - rollup.built_at).total_seconds(), 0.0))
    yield from (drafts, escalations, blocks, complaints, messages, replies, age)


def _webhook_families(now) -> Iterator[Metric]:
    from chatdesk.messaging.models import Channel, WebhookEvent

    received = _gauge(
        "chatdesk_webhook_events_received_today",
        "Webhook events accepted and stored today",
        ["workspace"],
    )
    rows = (
        WebhookEvent.dangerously_unscoped_objects.filter(
            received_at__gte=day_start(timezone.localdate(now))
        )
        .values("workspace__slug")
        .annotate(n=Count("id"))
        .order_by("workspace__slug")
    )
    for row in rows:
        received.add_metric([row["workspace__slug"]], row["n"])
    yield received

    labels = ["workspace", "channel", "kind"]
    active = _gauge("chatdesk_channel_active", "1 if the channel accepts webhooks", labels)
    last = _gauge(
        "chatdesk_channel_last_webhook_timestamp_seconds",
        "When the channel last received a webhook (Unix time)",
        labels,
    )
    failure = _gauge(
        "chatdesk_channel_last_signature_failure_timestamp_seconds",
        "When a webhook to the channel last failed its signature check (Unix time)",
        labels,
    )
    channels = Channel.dangerously_unscoped_objects.select_related("workspace").order_by(
        "workspace__slug", "pk"
    )
    for channel in channels.only(
        "pk", "kind", "is_active", "last_webhook_at", "last_signature_failure_at", "workspace__slug"
    ):
        values = [channel.workspace.slug, str(channel.pk), channel.kind]
        active.add_metric(values, 1 if channel.is_active else 0)
        if channel.last_webhook_at:
            last.add_metric(values, channel.last_webhook_at.timestamp())
        if channel.last_signature_failure_at:
            failure.add_metric(values, channel.last_signature_failure_at.timestamp())
    yield from (active, last, failure)


def _job_families(now) -> Iterator[Metric]:
    from django_tasks_db.models import DBTaskResult

    from chatdesk.jobs.conf import jobs_setting
    from chatdesk.jobs.models import JobFailure, WorkerHeartbeat

    ready = _gauge("chatdesk_jobs_ready", "Jobs waiting in the queue (due or deferred)", ["queue"])
    oldest = _gauge(
        "chatdesk_jobs_oldest_due_age_seconds",
        "How long the oldest due job has been waiting",
        ["queue"],
    )
    # Only READY rows: the backend's partial index on them keeps this small and fast.
    waiting = (
        DBTaskResult.objects.filter(status=TaskResultStatus.READY)
        .values("queue_name")
        .annotate(n=Count("id"), first_due=Min("run_after"))
        .order_by("queue_name")
    )
    for row in waiting:
        ready.add_metric([row["queue_name"]], row["n"])
        oldest.add_metric([row["queue_name"]], max((now - row["first_due"]).total_seconds(), 0))
    yield from (ready, oldest)

    failures = _gauge(
        "chatdesk_job_failures_open",
        "Jobs that failed for good and were not retried (admin: Job failures)",
        ["queue"],
    )
    for row in (
        JobFailure.objects.filter(retried_at__isnull=True)
        .values("queue_name")
        .annotate(n=Count("id"))
        .order_by("queue_name")
    ):
        failures.add_metric([row["queue_name"]], row["n"])
    yield failures

    alive = _gauge("chatdesk_workers_alive", "Worker processes with a recent heartbeat", [])
    timeout = timedelta(seconds=jobs_setting("HEARTBEAT_TIMEOUT_SECONDS"))
    alive.add_metric([], WorkerHeartbeat.objects.filter(last_seen_at__gte=now - timeout).count())
    yield alive


class DatabaseCollector:
    """Reads every family from the database when Prometheus scrapes."""

    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        yield from _reports_families(now)
        yield from _webhook_families(now)
        yield from _job_families(now)


# A registry of our own: the default one would add this process's own CPU and memory, which
# describe whichever gunicorn worker answered, not the service.
REGISTRY = CollectorRegistry(auto_describe=False)
REGISTRY.register(DatabaseCollector())


def _authorized(request: HttpRequest, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    configured = settings.ENV.METRICS_TOKEN
    token = configured.get_secret_value() if configured else ""
    if not token:
        raise Http404("Metrics are not enabled (METRICS_TOKEN is not set).")
    if not _authorized(request, token):
        return HttpResponse("Forbidden: a valid bearer token is required.\n", status=403,
                            content_type="text/plain; charset=utf-8")  # fmt: skip
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
