"""Escalation reasons and guard checks as stable codes, for counting and for metric labels.

The assistant records reasons as sentences (`AssistantDraft.reasons`, written by
assistant/decide.py and assistant/respond.py); each begins with a fixed prefix, matched here
with SQL LIKE patterns so the database does the counting. tests/reports/test_assistant_metrics.py
runs the real decision code for each reason, so a reworded prefix fails a test instead of
silently moving counts to "other".
"""

from __future__ import annotations

from chatdesk.assistant.guard import CHECKS

# (code, label, LIKE pattern), first match wins. Patterns avoid "_" (a LIKE wildcard).
REASONS: tuple[tuple[str, str, str], ...] = (
    ("forbidden_topic", "Forbidden topic", "forbidden topic:%"),
    ("low_confidence", "Low confidence", "low confidence %"),
    ("no_match", "No matching knowledge", "no knowledge entry matches%"),
    ("entry_unusable", "Entry disabled or topic not allowed", "entry % is disabled%"),
    ("composer_failed", "Composer (LLM) failed", "composer failed:%"),
    ("guard", "Blocked by the guard", "guard %"),
    ("send_refused", "Send refused", "send refused:%"),
    ("empty_message", "Empty message", "empty message%"),
)
# Appended after an escalation to say what else went wrong; not a cause of escalating.
NOT_A_CAUSE = ("holding message not sent:%",)
OTHER = "other"
REASON_LABELS = {code: label for code, label, _ in REASONS} | {OTHER: "Other"}

CHECK_LABELS = {
    "forbidden_topic": "Forbidden topic",
    "uncertainty": "Uncertainty",
    "length": "Too long",
    "unsupported_facts": "Facts not in the approved answers",
    "abuse": "Insult or disparagement",
    "prompt_injection": "Prompt injection",
    "promise": "Promise or guarantee",
}
assert set(CHECK_LABELS) == set(CHECKS), "label every guard check"


def reason_case_sql(column: str) -> tuple[str, list[str]]:
    """A SQL CASE mapping a reason sentence to its code (NULL when it is not a cause)."""
    whens = [f"WHEN {column} LIKE %s THEN NULL" for _ in NOT_A_CAUSE]
    params: list[str] = list(NOT_A_CAUSE)
    for code, _label, pattern in REASONS:
        whens.append(f"WHEN {column} LIKE %s THEN %s")
        params += [pattern, code]
    return f"CASE {' '.join(whens)} ELSE %s END", [*params, OTHER]


def check_code(name: str) -> str:
    """Only known checks become labels (a metric label set must stay bounded)."""
    return name if name in CHECK_LABELS else OTHER
