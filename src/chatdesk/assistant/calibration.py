"""Calibration: from a retriever's ranking features to P(the top entry is the right answer).

A logistic model per retriever. The constants below were fitted on CLINC150's train and
validation splits only, over full and scoped workspaces of several sizes: lexical with knowledge
bases built from train utterances and queries from val + oos_val; embeddings on train alone
(entries from 80 utterances of each intent, queries the other 20 + oos_train), so that val stays
unseen for choosing thresholds. Both by::

    .venv/bin/python bench/assistant_scope.py --fit-calibration

which prints this table; paste it here when the features or the retriever change. The threshold
(default 0.70) is compared against this probability, so it means the same for every retriever.
"""

from __future__ import annotations

import math

import numpy as np

# The features each retriever reports (`ScopeResult.features`); "a*b" is a product of two.
FEATURES: dict[str, tuple[str, ...]] = {
    "lexical": (
        "coverage",
        "doc_coverage",
        "margin",
        "relative_score",
        "information",
        "fuzzy",
        "log_length",
        "content_coverage",
        "rarest_missing",
        "log_questions",
        # How much a missing word or a partial match says depends on how many example questions
        # the entry has: with five, customers use words the entry lacks all the time.
        "rarest_missing*log_questions",
        "content_coverage*log_questions",
        "coverage*log_questions",
    ),
    "embeddings": (
        "top_similarity",
        "centroid_similarity",
        "margin",
        "centroid_margin",
        "known_words",
        "log_questions",
        "top_similarity*log_questions",
        "centroid_similarity*log_questions",
        "score_margin",
        "probability",
        "probability_margin",
        # The lexical retriever's view of the same message: where both agree, and the lexical
        # confidence is high, wrong answers are rare.
        "lexical_agrees",
        "lexical_logit",
        "lexical_relative",
    ),
}


def feature_vector(retriever: str, features: dict[str, float]) -> list[float]:
    values = []
    for name in FEATURES[retriever]:
        if "*" in name:
            left, right = name.split("*")
            values.append(features[left] * features[right])
        else:
            values.append(features[name])
    return values


# retriever name -> (intercept, {feature: coefficient})
MODELS: dict[str, tuple[float, dict[str, float]]] = {
    "lexical": (
        -5.8201,
        {
            "coverage": 0.5644,
            "doc_coverage": 2.7419,
            "margin": 2.3516,
            "relative_score": -0.2711,
            "information": 0.4014,
            "fuzzy": 3.1262,
            "log_length": 0.6374,
            "content_coverage": 1.7169,
            "rarest_missing": -0.5012,
            "log_questions": -1.1691,
            "rarest_missing*log_questions": 0.1670,
            "content_coverage*log_questions": 0.6834,
            "coverage*log_questions": 0.4463,
        },
    ),
    "embeddings": (
        -3.3915,
        {
            "top_similarity": 0.7050,
            "centroid_similarity": 1.4584,
            "margin": -0.5626,
            "centroid_margin": 0.1104,
            "known_words": 1.1807,
            "log_questions": -1.6975,
            "top_similarity*log_questions": 0.5191,
            "centroid_similarity*log_questions": 2.0398,
            "score_margin": 0.8246,
            "probability": 0.3783,
            "probability_margin": 0.7616,
            "lexical_agrees": 0.9321,
            "lexical_logit": 0.3170,
            "lexical_relative": 0.5698,
        },
    ),
}


def confidence(retriever: str, features: dict[str, float]) -> float:
    intercept, weights = MODELS[retriever]
    names = FEATURES[retriever]
    values = feature_vector(retriever, features)
    z = intercept + sum(weights[name] * value for name, value in zip(names, values, strict=True))
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


def fit_logistic(
    x: np.ndarray, y: np.ndarray, *, l2: float = 1e-3, iterations: int = 50
) -> tuple[float, np.ndarray]:
    """Maximum-likelihood logistic regression by Newton's method (small L2 for stability)."""
    n, d = x.shape
    design = np.hstack([np.ones((n, 1)), x])
    w = np.zeros(d + 1)
    penalty = l2 * n * np.eye(d + 1)
    penalty[0, 0] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(design @ w, -50, 50)))
        gradient = design.T @ (p - y) + penalty @ w
        hessian = (design * (p * (1 - p))[:, None]).T @ design + penalty
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return float(w[0]), w[1:]
