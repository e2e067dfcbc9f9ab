"""Theme classifier and embedder on real French and English feedback (no database), and the
`triage_evaluate` command on small CSV files."""

import csv
import io
import json

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from moulin.triage.engine import evaluation
from moulin.triage.engine.classifier import Prediction, ThemeClassifier, evaluate
from moulin.triage.engine.embedders import DEFAULT_EMBEDDER, get_embedder

FEEDBACK = {
    "export": [
        "The Excel export fails with more than 10,000 lines",
        "Exporting the report to CSV gives an empty file",
        "Can we export the dashboard as a PDF?",
        "Export button does nothing on the invoices page",
        "L'export Excel plante dès qu'il y a beaucoup de lignes",
        "Le fichier CSV exporté est vide",
        "Impossible d'exporter le tableau de bord en PDF",
        "Il faudrait pouvoir exporter les factures en CSV",
    ],
    "bank sync": [
        "Bank synchronisation stopped working since Monday",
        "My bank account does not sync any more",
        "Transactions from the bank arrive two days late",
        "Please support synchronisation with Revolut Business",
        "La synchronisation bancaire ne fonctionne plus",
        "Mon compte bancaire ne se synchronise plus depuis lundi",
        "Les opérations bancaires arrivent avec deux jours de retard",
        "Pouvez-vous ajouter la synchro avec le Crédit Agricole ?",
    ],
    "pricing": [
        "The new price is far too expensive for a small team",
        "Why did my subscription cost go up this month?",
        "We need a cheaper plan for non-profits",
        "The invoice amount is higher than the price on your website",
        "Le nouveau tarif est beaucoup trop cher pour une petite équipe",
        "Pourquoi mon abonnement a-t-il augmenté ce mois-ci ?",
        "Il nous faudrait une offre moins chère pour les associations",
        "Le montant facturé ne correspond pas au prix affiché",
    ],
    "mobile app": [
        "The iPhone app crashes when I open a receipt",
        "The Android app is very slow to start",
        "I cannot log in on the mobile app",
        "Please add offline mode to the mobile application",
        "L'application iPhone plante à l'ouverture d'un justificatif",
        "L'appli Android met une éternité à démarrer",
        "Je n'arrive pas à me connecter sur l'application mobile",
        "Un mode hors ligne dans l'appli mobile serait super",
    ],
}
OFF_TOPIC = "What is the best recipe for a chocolate cake with hazelnuts?"


def _flatten(feedback=FEEDBACK):
    texts = [text for theme in feedback.values() for text in theme]
    labels = [theme for theme, examples in feedback.items() for _ in examples]
    return texts, labels


@pytest.fixture(scope="module")
def classifier():
    texts, labels = _flatten()
    return ThemeClassifier.train(texts, labels)


def test_a_new_item_gets_the_right_theme_suggested(classifier):
    english, french = classifier.predict([
        "Exporting to Excel is broken again",
        "la synchro avec ma banque est en panne",
    ])
    assert (english.label, french.label) == ("export", "bank sync")
    assert not english.unknown and 0 < english.confidence <= 1
    assert english.ranked[0] == ("export", english.confidence)
    assert len(english.ranked) == 4
    assert [p for _, p in english.ranked] == sorted((p for _, p in english.ranked), reverse=True)
    assert classifier.training_report["label_count"] == 4
    assert classifier.training_report["per_label"]["pricing"] == 8


def test_stored_embeddings_give_the_same_suggestions(classifier):
    texts = ["The Android app freezes", "Le prix est trop élevé"]
    vectors = get_embedder().encode(texts)
    assert classifier.predict(texts, embeddings=vectors) == classifier.predict(texts)
    with pytest.raises(ValueError, match="shape"):
        classifier.predict(texts, embeddings=vectors[:1])


def test_corrected_examples_change_later_predictions(classifier):
    question = "Please add a dark theme, the screen is too bright at night"
    before = dict(classifier.predict([question])[0].ranked)
    texts, labels = _flatten()
    corrections = ["Add a dark mode please", "Un mode sombre serait bien pour le soir",
                   "The white background hurts my eyes at night"]
    retrained = ThemeClassifier.train(texts + corrections,
                                      labels + ["mobile app"] * len(corrections))
    after = retrained.predict([question])[0]
    assert after.label == "mobile app"
    assert dict(after.ranked)["mobile app"] > before["mobile app"]


def test_an_off_topic_text_is_unknown(classifier):
    prediction = classifier.predict([OFF_TOPIC])[0]
    assert prediction.unknown
    assert prediction.label is None
    assert prediction.ranked  # the ranking is still shown to whoever triages


def test_cold_start_from_theme_names_and_examples_only():
    seeds = {
        "export": ["Export", "Exporting data to Excel, CSV or PDF", "L'export ne marche pas"],
        "bank sync": ["Bank synchronisation", "Connecting bank accounts",
                      "Synchronisation bancaire"],
        "pricing": ["Pricing", "Price, plans and subscription cost", "C'est trop cher"],
    }
    cold = ThemeClassifier.train([], [], seed_examples=seeds)
    predictions = cold.predict(["Le fichier Excel exporté est vide",
                                "My bank transactions are not imported",
                                "Your plans are too expensive"])
    assert [p.label for p in predictions] == ["export", "bank sync", "pricing"]
    assert cold.training_report["labelled_texts"] == 0
    assert cold.training_report["seed_examples"] == 9


def test_two_themes_are_told_apart_both_ways():
    """Two themes: the joint SVM keeps a single row of weights, read for both themes."""
    texts, labels = _flatten({key: FEEDBACK[key] for key in ("export", "pricing")})
    two = ThemeClassifier.train(texts, labels)
    predictions = two.predict(["Le PDF exporté est vide", "Your new plan is too expensive"])
    assert [p.label for p in predictions] == ["export", "pricing"]
    assert all(p.confidence > 0.5 for p in predictions)


def test_a_single_theme_still_separates_related_and_unrelated_texts():
    single = ThemeClassifier.train(FEEDBACK["export"], ["export"] * 8)
    related, unrelated = single.predict(["Export to CSV is broken", OFF_TOPIC])
    assert related.label == "export" and not related.unknown
    assert unrelated.unknown and unrelated.label is None
    assert single.labels == ["export"]


def test_five_hundred_themes_train_and_predict():
    words = ["invoice", "export", "bank", "mobile", "price", "login", "report", "tax",
             "payroll", "receipt"]
    texts, labels = [], []
    for n in range(500):
        theme = f"theme {n}"
        texts += [f"Problem {n} with the {words[n % 10]} screen",
                  f"Le {words[n % 10]} numéro {n} ne marche pas"]
        labels += [theme, theme]
    many = ThemeClassifier.train(texts, labels)
    assert len(many.labels) == 500
    prediction = many.predict(["Problem 7 with the payroll screen"], top_k=3)[0]
    assert len(prediction.ranked) == 3
    assert prediction.ranked[0][0] in many.labels


def test_awkward_texts_do_not_crash(classifier):
    awkward = ["", "   ", "😀🎉👍", "x" * 1_000_000,
               "L'export est cassé, the CSV is empty, 导出失败",
               "\x00\x07 control characters", "\ud83d broken surrogate"]
    vectors = get_embedder().encode(awkward)
    assert vectors.shape == (len(awkward), 512) and vectors.dtype == np.float32
    assert np.isfinite(vectors).all()
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    predictions = classifier.predict(awkward)
    assert len(predictions) == len(awkward)
    assert all(isinstance(p, Prediction) for p in predictions)
    assert predictions[4].ranked[0][0] == "export"
    # and as training data
    ThemeClassifier.train(["😀", "🎉", "", "👍"], ["a", "a", "b", "b"])


def test_a_saved_model_predicts_exactly_like_the_original(classifier):
    texts = ["L'appli plante", "Export to PDF please", OFF_TOPIC, ""]
    restored = ThemeClassifier.from_bytes(classifier.to_bytes())
    assert restored.predict(texts) == classifier.predict(texts)
    assert restored.labels == classifier.labels
    assert restored.unknown_threshold == classifier.unknown_threshold
    assert restored.training_report == classifier.training_report
    single = ThemeClassifier.train(FEEDBACK["pricing"], ["pricing"] * 8)
    assert ThemeClassifier.from_bytes(single.to_bytes()).predict(texts) == single.predict(texts)
    with pytest.raises(ValueError, match="not a Moulin theme classifier"):
        ThemeClassifier.from_bytes(b"\x80\x04 something else")


def test_a_large_saved_model_predicts_like_the_original_one_item_at_a_time():
    # above 3,000 texts: no kernel block, and one SVM per theme instead of one joint SVM
    words = ["invoice", "export", "bank", "mobile", "price", "login", "report", "tax",
             "payroll", "receipt"]
    texts, labels = [], []
    for n in range(3_200):
        word = words[n % 10]
        texts.append(f"Ticket {n}: the {word} page is broken" if n % 2
                     else f"Demande {n} : la page {word} ne marche pas")
        labels.append(word)
    large = ThemeClassifier.train(texts, labels)
    assert large.training_report["validation"]["accuracy"] > 0.9
    queries = ["The payroll page is broken again", "La page export ne marche pas", OFF_TOPIC]
    restored = ThemeClassifier.from_bytes(large.to_bytes())
    together = restored.predict(queries)
    assert together == large.predict(queries)
    one_by_one = [restored.predict([query])[0] for query in queries]
    assert [p.label for p in one_by_one] == [p.label for p in together]
    assert [p.confidence for p in one_by_one] == pytest.approx(
        [p.confidence for p in together], abs=1e-5)
    assert [p.label for p in together[:2]] == ["payroll", "export"]


def test_the_unknown_threshold_can_be_changed(classifier):
    restored = ThemeClassifier.from_bytes(classifier.to_bytes())
    restored.unknown_threshold = 1.01
    assert all(p.unknown for p in restored.predict(["Export to Excel fails"]))


def test_nothing_to_learn_from_is_an_error():
    with pytest.raises(ValueError, match="nothing to learn"):
        ThemeClassifier.train([], [])
    with pytest.raises(ValueError, match="labels"):
        ThemeClassifier.train(["a"], [])


def test_unknown_embedder_names_the_valid_ones():
    with pytest.raises(ValueError, match=DEFAULT_EMBEDDER):
        get_embedder("word2vec")
    assert get_embedder() is get_embedder(DEFAULT_EMBEDDER)


def test_evaluate_reports_scores_per_theme_and_confusions(classifier):
    texts = ["Export CSV vide", "Banking sync is down", "Too expensive", "App crashes on iOS",
             "Le prix est trop cher"]
    labels = ["export", "bank sync", "pricing", "mobile app", "mobile app"]
    result = evaluate(classifier, texts, labels)
    assert result["accuracy"] == 0.8
    assert result["confusion_pairs"] == [["mobile app", "pricing", 1]]
    assert result["per_label"]["mobile app"] == {"precision": 1.0, "recall": 0.5, "f1": 0.6667,
                                                 "support": 2}
    assert 0 < result["macro_f1"] < 1
    # One wrong answer among five: whatever the threshold, what would be applied automatically
    # is a subset of the texts, fewer at higher thresholds, and never more right than all.
    shares = [level["share"] for level in result["auto_apply"]]
    assert shares == sorted(shares, reverse=True) and 0 < shares[0] <= 1
    for level in result["auto_apply"]:
        applied = round(level["share"] * 5)
        right = round((level["accuracy"] or 0) * applied, 3)
        assert right == int(right) and right <= min(applied, 4)  # 4 of the 5 are right
    assert 0 <= result["calibration_error"] <= 1
    assert sum(bin_["items"] for bin_ in result["calibration"]) == 5


def test_calibration_error_is_the_gap_between_confidence_and_right_answers():
    from moulin.triage.engine.classifier import auto_apply_figures, calibration

    # Ten answers at 95 % of which 9 are right, ten at 55 % of which 3 are right.
    confidences = np.array([0.95] * 10 + [0.55] * 10)
    correct = np.array([True] * 9 + [False] + [True] * 3 + [False] * 7)
    error, bins = calibration(confidences, correct)
    assert bins == [{"from": 0.5, "to": 0.6, "items": 10, "confidence": 0.55, "accuracy": 0.3},
                    {"from": 0.9, "to": 1.0, "items": 10, "confidence": 0.95, "accuracy": 0.9}]
    assert error == pytest.approx(0.5 * 0.25 + 0.5 * 0.05)
    unknown = np.zeros(20, dtype=bool)
    unknown[0] = True  # set aside as "unknown": never applied automatically
    figures = {level["threshold"]: level for level in
               auto_apply_figures(confidences, correct, unknown)}
    assert figures[0.9] == {"threshold": 0.9, "share": 0.45, "accuracy": round(8 / 9, 4)}
    assert figures[0.5] == {"threshold": 0.5, "share": 0.95, "accuracy": round(11 / 19, 4)}
    assert figures[0.95]["share"] == 0.45  # 0.95 counts from 0.95 itself
    assert calibration(np.array([1.0]), np.array([True])) == (0.0, [
        {"from": 0.9, "to": 1.0, "items": 1, "confidence": 1.0, "accuracy": 1.0}])


# ---------------------------------------------------------------- triage_evaluate command
def _write_csv(path, rows, header=("text", "category"), encoding="utf-8"):
    with path.open("w", newline="", encoding=encoding) as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _split_files(tmp_path):
    train, test = [], []
    for theme, examples in FEEDBACK.items():
        train += [(text, theme) for text in examples[:3] + examples[4:7]]
        test += [(text, theme) for text in (examples[3], examples[7])]
    return _write_csv(tmp_path / "train.csv", train), _write_csv(tmp_path / "test.csv", test)


def _run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("triage_evaluate", *args, stdout=out, stderr=err)
    return out.getvalue()


def test_evaluate_command_prints_a_report_and_json_last(tmp_path):
    train, test = _split_files(tmp_path)
    unknown = _write_csv(tmp_path / "unknown.csv", [(OFF_TOPIC,), ("Who won the football "
                                                                  "match yesterday?",)],
                         header=("text",))
    output = _run("--train", str(train), "--test", str(test), "--unknown", str(unknown))
    lines = output.strip().splitlines()
    summary = json.loads(lines[-1])
    assert summary["accuracy"] >= 0.75
    assert {"macro_f1", "items_per_s", "unknown_recall", "accuracy_with_unknown"} <= set(summary)
    assert summary["test_items"] == 8 and summary["unknown_items"] == 2
    assert any(line.strip().startswith("accuracy") for line in lines)
    assert any(line.strip().startswith("calibration") for line in lines)
    assert [level["threshold"] for level in summary["auto_apply"]] == [0.5, 0.6, 0.7, 0.8,
                                                                      0.9, 0.95]
    assert 0 <= summary["calibration_error"] <= 1


def test_evaluate_command_few_shot_draws(tmp_path):
    train, test = _split_files(tmp_path)
    summary = json.loads(_run("--train", str(train), "--test", str(test), "--shots", "3",
                              "--repeats", "2").strip().splitlines()[-1])
    assert summary["draws"] == 2 and summary["shots"] == 3
    assert "accuracy_sd" in summary


def test_evaluate_command_explains_bad_input(tmp_path):
    train, test = _split_files(tmp_path)
    cases = {
        "no such file": ["--train", str(tmp_path / "missing.csv"), "--test", str(test)],
        "no column 'body'": ["--train", str(train), "--test", str(test), "--text-col", "body"],
        "empty": ["--train", str(_write_csv(tmp_path / "empty.csv", [], header=())),
                  "--test", str(test)],
        "at least 2 training examples": [
            "--train", str(_write_csv(tmp_path / "one.csv", [("Export CSV", "export"),
                                                             ("Export PDF", "export"),
                                                             ("Too expensive", "pricing")])),
            "--test", str(test)],
        "not UTF-8": ["--train", str(_write_csv(tmp_path / "latin.csv",
                                                [("Problème d'export", "export")] * 3,
                                                encoding="latin-1")), "--test", str(test)],
        "valid names": ["--train", str(train), "--test", str(test), "--embedder", "nope"],
    }
    for message, args in cases.items():
        with pytest.raises(CommandError, match=message):
            _run(*args)


def test_evaluate_command_reads_utf8_with_bom_and_semicolons(tmp_path):
    rows = [(text, theme) for theme, examples in FEEDBACK.items() for text in examples[:4]]
    train = tmp_path / "bom.csv"
    with train.open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(("verbatim", "theme"))
        writer.writerows(rows)
    summary = json.loads(_run("--train", str(train), "--test", str(train), "--text-col",
                              "verbatim", "--label-col", "theme").strip().splitlines()[-1])
    assert summary["accuracy"] == 1.0


def test_evaluate_files_keep_line_separators_inside_a_text(tmp_path):
    # Texts pasted from a word processor carry U+2028 / U+2029 / form feeds: one row each.
    path = tmp_path / "pasted.csv"
    path.write_text("text,category\n"
                    "Export fails\u2028since Monday,export\n"
                    '"Too expensive\u2029for us\nreally",pricing\n'
                    "Dark mode\x0cplease,ui\n", encoding="utf-8")
    data = evaluation.read_labelled(path, "text", "category")
    assert data.texts == ["Export fails\u2028since Monday", "Too expensive\u2029for us\nreally",
                          "Dark mode\x0cplease"]
    assert data.labels == ["export", "pricing", "ui"] and data.skipped == 0


def test_the_auto_apply_accuracy_over_several_draws_counts_every_item_applied():
    """A draw that applied 1 item (right) weighed as much as one that applied 90 (half
    right): the average said 75 % right where 46 of 91 items were."""
    draws = [[{"threshold": 0.9, "share": 0.01, "accuracy": 1.0}],
             [{"threshold": 0.9, "share": 0.9, "accuracy": 0.5}],
             [{"threshold": 0.9, "share": 0.0, "accuracy": None}]]
    [level] = evaluation._mean_auto_apply(draws)
    assert level["share"] == pytest.approx(0.3033, abs=1e-4)
    assert level["accuracy"] == pytest.approx(46 / 91, abs=1e-4)
    assert evaluation._mean_auto_apply([[{"threshold": 0.95, "share": 0.0,
                                          "accuracy": None}]])[0]["accuracy"] is None
