import json

import pytest

from chatdesk.assistant.conf import DEFAULT_THRESHOLD
from chatdesk.assistant.knowledge import Entry
from chatdesk.assistant.retrieval import LexicalRetriever


@pytest.fixture(scope="module")
def retriever(education):
    return LexicalRetriever(education.entries)


@pytest.mark.parametrize(
    ("message", "entry"),
    [
        ("What papers do I need for my student visa?", "visa-documents"),
        ("Can I use TOEFL instead of IELTS?", "english-test"),
        ("Do you help students find housing?", "accommodation"),
        ("Syarat dokumen visa pelajar apa aja?", "visa-documents"),
        ("Kantornya buka jam berapa kak?", "office-hours"),
        ("Boleh kerja part time sambil kuliah?", "work-while-studying"),
        # typos, English and Indonesian
        ("wat documnts do i need for a studnt visa", "visa-documents"),
        ("do you hav ielts preperation clases", "ielts-class"),
        ("dokumen untk visa pelajr apa saja", "visa-documents"),
    ],
)
def test_paraphrases_and_typos_find_their_entry_with_confidence(retriever, message, entry):
    result = retriever.search(message)
    assert result.top.entry.key == entry
    assert result.confidence >= DEFAULT_THRESHOLD


def test_typos_are_corrected_to_indexed_words(retriever):
    result = retriever.search("wat documnts do i need for a studnt visa")
    assert result.corrections["documnts"] == "documents"
    assert result.corrections["studnt"] == "student"


@pytest.mark.parametrize(
    "message",
    [
        "Can you recommend a good restaurant in Jakarta?",
        "Who won the football match last night?",
        "Cuaca hari ini gimana?",
        "My laptop screen is broken, can you fix it?",
        "halo kak",
        "asdf qwer zxcv",
    ],
)
def test_out_of_scope_messages_score_below_the_threshold(retriever, message):
    assert retriever.search(message).confidence < DEFAULT_THRESHOLD


def test_earlier_turns_resolve_a_follow_up_but_do_not_carry_an_unrelated_question(retriever):
    alone = retriever.search("kalau ke Inggris kapan?")
    follow_up = retriever.search(
        "kalau ke Inggris kapan?", context=["Kapan intake kuliah dimulai?"]
    )
    assert alone.confidence < DEFAULT_THRESHOLD
    assert follow_up.top.entry.key == "intakes"
    assert follow_up.confidence >= DEFAULT_THRESHOLD
    unrelated = retriever.search("what about the weather there?", context=["When are the intakes?"])
    assert unrelated.confidence < DEFAULT_THRESHOLD


def test_disabled_entries_are_never_returned():
    entries = [
        Entry("hours", "contact", "Open 9-5.", ("When are you open?",), enabled=False),
        Entry("place", "contact", "Jakarta.", ("Where are you?",)),
    ]
    result = LexicalRetriever(entries).search("When are you open?")
    assert [m.entry.key for m in result.matches] in ([], ["place"])


def test_an_empty_knowledge_base_matches_nothing():
    result = LexicalRetriever([]).search("When are you open?")
    assert result.matches == [] and result.confidence == 0.0


def test_confidence_is_calibrated_on_clinc150_validation(clinc_path):
    """Among val queries answered at the default threshold, most answers are right (the
    threshold is a probability), and most out-of-scope queries are refused."""
    data = json.loads(clinc_path.read_text())
    domains = json.loads(clinc_path.with_name("domains.json").read_text())
    intents = set(domains["travel"])
    questions: dict[str, list[str]] = {}
    for text, intent in data["train"]:
        if intent in intents:
            questions.setdefault(intent, []).append(text)
    retriever = LexicalRetriever(
        [Entry(i, "travel", i.replace("_", " "), tuple(q[:50])) for i, q in questions.items()]
    )
    rows = [r for r in data["val"] if r[1] in intents] + data["oos_val"]
    rows += [r for r in data["val"] if r[1] not in intents][:300]
    right = wrong = refused_oos = oos = 0
    for text, intent in rows:
        result = retriever.search(text)
        if intent not in intents:
            oos += 1
        if result.confidence < DEFAULT_THRESHOLD:
            refused_oos += intent not in intents
            continue
        if result.top.entry.key == intent:
            right += 1
        else:
            wrong += 1
    assert right / (right + wrong) >= 0.9
    assert refused_oos / oos >= 0.95
