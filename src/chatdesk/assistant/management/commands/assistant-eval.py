"""`chatdesk assistant-eval --kb KB.yaml --suite SUITE.jsonl [--retriever lexical] [--json]`

Runs every case of the suite through the same decision code the worker uses and reports what the
assistant would have done: the scope gate, the composer (the configured LLM when LLM_BASE_URL,
LLM_API_KEY and LLM_MODEL are set, else the approved answer) and the guard. Sends nothing to a
customer and touches no database. The file formats are described
in `chatdesk.assistant.knowledge` (KB) and `chatdesk.assistant.evaluation` (suite).
"""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from chatdesk.assistant.decide import RETRIEVER_NAMES
from chatdesk.assistant.evaluation import (
    SuiteFormatError,
    parse_suite,
    run_suite,
    summarise,
)
from chatdesk.assistant.knowledge import KnowledgeFormatError, parse_knowledge_yaml
from chatdesk.assistant.llm import composer_from_settings


def _read(path: str, what: str) -> str:
    file = Path(path)
    if not file.is_file():
        raise CommandError(f"{what} file not found: {path}")
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CommandError(f"{what} file is not UTF-8 text: {path}") from None


class Command(BaseCommand):
    help = "Evaluate the assistant on a suite of messages against a knowledge base (sends nothing)."

    def add_arguments(self, parser):
        parser.add_argument("--kb", required=True, help="knowledge base YAML")
        parser.add_argument("--suite", required=True, help="cases, one JSON object per line")
        parser.add_argument("--retriever", choices=RETRIEVER_NAMES, default="lexical")
        parser.add_argument("--json", action="store_true", help="print one JSON document")

    def handle(self, *args, **options):
        try:
            document = parse_knowledge_yaml(_read(options["kb"], "Knowledge base"))
        except KnowledgeFormatError as exc:
            raise CommandError(f"{options['kb']}: {exc}") from None
        try:
            cases = parse_suite(
                _read(options["suite"], "Suite"), known_entries={e.key for e in document.entries}
            )
        except SuiteFormatError as exc:
            raise CommandError(f"{options['suite']}: {exc}") from None

        if options["retriever"] == "embeddings":
            from chatdesk.assistant.embeddings import INSTALL_HINT, missing

            if missing():
                raise CommandError(
                    f"--retriever embeddings needs the optional extra ({missing()}): {INSTALL_HINT}"
                )
        if options["retriever"] == "openai":
            from chatdesk.assistant.remote_embeddings import (
                RemoteEmbeddingsError,
                endpoint_from_settings,
            )

            try:
                endpoint_from_settings()
            except RemoteEmbeddingsError as exc:
                raise CommandError(f"--retriever openai: {exc}") from None
        results = run_suite(
            document, cases, composer=composer_from_settings(), retriever=options["retriever"]
        )
        summary = summarise(results)
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {"cases": [r.as_dict() for r in results], "summary": summary},
                    ensure_ascii=False,
                    indent=2,
                )
            )
            return
        width = max(len(r.id) for r in results)
        self.stdout.write(f"{'case':<{width}}  decision  entry                 score  outcome")
        for r in results:
            flag = "" if r.outcome in ("answered correctly", "escalated correctly") else "  <--"
            self.stdout.write(
                f"{r.id:<{width}}  {r.decision:<8}  {(r.entry or '-'):<20}  {r.score:5.2f}  "
                f"{r.outcome}{flag}"
            )
            if flag and r.reasons:
                self.stdout.write(f"{'':<{width}}  reasons: {'; '.join(r.reasons)}")
        s = summary
        self.stdout.write(
            f"\n{s['cases']} cases: {s['answered_correctly']} answered correctly, "
            f"{s['escalated_correctly']} escalated correctly, {s['wrong_answers']} wrong answers, "
            f"{s['missed_answers']} missed answers\n"
            f"coverage {s['coverage']:.1%}, answer accuracy {s['answer_accuracy']:.1%}, "
            f"wrong-answer rate {s['wrong_answer_rate']:.1%}, "
            f"escalation rate {s['escalation_rate']:.1%}"
        )
