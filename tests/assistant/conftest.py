from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from chatdesk.assistant.knowledge import KnowledgeDocument, parse_knowledge_yaml

EXAMPLES = Path(__file__).resolve().parents[2] / "src" / "chatdesk" / "assistant" / "examples"
EXAMPLE_KB = EXAMPLES / "education.yaml"
EXAMPLE_SUITE = EXAMPLES / "education.jsonl"
SUITES = Path(__file__).resolve().parent / "suites"
CLINC = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "clinc150" / "data_full.json"


@pytest.fixture(scope="session")
def education() -> KnowledgeDocument:
    return parse_knowledge_yaml(EXAMPLE_KB.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def clinc_path() -> Path:
    if not CLINC.is_file():
        pytest.skip(f"CLINC150 is not at {CLINC} (the shared datasets folder beside the repo)")
    return CLINC


@pytest.fixture
def llm_env(settings):
    """`llm_env(url)`: point the LLM_* settings at a fake OpenAI-compatible server."""

    def configure(url: str, timeout: int = 5):
        settings.ENV = settings.ENV.model_copy(
            update={
                "LLM_BASE_URL": url,
                "LLM_API_KEY": SecretStr("sk-test-key-0001"),
                "LLM_MODEL": "tiny-model",
                "LLM_TIMEOUT_SECONDS": timeout,
            }
        )

    return configure
