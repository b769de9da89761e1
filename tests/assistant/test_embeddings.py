import json
from pathlib import Path

import numpy as np
import pytest

from chatdesk.assistant import embeddings
from chatdesk.assistant.conf import DEFAULT_THRESHOLD
from chatdesk.assistant.decide import ANSWER, ESCALATE, assistant_decide, retriever_for
from chatdesk.assistant.embeddings import EmbeddingRetriever
from chatdesk.assistant.evaluation import parse_suite, run_suite, summarise
from chatdesk.assistant.knowledge import Entry
from tests.assistant.conftest import SUITES

pytestmark = pytest.mark.skipif(
    not embeddings.available(),
    reason=f"the [embeddings] extra is not installed ({embeddings.missing()}); "
    f"install it with: {embeddings.INSTALL_HINT}",
)

REFERENCE = Path(__file__).resolve().parent / "fixtures" / "minilm-reference.json"


@pytest.fixture(scope="module")
def retriever(education):
    return retriever_for("embeddings", entries=education.entries, config=education.settings)


def test_the_numpy_encoder_matches_sentence_transformers():
    """The vectors sentence-transformers 6.2 (torch 2.13) gives for the same model, recorded in
    the fixture: English, Indonesian, emoji, accents, an empty text and texts past the model's
    256-word-piece limit."""
    reference = json.loads(REFERENCE.read_text(encoding="utf-8"))
    expected = np.asarray(reference["vectors"], dtype=np.float32)
    actual = embeddings.default_encoder()(reference["texts"])
    assert actual.shape == expected.shape == (len(reference["texts"]), 384)
    cosine = (actual * expected).sum(axis=1) / np.linalg.norm(expected, axis=1)
    assert cosine.min() > 0.99999
    assert np.abs(actual - expected).max() < 1e-4


def test_texts_longer_than_the_model_limit_are_truncated_not_refused():
    encode = embeddings.default_encoder()
    long_text = "When does the next intake start? " * 200
    vectors = encode([long_text, long_text + " and what about visas?"])
    assert np.allclose(vectors[0], vectors[1])  # both cut at 256 word pieces
    assert np.isclose(np.linalg.norm(vectors[0]), 1.0)


@pytest.mark.parametrize(
    ("message", "entry"),
    [
        ("What papers do I need for my student visa?", "visa-documents"),
        ("Am I allowed to take a part-time job while I study?", "work-while-studying"),
        ("Do you help students find housing?", "accommodation"),
    ],
)
def test_english_paraphrases_find_their_entry_with_confidence(retriever, message, entry):
    result = retriever.search(message)
    assert result.top.entry.key == entry
    assert result.confidence >= DEFAULT_THRESHOLD


@pytest.mark.parametrize(
    "message",
    ["Can you recommend a good restaurant in Jakarta?", "Who won the football match last night?"],
)
def test_unrelated_questions_score_below_the_threshold(retriever, message):
    assert retriever.search(message).confidence < DEFAULT_THRESHOLD


def test_the_decision_uses_the_same_guarded_pipeline(education, retriever):
    answered = assistant_decide(
        "What papers do I need for my student visa?",
        entries=education.entries,
        config=education.settings,
        retriever=retriever,
    )
    priced = assistant_decide(
        "How much are the IELTS preparation classes?",
        entries=education.entries,
        config=education.settings,
        retriever=retriever,
    )
    assert answered.action == ANSWER and answered.sources == ("visa-documents",)
    assert priced.action == ESCALATE and "forbidden topic: pricing" in priced.reason


def test_the_education_suite_has_no_wrong_answers(education):
    cases = parse_suite(
        (SUITES / "education.jsonl").read_text(encoding="utf-8"),
        known_entries={e.key for e in education.entries},
    )
    summary = summarise(run_suite(education, cases, retriever="embeddings"))
    assert summary["wrong_answers"] == 0
    assert summary["escalation_recall"] == 1.0


def test_a_follow_up_is_resolved_by_the_earlier_turn(retriever):
    follow_up = retriever.search(
        "kalau ke Inggris kapan?", context=["Kapan intake kuliah dimulai?"]
    )
    assert follow_up.top.entry.key == "intakes"


def test_disabled_entries_are_never_returned():
    entries = [
        Entry("hours", "contact", "Open 9-5.", ("When are you open?",), enabled=False),
        Entry("place", "contact", "We are in Jakarta.", ("Where are you?",)),
    ]
    result = EmbeddingRetriever(entries).search("When are you open?")
    assert [m.entry.key for m in result.matches] == ["place"]


def test_an_empty_knowledge_base_matches_nothing():
    result = EmbeddingRetriever([]).search("When are you open?")
    assert result.matches == [] and result.confidence == 0.0


def test_the_entry_classifier_separates_a_hundred_entries():
    rng = np.random.default_rng(5)
    centres = rng.normal(size=(100, 384)).astype(np.float32)
    vectors = np.repeat(centres, 10, axis=0) + rng.normal(scale=0.5, size=(1000, 384))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    labels = np.repeat(np.arange(100), 10)
    weights, bias = embeddings.fit_entry_classifier(vectors, labels, 100)
    predicted = (vectors * embeddings.CLASSIFIER_SCALE @ weights + bias).argmax(axis=1)
    assert (predicted == labels).mean() > 0.99
