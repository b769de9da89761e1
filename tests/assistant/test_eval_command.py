import json
import os
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.assistant.conftest import EXAMPLE_KB, EXAMPLE_SUITE, SUITES


def evaluate(kb, suite, *extra) -> dict:
    out = StringIO()
    call_command(
        "assistant-eval", "--kb", str(kb), "--suite", str(suite), "--json", *extra, stdout=out
    )
    return json.loads(out.getvalue())


def test_the_example_suite_gives_the_expected_figures():
    report = evaluate(EXAMPLE_KB, EXAMPLE_SUITE)
    assert report["summary"] == {
        "cases": 10,
        "answered_correctly": 6,
        "escalated_correctly": 4,
        "wrong_answers": 0,
        "missed_answers": 0,
        "answer_accuracy": 1.0,
        "wrong_answer_rate": 0.0,
        "escalation_rate": 0.4,
        "coverage": 1.0,
        "escalation_recall": 1.0,
    }
    by_id = {case["id"]: case for case in report["cases"]}
    assert by_id["hours-id"]["reply"].startswith("Halo Budi! Our office is open")
    assert by_id["price-id"]["reasons"][0] == "forbidden topic: pricing ('biaya')"
    assert set(by_id["price-id"]) >= {"id", "decision", "entry", "score", "reply", "reasons"}


def test_the_education_suite_has_no_wrong_answers_and_escalates_every_risky_case():
    summary = evaluate(EXAMPLE_KB, SUITES / "education.jsonl")["summary"]
    assert summary["wrong_answers"] == 0
    assert summary["escalation_recall"] == 1.0
    assert summary["coverage"] >= 0.85  # 28 of 31 answerable cases today


def test_the_table_output_ends_with_the_summary():
    out = StringIO()
    call_command(
        "assistant-eval", "--kb", str(EXAMPLE_KB), "--suite", str(EXAMPLE_SUITE), stdout=out
    )
    text = out.getvalue()
    assert "hours-en" in text
    assert (
        "10 cases: 6 answered correctly, 4 escalated correctly, 0 wrong answers, 0 missed" in text
    )


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("suite", "error"),
    [
        ('{"id": "a", "message": "hi", "expect": "answer"\n', "line 1: not valid JSON"),
        (
            '{"id": "a", "message": "hi", "expect": "reply"}\n',
            "line 1: expect: Input should be 'answer' or 'escalate'",
        ),
        (
            '{"id": "a", "message": "hi", "expect": "answer", "entry": "nope"}\n',
            "entry 'nope' is not",
        ),
        ('{"id": "a", "text": "hi", "expect": "escalate"}\n', "line 1: text: unknown key"),
        ("# only a comment\n", "the suite has no cases"),
    ],
)
def test_a_bad_suite_is_refused_with_a_clear_message(tmp_path, suite, error):
    path = write(tmp_path, "suite.jsonl", suite)
    with pytest.raises(CommandError, match=error):
        evaluate(EXAMPLE_KB, path)


def test_a_bad_knowledge_base_or_missing_file_is_refused(tmp_path):
    bad = write(tmp_path, "kb.yaml", "knowledge:\n  - {id: a}\n")
    with pytest.raises(CommandError, match=r"knowledge\[0\] \(id a\)\.topic: Field required"):
        evaluate(bad, EXAMPLE_SUITE)
    with pytest.raises(CommandError, match="Suite file not found"):
        evaluate(EXAMPLE_KB, tmp_path / "missing.jsonl")


def test_the_console_script_exits_non_zero_on_bad_input(tmp_path):
    env = {**os.environ, "APP_ENV": "test", "PYTHONPATH": "src"}
    missing = tmp_path / "missing.yaml"
    run = subprocess.run(
        [sys.executable, "-m", "chatdesk", "assistant-eval", "--kb", str(missing), "--suite", "x"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert run.returncode != 0
    assert "Knowledge base file not found" in run.stderr
