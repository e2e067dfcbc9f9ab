"""Offline evaluation of the theme classifier on labelled CSV files (no Django).

Used by `manage.py triage_evaluate` and by benchmarks/triage_accuracy.py, so both measure the
exact code the app runs: `ThemeClassifier.train` on the training texts (plus, by default, each
category's name as a seed example, as the app seeds a theme with its name), `predict` with the
stored-embedding fast path, `evaluate` for the scores.
"""

from __future__ import annotations

import csv
import io
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from moulin.triage.engine.classifier import ThemeClassifier, evaluate
from moulin.triage.engine.embedders import Embedder
from moulin.triage.engine.text import label_as_text

_DELIMITERS = ",;\t|"


class DataError(ValueError):
    """A problem with an input file, worded for the person who supplied it."""


@dataclass
class Dataset:
    texts: list[str]
    labels: list[str]
    skipped: int  # rows without a text or a label


def _open_rows(path: str | Path) -> tuple[list[str], list[list[str]]]:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file.")
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # long verbatims are legitimate
    try:
        content = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text (byte {error.start}); save the file as "
                        "UTF-8 CSV and try again.") from error
    if not content.strip():
        raise DataError(f"{path}: the file is empty.")
    first_line = content.split("\n", 1)[0]
    delimiter = max(_DELIMITERS, key=first_line.count)
    try:
        # The csv module finds the rows itself: str.splitlines() also cuts at the line and
        # paragraph separators (U+2028, U+2029, form feed…) that texts pasted from a word
        # processor carry, which split one verbatim into two rows or dropped the character.
        rows = list(csv.reader(io.StringIO(content, newline=""), delimiter=delimiter))
    except csv.Error as error:
        raise DataError(f"{path}: not a readable CSV file ({error}).") from error
    header = [name.strip() for name in rows[0]]
    return header, rows[1:]


def _column(path: str | Path, header: list[str], name: str, role: str) -> int:
    if name not in header:
        shown = ", ".join(repr(h) for h in header) or "none"
        raise DataError(f"{path}: no column {name!r} for the {role} (columns: {shown}); "
                        f"name the right one with --{role}-col.")
    return header.index(name)


def read_labelled(path: str | Path, text_col: str, label_col: str) -> Dataset:
    """Texts and labels of a CSV file with a header row."""
    header, rows = _open_rows(path)
    text_at = _column(path, header, text_col, "text")
    label_at = _column(path, header, label_col, "label")
    texts, labels, skipped = [], [], 0
    for row in rows:
        text = row[text_at].strip() if len(row) > text_at else ""
        label = row[label_at].strip() if len(row) > label_at else ""
        if not text or not label:
            skipped += 1
            continue
        texts.append(text)
        labels.append(label)
    if not texts:
        raise DataError(f"{path}: no row has both a {text_col!r} and a {label_col!r} value.")
    return Dataset(texts, labels, skipped)


def read_texts(path: str | Path, text_col: str) -> list[str]:
    """The non-empty texts of one column of a CSV file."""
    header, rows = _open_rows(path)
    text_at = _column(path, header, text_col, "text")
    texts = [row[text_at].strip() for row in rows if len(row) > text_at and row[text_at].strip()]
    if not texts:
        raise DataError(f"{path}: no row has a {text_col!r} value.")
    return texts


def check_training_set(labels: Sequence[str], shots: int | None) -> None:
    """Every category needs two examples (and `shots` of them for a few-shot draw)."""
    counts = Counter(labels)
    if len(counts) < 2:
        raise DataError("the training file has a single category; a classifier needs two.")
    needed = max(2, shots or 0)
    thin = sorted(label for label, count in counts.items() if count < needed)
    if thin:
        listed = ", ".join(thin[:10]) + (f" and {len(thin) - 10} more" if len(thin) > 10 else "")
        raise DataError(f"each category needs at least {needed} training examples; "
                        f"too few for: {listed}.")


def few_shot_positions(labels: Sequence[str], shots: int, seed: int) -> np.ndarray:
    """`shots` random positions per label (all of them when a label has fewer)."""
    rng = np.random.default_rng(seed)
    by_label: dict[str, list[int]] = {}
    for position, label in enumerate(labels):
        by_label.setdefault(label, []).append(position)
    chosen: list[int] = []
    for label in sorted(by_label):
        positions = by_label[label]
        chosen.extend(rng.choice(positions, size=min(shots, len(positions)),
                                 replace=False).tolist())
    return np.array(sorted(chosen), dtype=np.int64)


def tfidf_baseline(train_texts: Sequence[str], train_labels: Sequence[str],
                   test_texts: Sequence[str], test_labels: Sequence[str]) -> float:
    """Accuracy of the research baseline: word 1–2 + char_wb 2–5 TF-IDF, LinearSVC(C=0.5)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline, make_union
    from sklearn.svm import LinearSVC

    model = make_pipeline(
        make_union(TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True),
                   TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)),
        LinearSVC(C=0.5))
    model.fit(list(train_texts), list(train_labels))
    predicted = model.predict(list(test_texts))
    return float(np.mean(np.asarray(predicted) == np.asarray(test_labels)))


def _mean_auto_apply(draws: list[list[dict]]) -> list[dict]:
    """The auto-apply figures of several draws (each on the same test set), threshold by
    threshold: the mean share applied, and the accuracy over all the items applied in every
    draw (each draw weighted by how many it applied: one applying 1 item does not count as
    much as one applying 1,000)."""
    figures = []
    for levels in zip(*draws, strict=True):
        applied = [(level["share"], level["accuracy"]) for level in levels
                   if level["accuracy"] is not None and level["share"] > 0]
        weight = sum(share for share, _accuracy in applied)
        figures.append({
            "threshold": levels[0]["threshold"],
            "share": round(float(statistics.mean(level["share"] for level in levels)), 4),
            "accuracy": round(sum(share * accuracy for share, accuracy in applied) / weight, 4)
            if weight else None})
    return figures


def run_evaluation(train: Dataset, test: Dataset, *, embedder: Embedder, shots: int | None = None,
                   repeats: int = 1, unknown_texts: Sequence[str] | None = None, seed: int = 0,
                   label_names: bool = True, baseline: bool = False,
                   log: Callable[[str], None] | None = None) -> dict:
    """Train, predict, score; one dict with the figures (see `triage_evaluate`)."""
    say = log or (lambda message: None)
    check_training_set(train.labels, shots)
    started = time.perf_counter()
    say(f"Embedding {len(train.texts)} training texts with {embedder.name}…")
    train_vectors = embedder.encode(train.texts)
    train_embed_s = time.perf_counter() - started

    # End-to-end throughput: embed the test texts and predict from scratch, as intake does.
    started = time.perf_counter()
    test_vectors = embedder.encode(test.texts)
    test_embed_s = time.perf_counter() - started
    unknown_vectors = embedder.encode(list(unknown_texts)) if unknown_texts else None

    draws = list(range(repeats if shots else 1))
    runs, baselines = [], []
    for draw in draws:
        if shots:
            positions = few_shot_positions(train.labels, shots, seed + draw)
        else:
            positions = np.arange(len(train.texts))
        texts = [train.texts[i] for i in positions]
        labels = [train.labels[i] for i in positions]
        seeds = ({label: [label_as_text(label)] for label in sorted(set(labels))}
                 if label_names else None)
        say(f"Training on {len(texts)} texts" + (f" (draw {draw + 1}/{len(draws)})"
                                                  if shots else "") + "…")
        started = time.perf_counter()
        classifier = ThemeClassifier.train(texts, labels, seed_examples=seeds,
                                           embeddings=train_vectors[positions],
                                           embedder=embedder, random_state=seed + draw)
        train_s = time.perf_counter() - started
        started = time.perf_counter()
        scores = evaluate(classifier, test.texts, test.labels, embeddings=test_vectors)
        predict_s = time.perf_counter() - started
        run = {"scores": scores, "train_s": train_s, "predict_s": predict_s,
               "training_report": classifier.training_report,
               "unknown_threshold": classifier.unknown_threshold}
        if unknown_vectors is not None:
            predictions = classifier.predict(list(unknown_texts), embeddings=unknown_vectors,
                                             top_k=1)
            run["unknown_recall"] = sum(p.unknown for p in predictions) / len(predictions)
        runs.append(run)
        if baseline:
            baselines.append(tfidf_baseline(texts, labels, test.texts, test.labels))

    def mean(values: list[float]) -> float:
        return round(float(statistics.mean(values)), 4)

    last = runs[-1]["scores"]
    predict_s = statistics.mean(r["predict_s"] for r in runs)
    result: dict = {
        "train_items": len(train.texts), "test_items": len(test.texts),
        "labels": len(set(train.labels)), "shots": shots, "draws": len(runs),
        "embedder": embedder.name, "label_names_as_seeds": label_names,
        "accuracy": mean([r["scores"]["accuracy"] for r in runs]),
        "macro_f1": mean([r["scores"]["macro_f1"] for r in runs]),
        "items_per_s": round(len(test.texts) / (test_embed_s + predict_s), 1),
        "train_s": round(statistics.mean(r["train_s"] for r in runs), 2),
        "embed_train_s": round(train_embed_s, 2),
        "embed_test_s": round(test_embed_s, 2),
        "predict_s": round(predict_s, 3),
        "unknown_rate_in_scope": mean([r["scores"]["unknown_rate"] for r in runs]),
        "calibration_error": mean([r["scores"]["calibration_error"] for r in runs]),
        "calibration": last["calibration"],
        "auto_apply": _mean_auto_apply([r["scores"]["auto_apply"] for r in runs]),
        "per_label": last["per_label"],
        "confusion_pairs": last["confusion_pairs"],
        "validation": runs[-1]["training_report"].get("validation"),
    }
    if len(runs) > 1:
        result["accuracy_sd"] = round(statistics.pstdev(r["scores"]["accuracy"] for r in runs), 4)
    if unknown_vectors is not None:
        result["unknown_items"] = len(unknown_texts)
        result["unknown_recall"] = mean([r["unknown_recall"] for r in runs])
        result["accuracy_with_unknown"] = mean(
            [r["scores"]["accuracy_with_unknown"] for r in runs])
    if baseline:
        result["baseline_tfidf_svm_accuracy"] = mean(baselines)
    return result
