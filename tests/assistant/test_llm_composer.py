"""The LLM composer against a fake OpenAI-compatible server: what it sends, what it does with
good, bad and failing answers."""

from __future__ import annotations

import json

import pytest

from chatdesk.assistant.compose import ApprovedAnswerComposer
from chatdesk.assistant.llm import LLMComposer, composer_from_settings
from chatdesk.assistant.models import DraftStatus
from tests.assistant.fake_openai import FakeOpenAIServer
from tests.assistant.helpers import ACTOR, assistant_world, customer_writes, replies, run_pipeline

PHONE = "6281298765432"


class FakeLLM(FakeOpenAIServer):
    """Answers POST /v1/chat/completions with the scripted replies in order (then the last)."""

    def __init__(self, replies: list, status: int = 200, delay: float = 0.0):
        self.replies = replies
        super().__init__(status=status, delay=delay)

    def answer(self, body: dict) -> dict:
        text = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        return {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": text},
                }
            ],
        }


def test_without_llm_settings_the_approved_answer_composer_is_used(settings):
    settings.ENV = settings.ENV.model_copy(update={"LLM_BASE_URL": None})
    assert isinstance(composer_from_settings(), ApprovedAnswerComposer)


@pytest.mark.django_db
def test_llm_draft_is_guarded_and_queued_and_the_request_carries_no_phone_number(llm_env):
    world = assistant_world("llm")
    good = "Hi Siti! Our office is open Monday-Friday 09:00-17:00 and Saturday 09:00-13:00 WIB."
    with FakeLLM([good]) as fake:
        llm_env(fake.url)
        customer_writes(world.channel, f"Hello, my number is +{PHONE}", wa_id=PHONE)
        message = customer_writes(world.channel, "What time does your office open?", wa_id=PHONE)
        draft = run_pipeline(message)
    assert draft.status == DraftStatus.PENDING_REVIEW and draft.draft_text == good
    assert draft.composer == "llm"
    [request] = fake.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["auth"] == "Bearer sk-test-key-0001"
    body = request["body"]
    raw = json.dumps(body)
    assert PHONE not in raw and "[number]" in raw
    assert body["model"] == "tiny-model" and body["temperature"] == 0.1
    system = body["messages"][0]["content"]
    assert "Ayu" not in system  # the workspace's config name, not the YAML's
    assert "ESCALATE" in system and "under 300 characters" in system
    assert "09:00-17:00" in system  # the retrieved entry ...
    assert "Sudirman" not in system  # ... and no other entry


@pytest.mark.django_db
def test_temperature_sent_to_the_llm_never_exceeds_the_cap(llm_env):
    from chatdesk.assistant.compose import build_request
    from chatdesk.assistant.conf import AssistantSettings
    from chatdesk.assistant.knowledge import Entry

    entry = Entry(key="k", topic="t", answer="We open at 09:00.", questions=("open?",))
    request = build_request(
        message="open?",
        context_turns=(),
        entries=(entry,),
        settings=AssistantSettings(temperature=0.3),
        customer_name=None,
    )
    # A settings object built around validation still cannot push the request over the cap.
    object.__setattr__(request.settings, "temperature", 0.9)
    with FakeLLM(["We open at 09:00."]) as fake:
        composer = LLMComposer(base_url=fake.url, api_key="k", model="m", timeout=5)
        assert composer.compose(request) == "We open at 09:00."
    assert fake.requests[0]["body"]["temperature"] == 0.3


@pytest.mark.django_db
def test_a_hallucinated_llm_draft_is_blocked_by_the_guard_and_escalated(llm_env):
    world = assistant_world("hal")
    from chatdesk.assistant.configuration import assistant_config_update

    assistant_config_update(
        workspace=world.workspace, actor=ACTOR, mode="autonomous", confirmed=True
    )
    with FakeLLM(["We open at 07:00 every day, guaranteed!"]) as fake:
        llm_env(fake.url)
        message = customer_writes(world.channel, "What time does your office open?")
        draft = run_pipeline(message)
    assert draft.status == DraftStatus.ESCALATED
    assert any(r.startswith("guard ") for r in draft.reasons)
    assert draft.draft_text == "We open at 07:00 every day, guaranteed!"  # kept for review
    sent = [m.text for m in replies(message.conversation)]
    assert sent == [draft.config.holding_message]  # only the holding message, never the draft


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("script", "status", "delay", "reason"),
    [
        (["ESCALATE"], 200, 0, "no answer in the approved entries"),
        (["boom"], 503, 0, "HTTP 503"),
        (["late"], 200, 3, "timed out"),
    ],
)
def test_llm_refusals_errors_and_timeouts_escalate_without_losing_the_message(
    llm_env, script, status, delay, reason
):
    world = assistant_world(f"fail{status}{delay}")
    with FakeLLM(script, status=status, delay=delay) as fake:
        llm_env(fake.url, timeout=1)
        message = customer_writes(world.channel, "What time does your office open?")
        draft = run_pipeline(message)
    message.refresh_from_db()
    assert message.processed_at is not None
    assert draft.status == DraftStatus.ESCALATED
    assert any(reason in r for r in draft.reasons), draft.reasons
    draft.conversation.refresh_from_db()
    assert draft.conversation.needs_human


def test_assistant_eval_composes_with_the_configured_llm_and_guards_its_drafts(llm_env, tmp_path):
    from io import StringIO

    from django.core.management import call_command

    from tests.assistant.conftest import EXAMPLE_KB

    suite = tmp_path / "suite.jsonl"
    suite.write_text(
        '{"id": "hours", "message": "What are your office hours?", "expect": "answer", '
        '"entry": "office-hours"}\n',
        encoding="utf-8",
    )
    grounded = "Our office is open Monday to Friday."
    with FakeLLM([grounded]) as fake:
        llm_env(fake.url)
        out = StringIO()
        call_command(
            "assistant-eval", "--kb", str(EXAMPLE_KB), "--suite", str(suite), "--json", stdout=out
        )
    [case] = json.loads(out.getvalue())["cases"]
    assert len(fake.requests) == 1, "the LLM composed the reply"
    assert case["decision"] == "answer" and case["reply"] == grounded

    with FakeLLM(["Our office is open 24/7 and the fee is Rp 5.000.000."]) as fake:
        llm_env(fake.url)
        out = StringIO()
        call_command(
            "assistant-eval", "--kb", str(EXAMPLE_KB), "--suite", str(suite), "--json", stdout=out
        )
    [case] = json.loads(out.getvalue())["cases"]
    assert len(fake.requests) == 1
    assert case["decision"] == "escalate", "an invented fact never passes the guard"
