"""/metrics: opt-in, bearer token, Prometheus text that parses, figures equal to the data, no
secret, and each workspace's figures only under its own label."""

from datetime import timedelta
from uuid import uuid4

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from chatdesk.assistant.models import DraftStatus
from chatdesk.crm.models import Author
from chatdesk.jobs.models import JobFailure, WorkerHeartbeat
from chatdesk.messaging.models import WebhookEvent
from chatdesk.reports.services import daily_rollup_build
from tests.crm.builders import contact_make, conversation_make
from tests.factories import APP_SECRET, make_channel
from tests.reports.builders import draft_make, inbound, reply
from tests.tenancy.factories import world_make

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-for-tests-5f2a9c"


@pytest.fixture
def token(settings):
    settings.ENV = settings.ENV.model_copy(update={"METRICS_TOKEN": SecretStr(TOKEN)})
    return TOKEN


def scrape(client, token=TOKEN, **headers):
    return client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}", **headers)


def samples(response) -> dict[tuple, float]:
    """{(sample name, sorted labels): value} from the exposition text."""
    text = response.content.decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_without_a_configured_token_metrics_do_not_exist(client, settings):
    settings.ENV = settings.ENV.model_copy(update={"METRICS_TOKEN": None})
    assert client.get("/metrics").status_code == 404
    assert scrape(client, "anything").status_code == 404


@pytest.mark.parametrize(
    "authorization",
    [None, "", f"Basic {TOKEN}", "Bearer", "Bearer wrong-token", f"Bearer {TOKEN}x", TOKEN],
)
def test_a_missing_or_wrong_token_is_refused(client, token, authorization):
    headers = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    response = client.get("/metrics", **headers)
    assert response.status_code == 403
    assert TOKEN not in response.content.decode()


def test_metrics_go_through_host_validation_unlike_the_probes(client, token, settings):
    settings.ALLOWED_HOSTS = ["crm.example.com"]
    assert scrape(client, HTTP_HOST="10.1.2.3:8000").status_code == 400
    assert scrape(client, HTTP_HOST="crm.example.com").status_code == 200


def test_only_reads_are_allowed(client, token):
    response = client.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 405


def busy_today(world, *, drafts: int, escalations: int, messages_in: int):
    """A workspace's day so far, and its rollup as the periodic job builds it."""
    ws = world.workspace
    now = timezone.now()
    conv = conversation_make(ws, contact_make(ws))
    for i in range(messages_in):
        inbound(conv, now - timedelta(minutes=30 - i))
    reply(conv, now - timedelta(minutes=5), author=Author.ASSISTANT)
    for i in range(drafts):
        draft_make(conv, now - timedelta(minutes=20 - i), status=DraftStatus.SENT, complaint=i == 0)
    for i in range(escalations):
        draft_make(
            conv,
            now - timedelta(minutes=10 - i),
            status=DraftStatus.ESCALATED,
            decision="escalate",
            reasons=["guard promise: promises: 'guaranteed'"],
            verdicts=[{"check": "promise", "passed": False, "reason": "promises"}],
        )
    daily_rollup_build(workspace=ws, day=timezone.localdate(now))


def test_figures_match_the_data_and_stay_under_their_own_workspace(client, token):
    alpha, beta = world_make("alpha"), world_make("beta")
    busy_today(alpha, drafts=3, escalations=2, messages_in=4)
    busy_today(beta, drafts=1, escalations=0, messages_in=1)
    channel = make_channel(alpha.workspace)
    for n in range(2):
        WebhookEvent.objects.for_workspace(alpha.workspace).create(
            workspace=alpha.workspace, channel=channel, idempotency_key=f"k{n}", body=b"{}"
        )
    JobFailure.objects.create(
        task_id=uuid4(),
        task_path="chatdesk.messaging.tasks.message_deliver",
        queue_name="outbound",
        args_kwargs={},
        attempts=5,
        exception_class_path="ProviderError",
        reason="131047",
    )
    now = timezone.now()
    WorkerHeartbeat.objects.create(
        worker_id="w1", hostname="h", pid=1, queues="inbound", started_at=now, last_seen_at=now
    )

    response = scrape(client)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    got = samples(response)

    def value(name, **labels):
        return got.get((name, tuple(sorted(labels.items()))))

    drafts = "chatdesk_assistant_drafts_today"
    # alpha: 3 sent on its own (inbound messages of the drafts count too: 4 + 3 + 2 = 9 in)
    assert value(drafts, workspace="alpha", outcome="sent_autonomous") == 3
    assert value(drafts, workspace="alpha", outcome="escalated") == 2
    assert value(drafts, workspace="beta", outcome="sent_autonomous") == 1
    assert value(drafts, workspace="beta", outcome="escalated") == 0
    assert value("chatdesk_assistant_escalations_today", workspace="alpha", reason="guard") == 2
    assert value("chatdesk_assistant_guard_blocks_today", workspace="alpha", check="promise") == 2
    assert value("chatdesk_assistant_complaints_today", workspace="alpha") == 1
    assert value("chatdesk_messages_today", workspace="alpha", direction="in") == 9
    assert value("chatdesk_messages_today", workspace="beta", direction="in") == 2
    assert value("chatdesk_assistant_replies_today", workspace="alpha") == 1
    assert value("chatdesk_webhook_events_received_today", workspace="alpha") == 2
    assert value("chatdesk_channel_active", workspace="alpha", channel=str(channel.pk),
                 kind=channel.kind) == 1  # fmt: skip
    assert value("chatdesk_job_failures_open", queue="outbound") == 1
    assert value("chatdesk_workers_alive") == 1
    assert 0 <= value("chatdesk_reports_rollup_age_seconds", workspace="alpha") < 60
    # Isolation: beta had no escalation and no webhook, so no such series carries its label;
    # alpha's channel appears under alpha only.
    beta_series = {key for key in got if ("workspace", "beta") in key[1]}
    assert not [k for k in beta_series if k[0].startswith("chatdesk_assistant_escalations")]
    assert not [k for k in beta_series if k[0].startswith("chatdesk_webhook")]
    alpha_channel = [labels for _, labels in got if ("channel", str(channel.pk)) in labels]
    assert alpha_channel and all(("workspace", "alpha") in labels for labels in alpha_channel)


def test_the_output_holds_no_secret(client, token, settings):
    world = world_make("alpha")
    make_channel(world.workspace)
    busy_today(world, drafts=1, escalations=1, messages_in=1)
    text = scrape(client).content.decode()
    for secret in (TOKEN, APP_SECRET, settings.SECRET_KEY, "token-meta-"):
        assert secret not in text
