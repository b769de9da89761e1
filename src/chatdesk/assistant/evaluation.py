"""Offline evaluation of the assistant: run messages through `assistant_decide`, sending nothing.

`assistant_evaluate` is the one entry point for a single message: `chatdesk assistant-eval`
runs every case of a suite through it, and the sandbox page runs an admin's typed message.

SUITE.jsonl has one case per line (blank lines and lines starting with # are skipped)::

    {"id": "hours-id", "message": "jam buka kantor?", "expect": "answer", "entry": "office-hours"}
    {"id": "price", "message": "berapa biayanya?", "expect": "escalate"}
    {"id": "follow-up", "message": "and for Canada?", "history": ["When are the intakes?"],
     "expect": "answer", "entry": "intakes", "name": "Budi Santoso"}

`history` lists the customer's earlier messages, oldest first; `name` is the contact's display
name (for personalisation). Nothing is sent anywhere.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from chatdesk.assistant.compose import ApprovedAnswerComposer, Composer
from chatdesk.assistant.conf import AssistantSettings
from chatdesk.assistant.decide import ANSWER, ESCALATE, Decision, assistant_decide
from chatdesk.assistant.knowledge import Entry, KnowledgeDocument
from chatdesk.assistant.retrieval import Retriever
from chatdesk.assistant.topics import TopicHit, detect_forbidden_topics


class SuiteFormatError(ValueError):
    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("Invalid suite:\n" + "\n".join(f"  - {e}" for e in errors))


class Case(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    message: str
    history: list[str] = []
    expect: Literal["answer", "escalate"]
    entry: str | None = None
    name: str | None = None

    @model_validator(mode="after")
    def _consistent(self):
        if self.expect == ESCALATE and self.entry:
            raise ValueError("a case that expects 'escalate' cannot name an entry")
        return self


def parse_suite(text: str, *, known_entries: set[str]) -> list[Case]:
    cases: list[Case] = []
    errors: list[str] = []
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(f"line {number}: not valid JSON ({exc.msg})")
            continue
        try:
            case = Case.model_validate(raw)
        except ValidationError as exc:
            for e in exc.errors():
                where = ".".join(str(p) for p in e["loc"]) or "case"
                message = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
                errors.append(f"line {number}: {where}: {message.removeprefix('Value error, ')}")
            continue
        if case.id in seen:
            errors.append(f"line {number}: duplicate id {case.id!r}")
        if case.entry and case.entry not in known_entries:
            errors.append(f"line {number}: entry {case.entry!r} is not in the knowledge base")
        seen.add(case.id)
        cases.append(case)
    if not cases and not errors:
        errors.append("the suite has no cases")
    if errors:
        raise SuiteFormatError(errors)
    return cases


@dataclass(frozen=True)
class CaseResult:
    id: str
    expect: Literal["answer", "escalate"]
    expected_entry: str | None
    decision: str
    entry: str | None
    score: float
    reply: str | None
    reasons: tuple[str, ...]

    @property
    def outcome(self) -> str:
        if self.decision == ANSWER:
            if self.expect == ANSWER and self.expected_entry in (None, self.entry):
                return "answered correctly"
            return "wrong answer"
        return "escalated correctly" if self.expect == ESCALATE else "missed answer"

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "decision": self.decision,
            "entry": self.entry,
            "score": self.score,
            "reply": self.reply,
            "reasons": list(self.reasons),
            "expect": self.expect,
            "expected_entry": self.expected_entry,
            "outcome": self.outcome,
        }


@dataclass(frozen=True)
class Evaluation:
    """What the assistant would do with one message, with what the sandbox shows beside it."""

    decision: Decision
    forbidden_hits: tuple[TopicHit, ...]  # forbidden topics the customer's message touches
    composer: str | None  # the composer that ran; None when the scope gate escalated first


class _Recorded:
    """Wraps a composer to learn whether (and which) it ran, without changing what it does."""

    def __init__(self, composer: Composer):
        self.inner = composer
        self.name = getattr(composer, "name", type(composer).__name__)
        self.ran = False

    def compose(self, request):
        self.ran = True
        return self.inner.compose(request)


def assistant_evaluate(
    message: str,
    *,
    history: Sequence[str] = (),
    entries: Sequence[Entry],
    config: AssistantSettings,
    composer: Composer | None = None,
    retriever: Retriever | str = "lexical",
    customer_name: str | None = None,
) -> Evaluation:
    """One message through the worker's decision (scope gate, composer, guard); sends nothing.

    `history` lists the customer's earlier messages oldest first, as people write them down
    (the suite's `history`, the sandbox's earlier turns). `assistant-eval` and the sandbox both
    call this, so what they show is what the worker's `assistant_decide` does.
    """
    # A name is resolved inside `assistant_decide`, which escalates when the retriever fails.
    recorded = _Recorded(composer or ApprovedAnswerComposer())
    decision = assistant_decide(
        message,
        context_turns=list(reversed(history)),
        entries=entries,
        config=config,
        composer=recorded,
        retriever=retriever,
        customer_name=customer_name,
    )
    return Evaluation(
        decision=decision,
        forbidden_hits=tuple(detect_forbidden_topics(message or "", config.forbidden_topics)),
        composer=recorded.name if recorded.ran else None,
    )


def run_suite(
    document: KnowledgeDocument,
    cases: Sequence[Case],
    *,
    composer: Composer | None = None,
    retriever: str = "lexical",
) -> list[CaseResult]:
    # By name: retriever_for caches it per process, and a failing one escalates per case.
    results = []
    for case in cases:
        decision = assistant_evaluate(
            case.message,
            history=case.history,
            entries=document.entries,
            config=document.settings,
            composer=composer,
            retriever=retriever,
            customer_name=case.name,
        ).decision
        results.append(
            CaseResult(
                id=case.id,
                expect=case.expect,
                expected_entry=case.entry,
                decision=decision.action,
                # the entry answered with, or the best candidate when escalating
                entry=(decision.sources or decision.matched or (None,))[0],
                score=decision.score,
                reply=decision.reply,
                reasons=decision.reasons,
            )
        )
    return results


def summarise(results: Sequence[CaseResult]) -> dict:
    count = {o: 0 for o in ("answered correctly", "escalated correctly", "wrong answer")}
    count["missed answer"] = 0
    for r in results:
        count[r.outcome] += 1
    total = len(results)
    answered = sum(r.decision == ANSWER for r in results)
    expected_answers = sum(r.expect == ANSWER for r in results)
    expected_escalations = total - expected_answers

    def ratio(a: int, b: int) -> float:
        return round(a / b, 4) if b else 0.0

    return {
        "cases": total,
        "answered_correctly": count["answered correctly"],
        "escalated_correctly": count["escalated correctly"],
        "wrong_answers": count["wrong answer"],
        "missed_answers": count["missed answer"],
        # share of the answers sent that were right / wrong
        "answer_accuracy": ratio(count["answered correctly"], answered),
        "wrong_answer_rate": ratio(count["wrong answer"], answered),
        "escalation_rate": ratio(total - answered, total),
        # share of answerable cases answered with the right entry
        "coverage": ratio(count["answered correctly"], expected_answers),
        "escalation_recall": ratio(count["escalated correctly"], expected_escalations),
    }
