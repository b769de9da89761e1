"""The "openai" retriever against a fake OpenAI-compatible embeddings server: what it finds, what
it sends, what a failing endpoint does to a message, and the settings that select it."""

from __future__ import annotations

import hashlib
import io
import json
import re

import pytest
from django.core.management import CommandError, call_command
from pydantic import SecretStr

from chatdesk.assistant import embeddings
from chatdesk.assistant.decide import ANSWER, ESCALATE, assistant_decide
from chatdesk.assistant.models import DraftStatus
from chatdesk.config.env import E_INVALID, AssistantRetriever, load_environment
from tests.assistant.conftest import EXAMPLE_KB
from tests.assistant.fake_openai import FakeOpenAIServer
from tests.assistant.helpers import assistant_world, customer_writes, replies, run_pipeline

PHONE = "6281298765432"
API_KEY = "sk-embed-test-key-0001"
DIMENSIONS = 256


def hashed_bag_of_words(text: str) -> list[float]:
    """Deterministic and unnormalised: texts sharing words are close, others nearly orthogonal."""
    vector = [0.0] * DIMENSIONS
    for word in re.findall(r"\w+", text.lower()):
        digest = hashlib.sha256(word.encode()).digest()
        vector[int.from_bytes(digest[:4], "big") % DIMENSIONS] += 3.0
    return vector


class FakeEmbeddings(FakeOpenAIServer):
    """Answers POST /v1/embeddings with hashed bag-of-words vectors (or `status`, after `delay`)."""

    def answer(self, body: dict) -> dict:
        return {
            "object": "list",
            "model": body["model"],
            # out of order on purpose: the client must sort by index
            "data": [
                {"object": "embedding", "index": i, "embedding": hashed_bag_of_words(t)}
                for i, t in reversed(list(enumerate(body["input"])))
            ],
            "usage": {"prompt_tokens": 1, "total_tokens": 1},
        }

    def inputs(self) -> list[str]:
        return [text for r in self.requests for text in r["body"]["input"]]


@pytest.fixture
def openai_env(settings):
    def configure(url: str, *, timeout: int = 5, retriever: str = "openai"):
        settings.ENV = settings.ENV.model_copy(
            update={
                "LLM_BASE_URL": url,
                "LLM_API_KEY": SecretStr(API_KEY),
                # No LLM_MODEL: the composer stays the approved answer, only retrieval is remote.
                "LLM_MODEL": None,
                "EMBEDDINGS_MODEL": "tiny-embed",
                "LLM_TIMEOUT_SECONDS": timeout,
                "ASSISTANT_RETRIEVER": AssistantRetriever(retriever),
            }
        )

    return configure


def decide(message, education, context=()):
    return assistant_decide(
        message,
        context_turns=context,
        entries=education.entries,
        config=education.settings,
        retriever="openai",
    )


def test_an_in_scope_question_finds_its_entry_and_an_unrelated_one_escalates(openai_env, education):
    with FakeEmbeddings() as fake:
        openai_env(fake.url)
        answered = decide("When is your office open?", education)
        unrelated = decide("My cat keeps knocking glasses off the kitchen table", education)
    assert answered.action == ANSWER and answered.sources == ("office-hours",)
    assert answered.score >= education.settings.threshold
    assert "09:00-17:00" in answered.reply
    assert unrelated.action == ESCALATE and unrelated.sources == ()
    assert any("low confidence" in r or "no knowledge" in r for r in unrelated.reasons)


def test_requests_name_the_model_are_batched_and_entry_vectors_are_embedded_once(
    openai_env, education
):
    with FakeEmbeddings() as fake:
        openai_env(fake.url)
        decide("When is your office open?", education)
        first = len(fake.requests)
        decide("Where is your office?", education, context=["hello"])
    assert first >= 2  # the knowledge base, in batches, then the message
    assert all(r["path"] == "/v1/embeddings" for r in fake.requests)
    assert all(r["body"]["model"] == "tiny-embed" for r in fake.requests)
    assert all(r["auth"] == f"Bearer {API_KEY}" for r in fake.requests)
    assert all(1 <= len(r["body"]["input"]) <= 64 for r in fake.requests)
    sent = fake.inputs()
    assert "What are your opening hours?" in sent  # knowledge texts are embedded
    # The second message reuses the cached entry vectors: only its own turns are sent.
    assert fake.requests[first:] == [fake.requests[-1]]
    assert fake.requests[-1]["body"]["input"] == ["Where is your office?", "hello"]


@pytest.mark.django_db
def test_the_worker_uses_the_configured_retriever_and_no_phone_number_reaches_it(openai_env):
    world = assistant_world("oai")
    with FakeEmbeddings() as fake:
        openai_env(fake.url)
        customer_writes(world.channel, f"Hello, my number is +{PHONE}", wa_id=PHONE)
        message = customer_writes(world.channel, "When is your office open?", wa_id=PHONE)
        draft = run_pipeline(message)
    assert draft.decision == "answer" and draft.sources == ["office-hours"]
    assert draft.status == DraftStatus.PENDING_REVIEW and "09:00-17:00" in draft.draft_text
    sent = fake.inputs()
    assert "When is your office open?" in sent  # the message went to the endpoint ...
    assert "Hello, my number is [number]" in sent  # ... with the earlier turn, masked
    raw = json.dumps([r["body"] for r in fake.requests])
    assert PHONE not in raw and "Siti" not in raw


@pytest.mark.django_db
def test_the_default_lexical_retriever_never_calls_the_endpoint(openai_env):
    world = assistant_world("lex")
    with FakeEmbeddings() as fake:
        openai_env(fake.url, retriever="lexical")
        draft = run_pipeline(customer_writes(world.channel, "When is your office open?"))
    assert draft.decision == "answer" and fake.requests == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("server", "timeout", "reason"),
    [
        ({"status": 500}, 5, "retriever unavailable: embeddings endpoint returned HTTP 500"),
        ({"delay": 3.0}, 1, "retriever unavailable: embeddings endpoint timed out"),
    ],
    ids=["http-500", "timeout"],
)
def test_a_failing_endpoint_escalates_with_the_reason_and_keeps_the_message(
    openai_env, server, timeout, reason
):
    world = assistant_world(f"down{timeout}")
    with FakeEmbeddings(**server) as fake:
        openai_env(fake.url, timeout=timeout)
        message = customer_writes(world.channel, "When is your office open?")
        draft = run_pipeline(message)
    assert draft.decision == "escalate" and draft.status == DraftStatus.ESCALATED
    assert reason in draft.reasons
    assert not any(API_KEY in r or "127.0.0.1" in r for r in draft.reasons)
    message.refresh_from_db()
    assert message.processed_at is not None and message.text == "When is your office open?"
    conversation = message.conversation
    conversation.refresh_from_db()
    assert conversation.needs_human
    # The customer hears from the holding message, not silence.
    assert [r.text for r in replies(conversation)] == [draft.config.holding_message]


def test_a_crashing_retriever_escalates_without_quoting_its_error(education):
    class Broken:
        name = "broken"

        def search(self, message, *, context=(), k=3):
            raise RuntimeError(f"connect failed for key {API_KEY}")

    decision = assistant_decide(
        "When is your office open?",
        entries=education.entries,
        config=education.settings,
        retriever=Broken(),
    )
    assert decision.action == ESCALATE
    assert decision.reasons == ("retriever unavailable: RuntimeError",)


def test_the_openai_retriever_without_an_endpoint_escalates_naming_the_settings(
    settings, education
):
    settings.ENV = settings.ENV.model_copy(update={"LLM_BASE_URL": None, "EMBEDDINGS_MODEL": None})
    decision = decide("When is your office open?", education)
    assert decision.action == ESCALATE
    [reason] = decision.reasons
    assert reason.startswith("retriever unavailable: the openai retriever needs LLM_BASE_URL")
    assert "EMBEDDINGS_MODEL" in reason


def test_openai_selection_needs_the_endpoint_the_key_and_the_model():
    environment = load_environment({"APP_ENV": "test", "ASSISTANT_RETRIEVER": "openai"})
    problems = {p.variable: p for p in environment.invalid}
    assert set(problems) == {"LLM_BASE_URL", "LLM_API_KEY", "EMBEDDINGS_MODEL"}
    for problem in problems.values():
        assert problem.code == E_INVALID
        assert "ASSISTANT_RETRIEVER=openai" in problem.render()
        assert "Fix: set it" in problem.render()

    complete = load_environment(
        {
            "APP_ENV": "test",
            "ASSISTANT_RETRIEVER": "openai",
            "LLM_BASE_URL": "https://llm.example.com/v1",
            "LLM_API_KEY": API_KEY,
            "EMBEDDINGS_MODEL": "tiny-embed",
        }
    )
    assert complete.invalid == []
    assert complete.settings.ASSISTANT_RETRIEVER is AssistantRetriever.OPENAI
    assert API_KEY not in " ".join(p.render() for p in environment.problems)


def test_embeddings_selection_needs_the_extra(monkeypatch):
    monkeypatch.setattr(embeddings, "missing", lambda: "the tokenizers package is not installed")
    environment = load_environment({"APP_ENV": "test", "ASSISTANT_RETRIEVER": "embeddings"})
    [problem] = environment.invalid
    assert problem.variable == "ASSISTANT_RETRIEVER"
    assert "tokenizers" in problem.message
    assert "chatdesk[embeddings]" in problem.fix and "ASSISTANT_RETRIEVER=lexical" in problem.fix


def test_an_unknown_retriever_is_refused_and_lexical_is_the_default():
    assert load_environment({"APP_ENV": "test"}).settings.ASSISTANT_RETRIEVER == "lexical"
    environment = load_environment({"APP_ENV": "test", "ASSISTANT_RETRIEVER": "bm25"})
    [problem] = environment.invalid
    assert problem.variable == "ASSISTANT_RETRIEVER" and problem.code == E_INVALID
    assert "lexical" in problem.message and "openai" in problem.message


def test_assistant_eval_accepts_the_openai_retriever(openai_env, tmp_path):
    suite = tmp_path / "suite.jsonl"
    suite.write_text(
        '{"id": "hours", "message": "When is your office open?", "expect": "answer", '
        '"entry": "office-hours"}\n'
        '{"id": "cat", "message": "My cat knocks glasses off the table", "expect": "escalate"}\n',
        encoding="utf-8",
    )
    out = io.StringIO()
    with FakeEmbeddings() as fake:
        openai_env(fake.url)
        call_command(
            "assistant-eval",
            "--kb",
            str(EXAMPLE_KB),
            "--suite",
            str(suite),
            "--retriever",
            "openai",
            "--json",
            stdout=out,
        )
    cases = {c["id"]: c for c in json.loads(out.getvalue())["cases"]}
    assert cases["hours"]["decision"] == "answer" and cases["hours"]["entry"] == "office-hours"
    assert cases["cat"]["decision"] == "escalate"
    assert fake.requests


def test_assistant_eval_refuses_the_openai_retriever_without_an_endpoint(settings, tmp_path):
    settings.ENV = settings.ENV.model_copy(update={"LLM_BASE_URL": None, "EMBEDDINGS_MODEL": None})
    suite = tmp_path / "suite.jsonl"
    suite.write_text('{"id": "a", "message": "hi", "expect": "escalate"}\n', encoding="utf-8")
    with pytest.raises(CommandError, match="openai retriever needs LLM_BASE_URL"):
        call_command(
            "assistant-eval",
            "--kb",
            str(EXAMPLE_KB),
            "--suite",
            str(suite),
            "--retriever",
            "openai",
        )
