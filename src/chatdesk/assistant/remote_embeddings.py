"""The "openai" retriever: the hybrid embeddings retriever with a remote encoder.

For deployments whose OpenAI-compatible provider (`LLM_BASE_URL`, `LLM_API_KEY`) serves an
embeddings model (`EMBEDDINGS_MODEL`). It is `embeddings.EmbeddingRetriever` (similarities, the
per-workspace classifier and the lexical ranking, combined) with MiniLM swapped for
`client.embeddings.create`: texts go in batches, with a short timeout and bounded retries, and the
vectors come back L2-normalised.

What is sent: the knowledge base's questions and answers, the customer's message and earlier
turns, each with email addresses and long numbers (phone numbers) masked by `compose.redact`,
never the customer's phone number or name. The entries' vectors are computed on the first search
and kept with the retriever, which `decide.retriever_for` caches per process keyed by the entries'
content and the endpoint, so an edited knowledge base is embedded again and an unchanged one never.

Calibration: the confidence comes from the embeddings retriever's calibration (fitted on CLINC150
with MiniLM). Every model has its own similarity scale, so that is a starting point only: check
the threshold with `chatdesk assistant-eval --retriever openai` on the workspace's own suite
before trusting it (there is no endpoint here to fit a calibration on).

Any endpoint error or timeout raises `RemoteEmbeddingsError` (a `RetrieverUnavailable`) from
`search`; `assistant_decide` escalates with the reason recorded, so the message is never lost.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import openai
from django.conf import settings

from chatdesk.assistant.compose import redact
from chatdesk.assistant.decide import RetrieverUnavailable
from chatdesk.assistant.embeddings import EmbeddingRetriever
from chatdesk.assistant.knowledge import Entry
from chatdesk.assistant.retrieval import ScopeResult

BATCH_SIZE = 64  # texts per request: providers cap the input list (OpenAI at 2048)
MAX_RETRIES = 1
# The scope gate runs on every inbound message: waiting long for a vector only delays the human.
MAX_TIMEOUT_SECONDS = 10


class RemoteEmbeddingsError(RetrieverUnavailable):
    """The endpoint failed or is not configured; the message is safe to record (no secret)."""


@dataclass(frozen=True)
class Endpoint:
    """Where vectors come from; hashable, so a changed setting is a different cached retriever."""

    base_url: str
    model: str
    api_key: str = field(repr=False)
    timeout: float = MAX_TIMEOUT_SECONDS


def endpoint_from_settings() -> Endpoint:
    env = settings.ENV
    unset = [
        name
        for name in ("LLM_BASE_URL", "LLM_API_KEY", "EMBEDDINGS_MODEL")
        if not getattr(env, name)
    ]
    if unset:
        raise RemoteEmbeddingsError(f"the openai retriever needs {', '.join(unset)} to be set")
    return Endpoint(
        base_url=env.LLM_BASE_URL,
        model=env.EMBEDDINGS_MODEL,
        api_key=env.LLM_API_KEY.get_secret_value(),
        timeout=min(env.LLM_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS),
    )


class RemoteEncoder:
    """texts -> unit vectors (rows), from the endpoint's embeddings API."""

    def __init__(self, endpoint: Endpoint, *, batch_size: int = BATCH_SIZE):
        self.endpoint = endpoint
        self.batch_size = batch_size

    def __call__(self, texts: list[str]) -> np.ndarray:
        # An empty string is refused by some providers; a masked placeholder embeds as noise.
        inputs = [redact(t).strip() or "-" for t in texts]
        rows: list[list[float]] = []
        try:
            # One client per call, closed after it (as the LLM composer does).
            with openai.OpenAI(
                base_url=self.endpoint.base_url,
                api_key=self.endpoint.api_key,
                timeout=self.endpoint.timeout,
                max_retries=MAX_RETRIES,
            ) as client:
                for start in range(0, len(inputs), self.batch_size):
                    batch = inputs[start : start + self.batch_size]
                    response = client.embeddings.create(model=self.endpoint.model, input=batch)
                    data = sorted(response.data, key=lambda d: d.index)
                    if len(data) != len(batch):
                        raise RemoteEmbeddingsError(
                            f"embeddings endpoint returned {len(data)} vectors for {len(batch)} "
                            "texts"
                        )
                    rows.extend(d.embedding for d in data)
        except openai.APITimeoutError:
            raise RemoteEmbeddingsError("embeddings endpoint timed out") from None
        except openai.APIStatusError as exc:
            raise RemoteEmbeddingsError(
                f"embeddings endpoint returned HTTP {exc.status_code}"
            ) from None
        except openai.APIError as exc:
            raise RemoteEmbeddingsError(
                f"embeddings endpoint unavailable ({type(exc).__name__})"
            ) from None
        try:
            vectors = np.asarray(rows, dtype=np.float32)
        except (TypeError, ValueError):
            raise RemoteEmbeddingsError("embeddings endpoint returned malformed vectors") from None
        if vectors.ndim != 2 or not vectors.shape[1] or not np.isfinite(vectors).all():
            raise RemoteEmbeddingsError("embeddings endpoint returned malformed vectors")
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-9)


class _RemoteHybrid(EmbeddingRetriever):
    name = "openai"
    calibration_name = "embeddings"  # a starting point only: see the module docstring


class RemoteEmbeddingRetriever:
    """The hybrid retriever over the endpoint's vectors, built on the first search.

    Building lazily keeps every endpoint call inside `search`, where `assistant_decide` turns a
    failure into an escalation; a failed build is retried on the next message.
    """

    name = "openai"

    def __init__(self, entries: Sequence[Entry], *, encoder: RemoteEncoder):
        self.entries = tuple(entries)
        self._encoder = encoder
        self._inner: EmbeddingRetriever | None = None
        self._lock = threading.Lock()

    def _built(self) -> EmbeddingRetriever:
        with self._lock:
            if self._inner is None:
                self._inner = _RemoteHybrid(self.entries, encoder=self._encoder)
            return self._inner

    def search(self, message: str, *, context: Sequence[str] = (), k: int = 3) -> ScopeResult:
        return self._built().search(message, context=context, k=k)


def remote_retriever(entries: Sequence[Entry], endpoint: Endpoint) -> RemoteEmbeddingRetriever:
    return RemoteEmbeddingRetriever(entries, encoder=RemoteEncoder(endpoint))
