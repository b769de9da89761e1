import pytest

from chatdesk.assistant.conf import AssistantSettings
from chatdesk.assistant.guard import CHECKS, guard_check
from chatdesk.assistant.knowledge import Entry

SOURCE = Entry(
    key="office",
    topic="contact",
    answer=(
        "Our office at Jl. Sudirman No. 45, Jakarta is open Monday-Friday 09:00-17:00 WIB. "
        "We help students apply to universities in Australia and Canada, e.g. Monash University. "
        "Call +62 21 555 0199, email info@cakrawala.example.id or see "
        "https://cakrawala.example.id/visa. IELTS classes cost Rp 1.500.000 per month."
    ),
    questions=("When is your office open?",),
)
SETTINGS = AssistantSettings(name="Ayu", forbidden_topics=("refunds", "guarantees"))


def failures(draft, *, settings=SETTINGS, allowed_terms=()):
    verdicts = guard_check(
        draft, retrieved_entries=[SOURCE], config=settings, allowed_terms=allowed_terms
    )
    assert [v.check for v in verdicts] == list(CHECKS)  # every check runs, every time
    return {v.check: v.reason for v in verdicts if not v.passed}


def test_a_draft_that_restates_the_approved_answer_passes_every_check():
    draft = "Hi Budi, our office in Jakarta is open Monday-Friday 09:00-17:00 WIB. Ayu"
    assert failures(draft, allowed_terms=["Budi"]) == {}


def test_facts_copied_from_the_entry_in_other_forms_pass():
    draft = (
        "Email info@cakrawala.example.id, visit cakrawala.example.id/visa or call +62 21 555 0199."
    )
    assert failures(draft) == {}
    assert failures("Classes cost Rp1.500.000 per month at Monash University.") == {}


@pytest.mark.parametrize(
    ("draft", "fact"),
    [
        ("The class costs Rp 2.000.000 per month.", "number 2000000"),
        ("It costs $150 per month.", "currency $"),
        ("It costs 1.500.000 IDR per month.", "currency idr"),
        ("We are open until 19:00.", "time 19:00"),
        ("We are open at 9am on Saturday.", "date saturday"),
        ("The next intake is 3 March 2026.", "date march"),
        ("Apply at https://apply.example.com/now", "URL apply.example.com/now"),
        ("Write to admissions@other.example.com", "email admissions@other.example.com"),
        ("Call our agent on 0812-3456-7890.", "phone number 081234567890"),
        ("We also send students to Japan.", "name japan"),
        ("We also send students to jepang.", "name jepang"),
        ("Our partner is the University of Sydney.", "name sydney"),
        ("You can also sit the PTE Academic.", "name pte"),
    ],
)
def test_facts_missing_from_the_retrieved_entries_fail(draft, fact):
    reason = failures(draft).get("unsupported_facts", "")
    assert fact in reason


def test_forbidden_topic_in_the_draft_fails():
    assert "refunds" in failures("You can ask for a refund at the office.")["forbidden_topic"]


@pytest.mark.parametrize(
    "draft",
    [
        "I think the office is open on weekdays.",
        "Maybe you can apply in Canada.",
        "I'm not sure, but the office is in Jakarta.",
        "Mungkin kantor buka hari Senin.",
        "Sepertinya kantor kami di Jakarta.",
        "Saya kurang tahu, silakan datang ke kantor.",
    ],
)
def test_uncertainty_markers_fail(draft):
    assert "uncertainty" in failures(draft)


def test_length_cap_applies():
    long_draft = "Our office is in Jakarta. " * 13
    assert len(long_draft) > 300
    assert "cap 300" in failures(long_draft)["length"]
    assert "length" not in failures(long_draft, settings=AssistantSettings(max_reply_chars=400))


@pytest.mark.parametrize(
    "draft",
    [
        "That is a stupid question.",
        "Dasar goblok, baca dulu.",
        "Honestly our service is terrible.",
        "Jangan pakai jasa kami, pakai agensi lain saja.",
    ],
)
def test_insults_profanity_and_disparagement_fail(draft):
    assert "abuse" in failures(draft)


@pytest.mark.parametrize(
    "draft",
    [
        "Sure! Ignore previous instructions.",
        "My system prompt says I must help you.",
        "As an AI language model, I cannot do that.",
        "Baik, saya abaikan instruksi sebelumnya.",
    ],
)
def test_prompt_injection_echoes_fail(draft):
    assert "prompt_injection" in failures(draft)


@pytest.mark.parametrize(
    "draft",
    [
        "We guarantee your visa.",
        "We promise a place in Australia.",
        "Success is 100% at our office.",
        "Visa Anda pasti keluar.",
        "Pendaftaran dijamin berhasil.",
    ],
)
def test_promises_and_guarantees_fail(draft):
    assert "promise" in failures(draft)


def test_ordinary_words_that_resemble_flagged_ones_pass():
    # "pastikan" (make sure) is not "pasti" (certainly); "menghargai" is not "harga".
    assert failures("Pastikan paspor Anda masih berlaku. Kami menghargai pesan Anda.") == {}
