"""The scope gate's retrievers: rank knowledge entries for a message, with a calibrated confidence.

`LexicalRetriever` (the default) indexes every example question and every approved answer of the
enabled entries as a separate BM25 document (bm25s); an entry scores as its best document, answers
counting for less than questions. Query words the index has never seen are corrected to the
closest indexed word when they are close enough (rapidfuzz), so "scholarsip" or "dokumne" still
find their entry; a corrected word counts for its similarity. Earlier turns of the conversation
add their words at a lower weight, so "and for Japan?" finds the entry the previous question was
about while a new, unrelated question is judged on its own words.

The raw BM25 score is not comparable between knowledge bases, so `confidence` is computed by
`calibration.confidence()` from scale-free features of the ranking (how much of the message the
best entry covers, the margin to the next entry, ...): a probability that the top entry is the
right answer, which is what the workspace threshold compares against.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import bm25s
import numpy as np
from rapidfuzz import fuzz, process

from chatdesk.assistant import calibration
from chatdesk.assistant.knowledge import Entry
from chatdesk.assistant.text import STOPWORDS, index_tokens

# bm25s logs every index build at DEBUG; with an index per knowledge-base version that is noise.
logging.getLogger("bm25s").setLevel(logging.INFO)

ANSWER_WEIGHT = 0.5  # an answer mentions many things it is not about; questions are the signal
CONTEXT_WEIGHT = 0.35  # words of earlier turns, most recent first, decaying by half each turn
TYPO_MIN_LENGTH = 4  # shorter words have too many close neighbours to correct safely
TYPO_CUTOFF = 80.0  # rapidfuzz ratio (0-100) a correction needs


@dataclass(frozen=True)
class Match:
    entry: Entry
    score: float  # raw, only comparable within one search
    matched_text: str  # the question (or answer) that matched best


@dataclass(frozen=True)
class ScopeResult:
    matches: list[Match]  # best first
    confidence: float  # calibrated P(the first match is the right entry), 0..1
    features: dict[str, float] = field(default_factory=dict)
    corrections: dict[str, str] = field(default_factory=dict)

    @property
    def top(self) -> Match | None:
        return self.matches[0] if self.matches else None


class Retriever(Protocol):
    name: str

    def search(self, message: str, *, context: Sequence[str] = (), k: int = 3) -> ScopeResult: ...


EMPTY = ScopeResult(matches=[], confidence=0.0)


class LexicalRetriever:
    name = "lexical"

    def __init__(self, entries: Sequence[Entry]):
        self.entries = [e for e in entries if e.enabled]
        texts: list[str] = []
        doc_entry: list[int] = []
        doc_weight: list[float] = []
        for index, entry in enumerate(self.entries):
            for question in entry.questions:
                texts.append(question)
                doc_entry.append(index)
                doc_weight.append(1.0)
            texts.append(entry.answer)
            doc_entry.append(index)
            doc_weight.append(ANSWER_WEIGHT)
        self._texts = texts
        self._doc_weight = np.asarray(doc_weight, dtype=np.float32)
        # Documents are contiguous per entry: an entry's best document via maximum.reduceat.
        self._entry_starts = np.flatnonzero(np.r_[True, np.diff(doc_entry) != 0])
        tokens = [index_tokens(t) for t in texts]
        self._doc_tokens = [set(t) for t in tokens]
        self._entry_words = [set() for _ in self.entries]
        for index, doc in zip(doc_entry, self._doc_tokens, strict=True):
            self._entry_words[index] |= doc
        self._docs = self._entries_index = None
        self._vocab: list[str] = []
        if not any(tokens):
            return
        # Two views of the same words: each question alone (a close paraphrase of one question
        # wins) and each entry's questions together (words spread over several questions add
        # up). Ranking by both is clearly better than either on CLINC150's validation split.
        # bm25s needs a token in every document; "" never occurs in a query.
        self._docs = bm25s.BM25()
        self._docs.index([t or [""] for t in tokens], show_progress=False)
        entry_tokens = []
        for index, start in enumerate(self._entry_starts):
            end = start + len(self.entries[index].questions)
            entry_tokens.append([t for doc in tokens[start:end] for t in doc] or [""])
        self._entries_index = bm25s.BM25()
        self._entries_index.index(entry_tokens, show_progress=False)
        # Sorted: bm25s builds its vocabulary from a set, and a typo equally close to two words
        # must be corrected the same way in every process (string hashing is randomised).
        self._vocab = sorted(t for t in self._docs.vocab_dict if t)
        n_docs = len(texts)
        df: dict[str, int] = {}
        for doc in self._doc_tokens:
            for token in doc:
                df[token] = df.get(token, 0) + 1
        self._idf = {t: math.log(1 + (n_docs - d + 0.5) / (d + 0.5)) for t, d in df.items()}
        self._unknown_idf = math.log(1 + (n_docs + 0.5) / 0.5)

    def _weighted_terms(
        self, message: str, context: Sequence[str]
    ) -> tuple[dict[str, float], dict[str, float], dict[str, str], list[str]]:
        """{indexed word: weight}, {unknown word: weight}, corrections, the message's words."""
        weights: dict[str, float] = {}
        unknown: dict[str, float] = {}
        corrections: dict[str, str] = {}
        message_tokens = index_tokens(message)
        turns = [(message_tokens, 1.0)]
        for age, turn in enumerate(context):
            turns.append((index_tokens(turn), CONTEXT_WEIGHT * 0.5**age))
        for tokens, weight in turns:
            for token in dict.fromkeys(tokens):
                term, similarity = self._resolve(token, corrections)
                if term is None:
                    unknown[token] = max(unknown.get(token, 0.0), weight)
                else:
                    weights[term] = max(weights.get(term, 0.0), weight * similarity)
        return weights, unknown, corrections, message_tokens

    def _resolve(self, token: str, corrections: dict[str, str]) -> tuple[str | None, float]:
        if token in self._idf:
            return token, 1.0
        if len(token) < TYPO_MIN_LENGTH or token.isdigit():
            return None, 0.0
        best = process.extractOne(token, self._vocab, scorer=fuzz.ratio, score_cutoff=TYPO_CUTOFF)
        if best is None:
            return None, 0.0
        corrections[token] = best[0]
        return best[0], best[1] / 100.0

    def search(self, message: str, *, context: Sequence[str] = (), k: int = 3) -> ScopeResult:
        if self._docs is None:
            return EMPTY
        weights, unknown, corrections, message_tokens = self._weighted_terms(message, context)
        if not weights or not message_tokens:
            return ScopeResult(matches=[], confidence=0.0, corrections=corrections)

        doc_vocab, entry_vocab = self._docs.vocab_dict, self._entries_index.vocab_dict
        per_term = {
            t: self._docs.get_scores_from_ids([doc_vocab[t]]) * self._doc_weight for t in weights
        }
        doc_scores = sum(w * per_term[t] for t, w in weights.items())
        best_doc_scores = np.maximum.reduceat(doc_scores, self._entry_starts)
        pooled = sum(
            w * self._entries_index.get_scores_from_ids([entry_vocab[t]])
            for t, w in weights.items()
            if t in entry_vocab
        )
        if np.isscalar(pooled):  # the message only matched answers
            pooled = np.zeros(len(self.entries), dtype=np.float32)
        top_doc_score = float(best_doc_scores.max())
        if top_doc_score <= 0:
            return ScopeResult(matches=[], confidence=0.0, corrections=corrections)
        entry_scores = best_doc_scores / top_doc_score + pooled / max(float(pooled.max()), 1e-9)
        order = [int(i) for i in np.argsort(-entry_scores, kind="stable")[:k]]
        order = [i for i in order if best_doc_scores[i] > 0]

        matches, best_docs = [], []
        for index in order:
            start = int(self._entry_starts[index])
            end = start + len(self.entries[index].questions) + 1
            best_doc = start + int(np.argmax(doc_scores[start:end]))
            best_docs.append(best_doc)
            matches.append(
                Match(
                    entry=self.entries[index],
                    score=float(entry_scores[index]),
                    matched_text=self._texts[best_doc],
                )
            )
        top = float(entry_scores[order[0]])
        second = float(entry_scores[order[1]]) if len(order) > 1 else 0.0
        features = self._features(
            weights=weights,
            unknown=unknown,
            per_term=per_term,
            best_doc=best_docs[0],
            entry_index=order[0],
            corrections=corrections,
            margin=(top - second) / top,
            relative_score=float(best_doc_scores[order[0]]) / top_doc_score,
            message_tokens=message_tokens,
        )
        return ScopeResult(
            matches=matches,
            confidence=calibration.confidence(self.name, features),
            features=features,
            corrections=corrections,
        )

    def _features(
        self,
        *,
        weights: dict[str, float],
        unknown: dict[str, float],
        per_term: dict[str, np.ndarray],
        best_doc: int,
        entry_index: int,
        corrections: dict[str, str],
        margin: float,
        relative_score: float,
        message_tokens: list[str],
    ) -> dict[str, float]:
        """Scale-free descriptions of the ranking, the inputs of the calibrated confidence."""
        mass = sum(w * self._idf[t] for t, w in weights.items())
        mass += sum(w * self._unknown_idf for w in unknown.values())
        covered = sum(w * self._idf[t] for t, w in weights.items() if per_term[t][best_doc] > 0)
        doc_tokens = self._doc_tokens[best_doc]
        doc_mass = sum(self._idf.get(t, 0.0) for t in doc_tokens) or 1.0
        doc_covered = sum(self._idf.get(t, 0.0) for t in doc_tokens if t in weights)
        # Content words (no stopwords) of the message the entry never mentions: "what if I lost
        # my luggage" shares everything with "what if I lost my card" except the one word that
        # matters. Corrected typos count under their correction.
        entry_words = self._entry_words[entry_index]
        content = [w for w in dict.fromkeys(message_tokens) if w not in STOPWORDS]
        missing = [w for w in content if corrections.get(w, w) not in entry_words]
        rarest_missing = max(
            (self._idf.get(corrections.get(w, w), self._unknown_idf) for w in missing),
            default=0.0,
        )
        return {
            # share of the message's information (idf-weighted words) the best question has
            "coverage": covered / mass if mass else 0.0,
            # share of the best question's information the message has
            "doc_coverage": doc_covered / doc_mass,
            "margin": margin,
            "relative_score": relative_score,
            # matched information in units of one word seen in no document
            "information": covered / self._unknown_idf,
            "fuzzy": fuzz.token_sort_ratio(" ".join(message_tokens), " ".join(doc_tokens)) / 100,
            "log_length": math.log1p(len(set(message_tokens))),
            "content_coverage": 1 - len(missing) / len(content) if content else 0.0,
            "rarest_missing": rarest_missing / self._unknown_idf,
            "log_questions": math.log1p(len(self.entries[entry_index].questions)),
        }
