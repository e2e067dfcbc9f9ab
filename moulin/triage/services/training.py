"""Training the theme classifier, keeping every version, and rolling back.

A version is trained from the taxonomy (names, descriptions and example phrases: enough for a
cold start) and from the themes people applied to feedback (accepted, corrected, set by hand,
merged; never the model's own automatic guesses). Before the final model is trained on every
label, a model trained on 80 % of them is scored on the other 20 % (held-out accuracy,
macro-F1, precision and recall per theme, most confused pairs): those are the numbers the
version page shows. The new version becomes the active one; an admin can activate an earlier
one at any time, and predictions come from it again.
"""

from __future__ import annotations

import logging
import random
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable

import numpy as np
from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.db.models.functions import Greatest
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from moulin.accounts.audit import Origin, audit_record
from moulin.accounts.models import Member, Organisation
from moulin.accounts.selectors import organisation_language
from moulin.core.errors import Conflict, DomainError
from moulin.customers.models import Contact
from moulin.feedback.models import Feedback
from moulin.triage.models import (
    FeedbackAnalysis,
    FeedbackTheme,
    JobStatus,
    ModelVersion,
    Theme,
    TriageSettings,
)
from moulin.triage.services.analysis import (
    HUMAN_ORIGINS,
    analysis_refresh,
    embed,
    text_for_analysis,
)
from moulin.triage.services.jobs import close_stalled
from moulin.triage.services.settings import triage_settings_get
from moulin.triage.vector_store import vector_from_bytes

logger = logging.getLogger(__name__)

HOLD_OUT = 0.2
MIN_HELD_OUT = 5  # fewer labelled items than this in the test split: no held-out metrics
SEED = 0


class TrainingError(DomainError):
    """Training cannot run as things are (no theme…): the message says what to do."""


def _next_number(organisation_id: int) -> int:
    top = ModelVersion.objects.filter(organisation_id=organisation_id).aggregate(n=Max("number"))
    return (top["n"] or 0) + 1


def _new_version(organisation_id: int, actor: Member | None, trigger: str) -> ModelVersion:
    for _attempt in range(5):  # two requests may race for the same number
        try:
            with transaction.atomic():
                return ModelVersion.objects.create(
                    organisation_id=organisation_id, number=_next_number(organisation_id),
                    status=JobStatus.QUEUED, trigger=trigger[:32], trained_by=actor)
        except IntegrityError:
            continue
    raise Conflict(_("Another retraining is being queued: try again in a moment."))


def model_retrain_request(*, organisation_id: int, actor: Member | None,
                          trigger: str = "on demand") -> ModelVersion:
    """Queue a retraining (after commit). While one is still queued, that one is returned:
    ten quick taxonomy edits train once, with all of them."""
    from moulin.triage import tasks

    queued = ModelVersion.objects.defer("artefact").filter(
        organisation_id=organisation_id, status=JobStatus.QUEUED).first()
    if queued is not None:
        return queued
    version = _new_version(organisation_id, actor, trigger)
    transaction.on_commit(lambda: tasks.triage_train.enqueue(version.pk))
    return version


def model_train_now(*, organisation_id: int, trigger: str, actor: Member | None = None,
                    refresh: bool = True) -> ModelVersion:
    """Train a new version in this process (cold start, demo, tests)."""
    version = _new_version(organisation_id, actor, trigger)
    return model_train(version_id=version.pk, refresh=refresh) or version


# --- Training data ------------------------------------------------------------------------------

def _seed_examples(themes: list[Theme]) -> dict[str, list[str]]:
    seeds = {}
    for theme in themes:
        phrases = [theme.name_en, theme.name_fr, theme.description, *(theme.examples or [])]
        seen: list[str] = []
        for phrase in phrases:
            phrase = (phrase or "").strip()
            if phrase and phrase not in seen:
                seen.append(phrase)
        seeds[str(theme.pk)] = seen
    return seeds


# Texts embedded per call when labelled feedback has no stored vector of the current model
# (after a change of embedding model): the worker reports between calls that it is alive.
EMBED_CHUNK = 1000


def _embed_reporting(embedder_name: str, texts: list[str],
                     alive: Callable[[], None]) -> np.ndarray:
    """``embed`` in chunks, calling ``alive`` after each: re-embedding 100,000 labels on the
    slower model takes minutes, and a training silent for 15 minutes is closed as stalled."""
    chunks = []
    for start in range(0, len(texts), EMBED_CHUNK):
        chunks.append(embed(embedder_name, texts[start:start + EMBED_CHUNK]))
        alive()
    return np.vstack(chunks)


def _labelled(organisation_id: int, themes: list[Theme], embedder_name: str,
              alive: Callable[[], None] = lambda: None
              ) -> tuple[list[str], list[str], np.ndarray | None]:
    """(texts, labels, embeddings) of the feedback people put under an active theme;
    ``alive`` is called as the work goes (see ``_embed_reporting``)."""
    active = {t.pk for t in themes}
    pairs = list(FeedbackTheme.objects.filter(
        organisation_id=organisation_id, origin__in=HUMAN_ORIGINS, theme_id__in=active)
        .order_by("feedback_id", "theme_id").values_list("feedback_id", "theme_id"))
    if not pairs:
        return [], [], None
    ids = sorted({feedback_id for feedback_id, _theme in pairs})
    texts: dict[int, str] = {}
    vectors: dict[int, np.ndarray] = {}
    for start in range(0, len(ids), 2000):
        chunk = ids[start:start + 2000]
        for pk, title, text in Feedback.objects.filter(pk__in=chunk).values_list(
                "pk", "title", "text"):
            texts[pk] = text_for_analysis(title, text)
        for pk, raw in FeedbackAnalysis.objects.filter(
                feedback_id__in=chunk, embedder=embedder_name).values_list(
                "feedback_id", "vector"):
            vector = vector_from_bytes(raw)
            if vector is not None:
                vectors[pk] = vector
        alive()
    missing = [pk for pk in ids if pk in texts and pk not in vectors]
    if missing:
        for pk, vector in zip(missing, _embed_reporting(
                embedder_name, [texts[pk] for pk in missing], alive), strict=True):
            vectors[pk] = vector
    pairs = [(f, t) for f, t in pairs if f in texts]
    dims = {vectors[f].shape[0] for f, _t in pairs}
    if len(dims) > 1:  # vectors from another model version of the embedder: re-embed all
        fresh = _embed_reporting(embedder_name, [texts[f] for f, _t in pairs], alive)
        return [texts[f] for f, _t in pairs], [str(t) for _f, t in pairs], fresh
    matrix = np.vstack([vectors[f] for f, _t in pairs]).astype(np.float32) if pairs else None
    return [texts[f] for f, _t in pairs], [str(t) for _f, t in pairs], matrix


def _split(labels: list[str], rng: random.Random) -> tuple[list[int], list[int]]:
    """Stratified 80/20 split of label positions (themes with one label stay in training)."""
    by_label: dict[str, list[int]] = defaultdict(list)
    for index, label in enumerate(labels):
        by_label[label].append(index)
    train, test = [], []
    for label in sorted(by_label):
        positions = by_label[label]
        rng.shuffle(positions)
        n_test = int(round(len(positions) * HOLD_OUT)) if len(positions) >= 3 else 0
        test.extend(positions[:n_test])
        train.extend(positions[n_test:])
    return sorted(train), sorted(test)


class _Abandoned(Exception):
    """The training was closed as stalled while it worked (it was only slow): it stops and
    leaves the version failed, as a stalled job does."""


def _report(version_id: int, **fields) -> None:
    """Write a running version's progress; each report moves ``updated_at``, which says the
    worker is alive (``model_versions_close_stalled``)."""
    if not ModelVersion.objects.filter(pk=version_id, status=JobStatus.RUNNING).update(
            updated_at=timezone.now(), **fields):
        raise _Abandoned


class _Progress:
    """Writes a version's progress at most a few times a second (the page polls it)."""

    def __init__(self, version_id: int, total: int):
        self.version_id = version_id
        self.offset = 0
        self.total = total
        self.last = 0.0
        _report(version_id, progress_done=0, progress_total=total)

    def step(self, done: int, *, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self.last > 0.25:
            self.last = now
            _report(self.version_id, progress_done=min(self.total, done),
                    progress_total=self.total)

    def callback(self, share: int):
        """A progress callback for one training run that counts for ``share`` steps."""
        base = self.offset
        self.offset += share

        def report(*args, **kwargs) -> None:
            done, total = (args + (None, None))[:2]
            if isinstance(done, float) and total is None:  # a fraction
                self.step(base + int(done * share))
            elif isinstance(done, int) and isinstance(total, int) and total > 0:
                self.step(base + int(share * done / total))

        return report


def _train(texts, labels, seeds, embeddings, embedder, progress):
    from moulin.triage.engine.classifier import ThemeClassifier

    with warnings.catch_warnings():
        # Many themes with a handful of examples each is the normal cold start, not a mistake.
        warnings.filterwarnings("ignore", message="The number of unique classes is greater")
        return ThemeClassifier.train(texts, labels, seed_examples=seeds, embeddings=embeddings,
                                     embedder=embedder, random_state=SEED, progress=progress)


def _metrics(classifier, texts, labels, embeddings) -> dict:
    from moulin.triage.engine.classifier import evaluate

    result = evaluate(classifier, texts, labels, embeddings=embeddings)
    return {
        "accuracy": result.get("accuracy"), "macro_f1": result.get("macro_f1"),
        "per_theme": result.get("per_label", {}),
        "confusion_pairs": result.get("confusion_pairs", [])[:10],
        "held_out": len(labels),
        # How far the confidences can be trusted, and what each "apply automatically from"
        # threshold would do on the held-out feedback (shown with the version's numbers).
        "calibration_error": result.get("calibration_error"),
        "auto_apply": result.get("auto_apply", []),
    }


def model_train(*, version_id: int, refresh: bool = True) -> ModelVersion | None:
    """Claim a queued version and train it; the version row tells how it went (failed ones
    keep their message and can be re-run). Returns None when someone else claimed it.
    Its messages and notes are written in the organisation's language, whoever asked."""
    organisation_id = ModelVersion.objects.filter(pk=version_id).values_list(
        "organisation_id", flat=True).first()
    if organisation_id is None:
        return None
    with translation.override(organisation_language(organisation_id)):
        return _model_train(version_id=version_id, refresh=refresh)


def _model_train(*, version_id: int, refresh: bool) -> ModelVersion | None:
    from moulin.triage.engine.embedders import get_embedder

    now = timezone.now()
    claimed = ModelVersion.objects.filter(pk=version_id, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING, started_at=now, updated_at=now, message="", progress_done=0)
    if not claimed:
        return None
    version = ModelVersion.objects.get(pk=version_id)
    organisation_id = version.organisation_id
    settings = triage_settings_get(organisation_id=organisation_id)
    labels_at_start = settings.labels_since_training
    try:
        themes = list(Theme.objects.filter(organisation_id=organisation_id, archived_at=None)
                      .order_by("pk"))
        if not themes:
            raise TrainingError(_("There is no active theme to learn: add themes to the "
                                  "taxonomy first."))
        embedder = get_embedder(settings.embedder)
        seeds = _seed_examples(themes)
        texts, labels, matrix = _labelled(organisation_id, themes, settings.embedder,
                                          alive=lambda: _report(version.pk))
        train_idx, test_idx = _split(labels, random.Random(SEED))
        evaluate_first = len(test_idx) >= MIN_HELD_OUT and len(set(labels)) >= 2
        progress = _Progress(version.pk, 200 if evaluate_first else 100)
        metrics: dict = {"held_out": 0}
        if evaluate_first:
            pick = np.asarray(train_idx)
            held = np.asarray(test_idx)
            probe = _train([texts[i] for i in train_idx], [labels[i] for i in train_idx], seeds,
                           matrix[pick], embedder, progress.callback(100))
            metrics = _metrics(probe, [texts[i] for i in test_idx],
                               [labels[i] for i in test_idx], matrix[held])
        classifier = _train(texts, labels, seeds, matrix, embedder, progress.callback(100))
        progress.step(progress.total, force=True)
        counts = Counter(labels)
        metrics.update({
            "label_count": len(labels), "theme_count": len(themes),
            "labels_per_theme": {str(t.pk): counts.get(str(t.pk), 0) for t in themes},
            "theme_ids": [t.pk for t in themes],
            "unknown_threshold": getattr(classifier, "unknown_threshold", None),
            "report": _json_safe(getattr(classifier, "training_report", {}) or {}),
        })
        if not evaluate_first:
            metrics["note"] = ngettext(
                "Not enough labelled feedback to measure accuracy yet (%(labels)d label; at "
                "least %(minimum)d per theme on 2 themes are needed).",
                "Not enough labelled feedback to measure accuracy yet (%(labels)d labels; at "
                "least %(minimum)d per theme on 2 themes are needed).",
                len(labels)) % {"labels": len(labels), "minimum": 3}
        artefact = classifier.to_bytes()
    except _Abandoned:
        logger.warning("Training of version %s ended after it was closed as stalled",
                       version_id)
        version.refresh_from_db()
        return version
    except Exception as error:
        logger.exception("triage training of version %s failed", version_id)
        message = error.message if isinstance(error, DomainError) else \
            _("Training failed: %s") % str(error)[:400]
        ModelVersion.objects.filter(pk=version.pk, status=JobStatus.RUNNING).update(
            status=JobStatus.FAILED, message=message[:500], finished_at=timezone.now(),
            updated_at=timezone.now())
        version.refresh_from_db()
        return version
    with transaction.atomic():
        # Closed as stalled meanwhile (locked: it cannot be closed from now on): it stays
        # failed, and a retraining asked for since is not replaced by this one.
        if not ModelVersion.objects.select_for_update().filter(
                pk=version.pk, status=JobStatus.RUNNING).exists():
            logger.warning("Training of version %s ended after it was closed as stalled",
                           version_id)
            version.refresh_from_db()
            return version
        # Two workers may train two versions at once: one queued later that already finished
        # learned from a newer taxonomy and more labels. This one is kept (it can be activated
        # by hand) but does not replace it, nor count as the training of the labels since.
        superseded = ModelVersion.objects.select_for_update().filter(
            organisation_id=organisation_id, status=JobStatus.DONE,
            number__gt=version.number).exists()
        if not superseded:
            ModelVersion.objects.filter(organisation_id=organisation_id,
                                        is_active=True).update(is_active=False)
        ModelVersion.objects.filter(pk=version.pk).update(
            status=JobStatus.DONE, is_active=not superseded, artefact=artefact,
            metrics=_json_safe(metrics), embedder=settings.embedder,
            theme_count=len(themes), label_count=len(labels), finished_at=timezone.now(),
            updated_at=timezone.now())
        if not superseded:
            TriageSettings.objects.filter(pk=organisation_id).update(
                labels_since_training=Greatest(F("labels_since_training") - labels_at_start,
                                               0))
        last_erasure = Contact.objects.filter(organisation_id=organisation_id).aggregate(
            last=Max("erased_at"))["last"]
        if last_erasure is not None:  # the version this one replaces may have learned from it
            models_forget_trained_before(organisation_id=organisation_id, moment=last_erasure)
            if superseded and version.started_at is not None and \
                    version.started_at <= last_erasure:  # it read the data before the erasure
                ModelVersion.objects.filter(pk=version.pk).update(artefact=None)
    version.refresh_from_db()
    if refresh and not superseded:
        analysis_refresh(organisation_id=organisation_id)
    return version


def _json_safe(value):
    """Numbers from numpy as plain floats and ints, keys as strings (JSONField)."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        number = float(value)
        return None if number != number else round(number, 4)
    if isinstance(value, float):
        return None if value != value else round(value, 4)
    if isinstance(value, np.ndarray):
        return _json_safe(value.tolist())
    if value is None or isinstance(value, str | int | bool):
        return value
    return str(value)


def model_versions_close_stalled(*, organisation_id: int) -> int:
    """Close as failed the trainings whose worker stopped reporting ``JOB_STALLED_AFTER`` ago
    (a deploy, a crash), which said "running" for ever; returns how many. Each is re-run like
    any failed version (retrain). The same rule as the triage jobs (``jobs.close_stalled``)."""
    return close_stalled(ModelVersion.objects.all(), organisation_id=organisation_id)


def model_version_as_it_stands(version: ModelVersion) -> ModelVersion:
    """``version`` about to be shown or polled: a running one whose worker stopped reporting
    is closed as failed first (``model_versions_close_stalled``), and read again."""
    if version.status == JobStatus.RUNNING and model_versions_close_stalled(
            organisation_id=version.organisation_id):
        version.refresh_from_db()
    return version


def model_activate(*, actor: Member, origin: Origin, version: ModelVersion) -> ModelVersion:
    """Roll back (or forward) to a finished version: predictions come from it again."""
    if version.organisation_id != actor.organisation_id:
        raise DomainError(_("This model is not in your organisation."))
    # (checked in the database: the artefact is megabytes, and callers pass it deferred)
    if version.status != JobStatus.DONE:
        raise Conflict(_("Only a version that finished training can be activated."))
    if not ModelVersion.objects.filter(pk=version.pk, artefact__isnull=False).exists():
        raise Conflict(_("This version's trained model was deleted after a personal-data "
                         "erasure: it cannot be activated again."))
    if not version.is_active:
        with transaction.atomic():
            ModelVersion.objects.filter(organisation_id=version.organisation_id,
                                        is_active=True).update(is_active=False)
            ModelVersion.objects.filter(pk=version.pk).update(is_active=True)
            audit_record(organisation=actor.organisation, actor=actor,
                         action="triage.model_activated", origin=origin, target=version,
                         target_label=str(version))
        transaction.on_commit(lambda: _refresh_later(version.organisation_id))
    version.refresh_from_db(fields=["is_active"])
    return version


def models_forget_trained_before(*, organisation_id: int, moment) -> int:
    """Delete the trained model of every inactive version finished before ``moment`` (they
    can no longer be activated); returns how many. A model holds words and vectors of the
    texts it learned from: after a personal-data erasure, the older ones must not come back."""
    return ModelVersion.objects.filter(
        organisation_id=organisation_id, is_active=False, finished_at__lt=moment,
        artefact__isnull=False).update(artefact=None)


def models_forget_personal_data(*, organisation_id: int, needles: list[str],
                                replacement: str) -> None:
    """GDPR erasure (a feedback hook): the older versions kept for rollback are deleted now,
    and a retraining is queued; once it is done, the version it replaces is deleted too (see
    ``model_train``). Until then the active version keeps suggesting themes."""
    if not needles:
        return
    models_forget_trained_before(organisation_id=organisation_id, moment=timezone.now())
    if ModelVersion.objects.filter(organisation_id=organisation_id).exists():
        model_retrain_request(organisation_id=organisation_id, actor=None, trigger="erasure")


def _refresh_later(organisation_id: int) -> None:
    from moulin.triage import tasks

    tasks.triage_refresh.enqueue(organisation_id)


def model_retrain_on_demand(*, actor: Member, origin: Origin) -> ModelVersion:
    """An admin's "Retrain now" (also how a failed training is re-run)."""
    version = model_retrain_request(organisation_id=actor.organisation_id, actor=actor,
                                    trigger="on demand")
    audit_record(organisation=actor.organisation, actor=actor, action="triage.retrained",
                 origin=origin, target=version, target_label=str(version))
    return version


def labels_counted(*, organisation: Organisation | int, actor: Member | None, n: int = 1
                   ) -> None:
    """Count new human labels; past the organisation's ``retrain_after``, retrain."""
    organisation_id = organisation if isinstance(organisation, int) else organisation.pk
    triage_settings_get(organisation_id=organisation_id)
    TriageSettings.objects.filter(pk=organisation_id).update(
        labels_since_training=F("labels_since_training") + n)
    settings = TriageSettings.objects.get(pk=organisation_id)
    if settings.labels_since_training >= settings.retrain_after:
        model_retrain_request(organisation_id=organisation_id, actor=actor, trigger="labels")
