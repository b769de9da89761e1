"""Assistant > Sandbox: what the assistant would do with a typed message, through the same
function `assistant-eval` uses, with the current configuration and knowledge; nothing sent,
stored or queued."""

from __future__ import annotations

import json

import pytest

from chatdesk.assistant.configuration import assistant_config_update
from chatdesk.assistant.evaluation import parse_suite, run_suite
from chatdesk.assistant.knowledge import parse_knowledge_yaml
from chatdesk.assistant.services import knowledge_entry_enabled_set
from chatdesk.audit.services import AuditActor
from tests.assistant.admin_helpers import entries, stored_rows, url
from tests.assistant.conftest import EXAMPLE_KB, EXAMPLE_SUITE
from tests.assistant.helpers import assistant_world
from tests.assistant.test_llm_composer import FakeLLM

pytestmark = pytest.mark.django_db

PHONE = "6281298765432"


@pytest.fixture
def world():
    return assistant_world("alpha")


@pytest.fixture
def admin(client, world):
    client.force_login(world.admin)
    return client


@pytest.fixture
def nothing_leaves(monkeypatch):
    """Any attempt to send through a provider fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("the sandbox tried to send a message")

    monkeypatch.setattr("chatdesk.messaging.outbound.message_send_text", refuse)
    monkeypatch.setattr("httpx.Client.send", refuse)


@pytest.fixture
def llm(llm_env, settings):
    settings.ENV = settings.ENV.model_copy(update={"LLM_BASE_URL": None})
    return llm_env


def try_message(client, world, message: str, **extra):
    return client.post(url("sandbox", world), {"message": message, **extra})


def test_an_in_scope_question_shows_the_reply_sources_score_guard_and_composer(
    admin, world, nothing_leaves, llm
):
    before = stored_rows(world)
    response = try_message(admin, world, "What time does your office open?", name="Siti Rahma")
    assert response.status_code == 200
    result = response.context["result"]
    assert result.answered
    assert result.decision.reply.startswith("Hi Siti! Our office is open")
    assert [(e.key, e.topic) for e in result.sources] == [("office-hours", "contact")]
    assert result.decision.score >= result.threshold == 0.7
    assert [v.check for v in result.verdicts][:3] == ["forbidden_topic", "uncertainty", "length"]
    assert all(v.passed for v in result.verdicts) and len(result.verdicts) == 7
    html = response.content.decode()
    assert "Hi Siti! Our office is open" in html
    assert "<code>office-hours</code> (contact)" in html
    assert "threshold 0.70" in html
    assert "Approved answer (no LLM configured)" in html
    assert stored_rows(world) == before  # no message, draft or job


def test_a_forbidden_topic_escalates_and_says_which_topic_gave_it_away(
    admin, world, nothing_leaves, llm
):
    before = stored_rows(world)
    response = try_message(admin, world, "Berapa biaya kuliah di Australia?")
    result = response.context["result"]
    assert not result.answered
    assert [h.topic for h in result.evaluation.forbidden_hits] == ["pricing"]
    assert result.evaluation.composer is None and result.verdicts == []
    html = response.content.decode()
    assert "forbidden topic: pricing" in html
    assert "None: the scope gate escalated before any reply was written" in html
    assert "Not run: no reply was written to check." in html
    assert stored_rows(world) == before


def test_the_sandbox_uses_the_current_configuration_and_enabled_knowledge(admin, world, llm):
    assistant_config_update(
        workspace=world.workspace, actor=AuditActor(user=world.admin), threshold=0.99
    )
    result = try_message(admin, world, "What time does your office open?").context["result"]
    assert not result.answered and "low confidence" in result.decision.reason
    assert "threshold 0.99" in try_message(admin, world, "open?").content.decode()

    assistant_config_update(
        workspace=world.workspace, actor=AuditActor(user=world.admin), threshold=0.7
    )
    knowledge_entry_enabled_set(
        entry=entries(world)["office-hours"], actor=AuditActor(user=world.admin), enabled=False
    )
    result = try_message(admin, world, "What time does your office open?").context["result"]
    assert "office-hours" not in result.decision.sources + result.decision.matched


def test_the_sandbox_decides_as_assistant_eval_does_for_the_example_suite(admin, world, llm):
    document = parse_knowledge_yaml(EXAMPLE_KB.read_text(encoding="utf-8"))
    settings = document.settings
    assistant_config_update(
        workspace=world.workspace,
        actor=AuditActor(user=world.admin),
        name=settings.name,
        forbidden_topics=list(settings.forbidden_topics),
        threshold=settings.threshold,
    )
    cases = parse_suite(
        EXAMPLE_SUITE.read_text(encoding="utf-8"), known_entries={e.key for e in document.entries}
    )
    expected = {r.id: r for r in run_suite(document, cases)}
    for case in cases:
        data = {"message": case.message, "history": "\n".join(case.history)}
        if case.name:
            data["name"] = case.name
        decision = admin.post(url("sandbox", world), data).context["result"].decision
        want = expected[case.id]
        assert (decision.action, decision.reply, decision.score) == (
            want.decision,
            want.reply,
            want.score,
        ), case.id


def test_earlier_turns_give_a_follow_up_its_context(admin, world, llm):
    follow_up = "kalau ke Inggris kapan?"
    alone = try_message(admin, world, follow_up).context["result"]
    with_context = try_message(
        admin, world, follow_up, history="Kapan intake kuliah dimulai?"
    ).context["result"]
    assert with_context.decision.sources == ("intakes",)
    assert with_context.decision.score > alone.decision.score


def test_an_llm_composes_the_reply_and_never_sees_a_phone_number(admin, world, llm):
    good = "Hi Siti! Our office is open Monday-Friday 09:00-17:00 and Saturday 09:00-13:00 WIB."
    with FakeLLM([good]) as fake:
        llm(fake.url)
        response = try_message(
            admin,
            world,
            "What time does your office open?",
            history=f"Hello, my number is +{PHONE}",
            name="Siti Rahma",
        )
    result = response.context["result"]
    assert result.answered and result.decision.reply == good
    assert result.evaluation.composer == "llm"
    assert "LLM (tiny-model)" in response.content.decode()
    raw = json.dumps(fake.requests[0]["body"])
    assert PHONE not in raw and "[number]" in raw


def test_an_llm_error_shows_as_an_escalation_with_its_reason(admin, world, llm):
    before = stored_rows(world)
    with FakeLLM(["boom"], status=503) as fake:
        llm(fake.url)
        response = try_message(admin, world, "What time does your office open?")
    result = response.context["result"]
    assert not result.answered
    assert result.decision.reasons == ("composer failed: LLM returned HTTP 503",)
    assert "composer failed: LLM returned HTTP 503" in response.content.decode()
    assert stored_rows(world) == before


def test_a_draft_the_guard_blocks_is_shown_with_the_failed_checks(admin, world, llm):
    with FakeLLM(["We open at 07:00 every day, guaranteed!"]) as fake:
        llm(fake.url)
        response = try_message(admin, world, "What time does your office open?")
    result = response.context["result"]
    assert not result.answered
    failed = {v.check for v in result.verdicts if not v.passed}
    assert {"unsupported_facts", "promise"} <= failed
    html = response.content.decode()
    assert "Draft blocked by the guard" in html and "guaranteed!" in html


def test_a_missing_message_or_too_many_turns_are_refused_and_kept(admin, world, llm):
    response = try_message(admin, world, "  ", history="one\ntwo", name="Budi")
    assert response.status_code == 400
    assert "Type the message a customer would send." in response.content.decode()
    assert "Budi" in response.content.decode()
    response = try_message(admin, world, "open?", history="1\n2\n3\n4")
    assert response.status_code == 400
    assert "At most 3 earlier messages" in response.content.decode()


def test_htmx_gets_only_the_outcome(admin, world, llm):
    response = admin.post(
        url("sandbox", world),
        {"message": "What time does your office open?"},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert "What the assistant would do" in html and "<html" not in html


def test_with_the_kill_switch_on_the_page_says_customers_get_no_reply(admin, world, llm):
    assistant_config_update(
        workspace=world.workspace, actor=AuditActor(user=world.admin), kill_switch=True
    )
    response = try_message(admin, world, "What time does your office open?")
    html = response.content.decode()
    assert "The kill switch is on: real customers get no assistant reply" in html
    assert response.context["result"].answered  # still shows what it would do
