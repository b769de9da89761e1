"""Scope-gate benchmark on CLINC150 (Larson et al., EMNLP 2019).

    .venv/bin/python bench/assistant_scope.py [PATH/TO/data_full.json] [--retriever lexical]

(a) Full protocol: the 150 intents are knowledge entries (their train utterances are the example
    questions); in-scope accuracy (answered with the right entry) and out-of-scope recall
    (escalated) on test + oos_test, next to the paper's anchors.
(b) Scoped workspace: the knowledge base holds the intents of a few domains (default banking and
    credit_cards); every other test query (other domains and oos_test) must escalate. The
    threshold is the one that maximises coverage on val at a wrong-answer rate of at most 1%;
    coverage and wrong answers are then reported on test.

Wrong-answer rate = wrong answers / answers sent (what customers see), where an answer is wrong
when it names another entry or answers a query that should have escalated.

Only train/val (and oos_train/oos_val) are used to tune anything: `--fit-calibration` fits the
constants of `chatdesk.assistant.calibration` (see FIT_SOURCE) and prints them.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from chatdesk.assistant import calibration  # noqa: E402
from chatdesk.assistant.conf import DEFAULT_THRESHOLD  # noqa: E402
from chatdesk.assistant.knowledge import Entry  # noqa: E402
from chatdesk.assistant.retrieval import LexicalRetriever  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "clinc150" / "data_full.json"
PAPER = {"BERT oos-threshold": (96.2, 52.3), "best oos recall (Rasa, OOS+)": (None, 66.0)}


EMBEDDING_CACHE = ROOT / "var" / "bench" / "clinc150-minilm.npz"


class CachedEncoder:
    """Embeds each distinct text once (the same utterances recur across protocols and runs).

    CLINC150 is ~24k utterances: about 15 minutes of CPU on a busy 2-core machine. The vectors
    are kept in var/bench/ between runs; delete the file to recompute.
    """

    def __init__(self):
        from chatdesk.assistant.embeddings import default_encoder

        self.encode = default_encoder()
        self.cache: dict[str, np.ndarray] = {}
        if EMBEDDING_CACHE.is_file():
            stored = np.load(EMBEDDING_CACHE, allow_pickle=False)
            self.cache = dict(zip(stored["texts"].tolist(), stored["vectors"], strict=True))
        self.dirty = False

    def __call__(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if missing:
            for text, vector in zip(missing, self.encode(missing), strict=True):
                self.cache[text] = vector
            self.dirty = True
        return np.stack([self.cache[t] for t in texts])

    def save(self) -> None:
        if self.dirty:
            EMBEDDING_CACHE.parent.mkdir(parents=True, exist_ok=True)
            texts = list(self.cache)
            np.savez(
                EMBEDDING_CACHE,
                texts=np.array(texts),
                vectors=np.stack([self.cache[t] for t in texts]),
            )


def embedding_retriever(entries):
    from chatdesk.assistant.embeddings import EmbeddingRetriever

    global _encoder
    if _encoder is None:
        _encoder = CachedEncoder()
    return EmbeddingRetriever(entries, encoder=_encoder)


_encoder = None
embedding_retriever.name = "embeddings"
RETRIEVERS = {"lexical": LexicalRetriever, "embeddings": embedding_retriever}
MAX_WRONG = 0.01


@dataclass
class Run:
    gold: np.ndarray  # entry key, or "oos" when the query must escalate
    top: np.ndarray  # top entry key ("" when nothing matched)
    confidence: np.ndarray
    features: np.ndarray  # rows of calibration.FEATURES

    def outcome(self, threshold: float) -> dict[str, float]:
        answered = self.confidence >= threshold
        in_scope = self.gold != "oos"
        right = answered & (self.top == self.gold)
        wrong = answered & ~right
        return {
            "in_scope_accuracy": float(right[in_scope].mean()) if in_scope.any() else 0.0,
            "oos_recall": float((~answered[~in_scope]).mean()) if (~in_scope).any() else 0.0,
            "answered": int(answered.sum()),
            "wrong": int(wrong.sum()),
            "wrong_rate": float(wrong.sum() / answered.sum()) if answered.any() else 0.0,
            "wrong_share_of_all": float(wrong.mean()),
        }


def load(path: Path) -> tuple[dict, dict[str, str]]:
    if not path.is_file():
        sys.exit(f"CLINC150 not found at {path}: pass the path to data_full.json")
    data = json.loads(path.read_text())
    domains_file = path.with_name("domains.json")
    if not domains_file.is_file():
        sys.exit(f"{domains_file} is missing (it ships beside data_full.json)")
    domains = json.loads(domains_file.read_text())
    return data, {intent: domain for domain, intents in domains.items() for intent in intents}


def build_entries(data: dict, intents: list[str], intent_domain: dict, n: int) -> list[Entry]:
    questions: dict[str, list[str]] = {}
    for text, intent in data["train"]:
        questions.setdefault(intent, []).append(text)
    return [
        Entry(
            key=intent,
            topic=intent_domain[intent],
            answer=intent.replace("_", " "),  # stands in for an approved answer about it
            questions=tuple(questions[intent][:n]),
        )
        for intent in intents
    ]


def run(retriever, rows: list, in_kb: set[str]) -> Run:
    gold, top, conf, feats = [], [], [], []
    if hasattr(retriever, "_encode"):  # embed the queries in batches, not one by one
        retriever._encode([text for text, _ in rows])
    width = len(calibration.FEATURES[retriever.name])
    for text, intent in rows:
        result = retriever.search(text)
        gold.append(intent if intent in in_kb else "oos")
        top.append(result.top.entry.key if result.top else "")
        conf.append(result.confidence)
        feats.append(
            calibration.feature_vector(retriever.name, result.features)
            if result.features
            else [0.0] * width
        )
    return Run(np.array(gold), np.array(top), np.array(conf), np.array(feats))


def pick_threshold(val: Run, max_wrong: float = MAX_WRONG, rate: str = "wrong_rate") -> float:
    """The threshold with the best val coverage among those whose val `rate` <= max_wrong."""
    best, best_cover = 1.0, -1.0
    for t in np.unique(np.r_[val.confidence, 1.0]):
        o = val.outcome(float(t))
        if o[rate] <= max_wrong and o["in_scope_accuracy"] > best_cover:
            best, best_cover = float(t), o["in_scope_accuracy"]
    return best


def full_protocol(data, intent_domain, retriever_cls, n) -> dict:
    intents = sorted(intent_domain)
    retriever = retriever_cls(build_entries(data, intents, intent_domain, n))
    kb = set(intents)
    test = run(retriever, data["test"] + data["oos_test"], kb)
    val = run(retriever, data["val"] + data["oos_val"], kb)
    # For the paper's comparison: the lowest val threshold whose val oos recall beats 66%.
    t66 = next(
        (float(t) for t in np.unique(val.confidence) if val.outcome(float(t))["oos_recall"] > 0.66),
        1.0,
    )
    top1 = float((test.top == test.gold)[test.gold != "oos"].mean())
    return {
        "at_default_threshold": {"threshold": DEFAULT_THRESHOLD, **test.outcome(DEFAULT_THRESHOLD)},
        "at_val_threshold_for_66_oos_recall": {"threshold": t66, **test.outcome(t66)},
        "top1_accuracy_without_threshold": top1,
    }


def scoped_protocol(data, intent_domain, retriever_cls, n, domains: list[str]) -> dict:
    intents = sorted(i for i, d in intent_domain.items() if d in domains)
    retriever = retriever_cls(build_entries(data, intents, intent_domain, n))
    kb = set(intents)
    val = run(retriever, data["val"] + data["oos_val"], kb)
    test = run(retriever, data["test"] + data["oos_test"], kb)
    threshold = pick_threshold(val)
    at = test.outcome(threshold)
    lenient = pick_threshold(val, rate="wrong_share_of_all")
    return {
        "per_query_reading": {"threshold_from_val": lenient, **test.outcome(lenient)},
        "domains": domains,
        "threshold_from_val": threshold,
        "coverage": at["in_scope_accuracy"],
        "wrong_rate": at["wrong_rate"],
        "wrong": at["wrong"],
        "answered": at["answered"],
        "in_scope_queries": int((test.gold != "oos").sum()),
        "must_escalate_queries": int((test.gold == "oos").sum()),
        "at_default_threshold": test.outcome(DEFAULT_THRESHOLD),
    }


# Where each retriever's calibration is fitted. "val": knowledge bases from the train utterances,
# queries val + oos_val (the lexical constants). "train-holdout": knowledge bases from the first
# 80 train utterances of each intent, queries the other 20 + oos_train, which leaves val clean
# for choosing thresholds and comparing configurations (the embeddings constants).
FIT_SOURCE = {"lexical": "val", "embeddings": "train-holdout"}


def fit_calibration(data, intent_domain, retriever_cls) -> None:
    """Fit the logistic calibration over several knowledge-base shapes (train/val only)."""
    all_domains = sorted(set(intent_domain.values()))
    rng = np.random.default_rng(150)
    shapes = [all_domains]
    shapes += [list(rng.choice(all_domains, size=2, replace=False)) for _ in range(4)]
    shapes += [list(rng.choice(all_domains, size=1, replace=False)) for _ in range(2)]
    source = FIT_SOURCE[retriever_cls.name]
    if source == "val":
        kb_data, rows, sizes = data, data["val"] + data["oos_val"], (5, 20, 100)
    else:
        by_intent: dict[str, list[str]] = {}
        for text, intent in data["train"]:
            by_intent.setdefault(intent, []).append(text)
        kb_data = {"train": [(t, i) for i, texts in by_intent.items() for t in texts[:80]]}
        rows = [(t, i) for i, texts in by_intent.items() for t in texts[80:]] + data["oos_train"]
        sizes = (5, 20, 80)
    xs, ys = [], []
    for domains in shapes:
        intents = sorted(i for i, d in intent_domain.items() if d in domains)
        for n in sizes:
            retriever = retriever_cls(build_entries(kb_data, intents, intent_domain, n))
            r = run(retriever, rows, set(intents))
            matched = r.top != ""
            xs.append(r.features[matched])
            ys.append((r.top == r.gold)[matched].astype(float))
    x, y = np.vstack(xs), np.concatenate(ys)
    intercept, coefficients = calibration.fit_logistic(x, y)
    print(
        f"fitted on {len(y)} {source} queries ({y.mean():.1%} correct tops); "
        "paste into calibration.py:"
    )
    print(f'    "{retriever_cls.name}": (')
    print(f"        {intercept:.4f},")
    print("        {")
    for name, c in zip(calibration.FEATURES[retriever_cls.name], coefficients, strict=True):
        print(f'            "{name}": {c:.4f},')
    print("        },")
    print("    ),")
    p = 1 / (1 + np.exp(-(intercept + x @ coefficients)))
    print("reliability on the fitting data (predicted -> observed):")
    for lo in np.arange(0, 1, 0.1):
        sel = (p >= lo) & (p < lo + 0.1)
        if sel.any():
            band = f"{lo:.1f}-{lo + 0.1:.1f}"
            print(f"  {band}: {p[sel].mean():.3f} -> {y[sel].mean():.3f} (n={sel.sum()})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--retriever", choices=sorted(RETRIEVERS), default="lexical")
    parser.add_argument("--questions", type=int, default=100, help="train utterances per entry")
    parser.add_argument("--domains", default="banking,credit_cards", help="scoped workspace")
    parser.add_argument("--fit-calibration", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    data, intent_domain = load(args.data)
    retriever_cls = RETRIEVERS[args.retriever]
    if args.retriever == "embeddings":
        from chatdesk.assistant.embeddings import INSTALL_HINT, missing

        if missing():
            sys.exit(f"--retriever embeddings needs the extra ({missing()}): {INSTALL_HINT}")
    try:
        return run_report(args, data, intent_domain, retriever_cls)
    finally:
        if _encoder is not None:
            _encoder.save()


def run_report(args, data, intent_domain, retriever_cls) -> int:
    if args.fit_calibration:
        fit_calibration(data, intent_domain, retriever_cls)
        return 0
    domains = [d.strip() for d in args.domains.split(",") if d.strip()]
    unknown = sorted(set(domains) - set(intent_domain.values()))
    if unknown:
        sys.exit(f"unknown domain(s) {unknown}; choose from {sorted(set(intent_domain.values()))}")
    started = time.perf_counter()
    report = {
        "retriever": args.retriever,
        "questions_per_entry": args.questions,
        "full": full_protocol(data, intent_domain, retriever_cls, args.questions),
        "scoped": scoped_protocol(data, intent_domain, retriever_cls, args.questions, domains),
    }
    report["seconds"] = round(time.perf_counter() - started, 1)
    report["command"] = shlex.join(["python", "bench/assistant_scope.py", *sys.argv[1:]])
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    full, scoped = report["full"], report["scoped"]
    print(f"CLINC150 scope gate, retriever={args.retriever}, {args.questions} questions per entry")
    print("(a) Full protocol, test + oos_test     in-scope acc   oos recall")
    for label, key in (
        (f"threshold {DEFAULT_THRESHOLD:.2f} (default)", "at_default_threshold"),
        (
            f"threshold {full['at_val_threshold_for_66_oos_recall']['threshold']:.3f} "
            "(val: >66% oos)",
            "at_val_threshold_for_66_oos_recall",
        ),
    ):
        o = full[key]
        print(f"  {label:<36} {o['in_scope_accuracy']:>11.1%} {o['oos_recall']:>12.1%}")
    for name, (acc, rec) in PAPER.items():
        acc_text = f"{acc:.1f}%" if acc else "-"
        print(f"  paper: {name:<29} {acc_text:>11} {rec:>11.1f}%")
    print(f"  top-1 accuracy with no threshold: {full['top1_accuracy_without_threshold']:.1%}")
    print(f"(b) Scoped workspace ({', '.join(domains)}), test + oos_test")
    print(
        f"  threshold {scoped['threshold_from_val']:.3f} (val, wrong <= {MAX_WRONG:.0%}): "
        f"coverage {scoped['coverage']:.1%}, wrong answers {scoped['wrong_rate']:.2%} "
        f"({scoped['wrong']}/{scoped['answered']}); {scoped['in_scope_queries']} in-scope, "
        f"{scoped['must_escalate_queries']} must escalate"
    )
    q = scoped["per_query_reading"]
    print(
        f"  threshold {q['threshold_from_val']:.3f} (val, wrong answers <= {MAX_WRONG:.0%} of all "
        f"queries): coverage {q['in_scope_accuracy']:.1%}, wrong answers "
        f"{q['wrong_share_of_all']:.2%} of all queries ({q['wrong']}/{q['answered']} answers)"
    )
    d = scoped["at_default_threshold"]
    print(
        f"  threshold {DEFAULT_THRESHOLD:.2f} (default): coverage {d['in_scope_accuracy']:.1%}, "
        f"wrong answers {d['wrong_rate']:.2%} ({d['wrong']}/{d['answered']})"
    )
    print(f"{report['seconds']} s; reproduce: {report['command']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
