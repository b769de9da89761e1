import dataclasses
import re

import pytest

from chatdesk.assistant.compose import ComposeRequest, ComposerError
from chatdesk.assistant.conf import AssistantSettings
from chatdesk.assistant.decide import ANSWER, ESCALATE, assistant_decide
from chatdesk.assistant.knowledge import Entry
from chatdesk.assistant.retrieval import LexicalRetriever


class ScriptedComposer:
    """Stands in for an LLM composer: records what it was given, returns a scripted draft."""

    name = "scripted"

    def __init__(self, draft: str = "", error: Exception | None = None):
        self.draft, self.error = draft, error
        self.requests: list[ComposeRequest] = []

    def compose(self, request: ComposeRequest) -> str:
        self.requests.append(request)
        if self.error:
            raise self.error
        return self.draft


def decide(education, message, **kwargs):
    kwargs.setdefault("entries", education.entries)
    kwargs.setdefault("config", education.settings)
    return assistant_decide(message, **kwargs)


def test_a_confident_match_answers_with_the_approved_answer(education):
    decision = decide(education, "Dokumen apa saja untuk visa pelajar?")
    visa = next(e for e in education.entries if e.key == "visa-documents")
    assert decision.action == ANSWER
    assert decision.reply == visa.answer
    assert decision.sources == ("visa-documents",)
    assert decision.score >= education.settings.threshold
    assert decision.verdicts and all(v.passed for v in decision.verdicts)


def test_the_reply_greets_the_customer_by_first_name_in_their_language(education):
    english = decide(education, "What IELTS score do I need?", customer_name="budi santoso")
    indonesian = decide(education, "Skor IELTS minimal berapa untuk kuliah?", customer_name="Budi")
    assert english.reply.startswith("Hi Budi! Most universities ask for IELTS 6.5")
    assert indonesian.reply.startswith("Halo Budi! ")


@pytest.mark.parametrize("name", ["+62 812 3456 7890", "6281234567890", "budi@example.com", ""])
def test_a_display_name_that_is_not_a_name_is_not_used(education, name):
    decision = decide(education, "What IELTS score do I need?", customer_name=name)
    assert decision.reply.startswith("Most universities")


def test_no_greeting_when_the_workspace_turns_personalisation_off(education):
    config = dataclasses.replace(education.settings, use_first_name=False)
    decision = decide(education, "What IELTS score do I need?", config=config, customer_name="Budi")
    assert decision.reply.startswith("Most universities")


def test_below_the_threshold_it_escalates_without_a_reply(education):
    decision = decide(education, "Can you recommend a good restaurant in Jakarta?")
    assert decision.action == ESCALATE
    assert decision.reply is None and decision.sources == ()
    assert decision.reason.startswith("low confidence")


def test_a_forbidden_topic_escalates_even_when_an_entry_matches(education):
    message = "How much are the IELTS preparation classes?"
    decision = decide(education, message)
    assert decision.action == ESCALATE
    assert "forbidden topic: pricing" in decision.reason
    assert decision.matched[0] == "ielts-class"
    # the same question without the price part would have been answered
    assert decide(education, "Do you have IELTS preparation classes?").action == ANSWER


def test_an_entry_filed_under_a_forbidden_topic_never_answers():
    entries = [Entry("fees", "pricing", "Classes are Rp 1.000.000.", ("IELTS class schedule",))]
    decision = assistant_decide("IELTS class schedule", entries=entries, config=AssistantSettings())
    assert decision.action == ESCALATE
    assert decision.matched == ()


def test_an_entry_the_configuration_excludes_never_answers_even_from_a_stale_retriever(education):
    stale = LexicalRetriever(education.entries)  # built before topics were restricted
    config = dataclasses.replace(education.settings, allowed_topics=("contact",))
    decision = decide(
        education, "Dokumen apa saja untuk visa pelajar?", config=config, retriever=stale
    )
    assert decision.action == ESCALATE
    assert decision.reason == "entry visa-documents is disabled or its topic is not allowed"


def test_allowed_topics_limit_the_entries_that_can_answer(education):
    config = dataclasses.replace(education.settings, allowed_topics=("contact",))
    assert decide(education, "What IELTS score do I need?", config=config).action == ESCALATE
    assert decide(education, "Jam buka kantor kapan?", config=config).action == ANSWER


def test_a_hallucinating_composer_is_blocked_by_the_guard(education):
    composer = ScriptedComposer("Most universities ask for IELTS 5.0, and we guarantee a place!")
    decision = decide(education, "What IELTS score do I need?", composer=composer)
    assert decision.action == ESCALATE
    assert decision.reply is None
    assert decision.draft == composer.draft  # kept for the reviewer
    failed = {v.check for v in decision.verdicts if not v.passed}
    assert {"unsupported_facts", "promise"} <= failed
    assert "guard unsupported_facts: not in the approved answers: number 50" in decision.reason


def test_a_good_composer_draft_is_sent(education):
    composer = ScriptedComposer("Most universities ask for IELTS 6.5, with no band below 6.0.")
    decision = decide(education, "What IELTS score do I need?", composer=composer)
    assert decision.action == ANSWER
    assert decision.reply == composer.draft


@pytest.mark.parametrize("error", [ComposerError("timeout after 10s"), RuntimeError("boom")])
def test_a_failing_composer_escalates_instead_of_losing_the_message(education, error):
    decision = decide(
        education, "What IELTS score do I need?", composer=ScriptedComposer(error=error)
    )
    assert decision.action == ESCALATE
    assert decision.reason.startswith("composer failed")


def test_the_composer_never_receives_the_customers_phone_number_or_email(education):
    phone = "+62 812-3456-7890"
    composer = ScriptedComposer("Most universities ask for IELTS 6.5.")
    decide(
        education,
        f"What IELTS score do I need? Call me back on {phone} or budi@example.com",
        context_turns=[f"my number is {phone}", "6281234567890 is my whatsapp"],
        customer_name=phone,  # WhatsApp shows the number when the profile has no name
        composer=composer,
    )
    (request,) = composer.requests
    seen = repr(request)
    # no run of the number's digits survives, whatever the formatting
    assert "4567890" not in re.sub(r"\D", "", seen)
    assert "budi@example.com" not in seen
    assert request.first_name is None
    assert "[number]" in request.message and "[email]" in request.message


def test_an_empty_message_escalates(education):
    assert decide(education, "   ").reason == "empty message"
