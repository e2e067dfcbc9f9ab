"""Analysis of feedback items: embedding (stored once), sentiment, theme suggestions, and the
outcome that follows from them.

For each item the active model ranks the themes with a calibrated confidence. Then:

- an item a person already reviewed keeps their decision (only its suggestions are refreshed);
- the model says the item fits no theme → ``unknown``, a possible new theme;
- the top confidence reaches the organisation's threshold → the theme is applied automatically
  (a link with origin ``automatic``, replaced if a later model disagrees);
- otherwise the item waits in the inbox with its suggestions (``suggested``).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Substr
from django.utils import timezone

from moulin.feedback.models import Feedback
from moulin.triage.models import (
    FeedbackAnalysis,
    FeedbackTheme,
    JobStatus,
    ModelVersion,
    Origin,
    Outcome,
    Theme,
    TriageJob,
    TriageSettings,
)
from moulin.triage.services.jobs import job_active, job_report
from moulin.triage.services.settings import triage_settings_get
from moulin.triage.services.taxonomy import theme_resolve, themes_by_id
from moulin.triage.vector_store import MAX_EMBEDDED_CHARACTERS, vector_from_bytes

logger = logging.getLogger(__name__)

CHUNK = 200  # items embedded and written per round trip
SUGGESTIONS = 3  # suggestions kept per item (the keyboard picks 1 to 3)
HUMAN_ORIGINS = (Origin.MANUAL, Origin.ACCEPTED, Origin.CLUSTER, Origin.MERGE)

# Trained classifiers by ModelVersion id: a finished version never changes, so a cached one is
# always right; rollback just makes another id the active one.
_CLASSIFIERS: OrderedDict[tuple, object] = OrderedDict()
_CLASSIFIER_CACHE_SIZE = 8


def text_for_analysis(title: str, text: str) -> str:
    """What is embedded of an item: its title and the start of its text."""
    combined = f"{title}\n{text}" if title else text
    return combined[:MAX_EMBEDDED_CHARACTERS]


def embed(embedder_name: str, texts: list[str]) -> np.ndarray:
    """Unit vectors for ``texts`` (float32, one row each)."""
    from moulin.triage.engine.embedders import get_embedder

    if not texts:
        return np.empty((0, 0), dtype=np.float32)
    return np.asarray(get_embedder(embedder_name).encode(texts), dtype=np.float32)


def classifier_for(version: ModelVersion):
    """The trained classifier of a finished version (loaded once per process)."""
    from moulin.triage.engine.classifier import ThemeClassifier

    # The finish time guards against ids reused by a database rolled back (tests).
    key = (version.pk, version.finished_at)
    cached = _CLASSIFIERS.get(key)
    if cached is not None:
        _CLASSIFIERS.move_to_end(key)
        return cached
    classifier = ThemeClassifier.from_bytes(bytes(version.artefact))  # loads it when deferred
    _CLASSIFIERS[key] = classifier
    while len(_CLASSIFIERS) > _CLASSIFIER_CACHE_SIZE:
        _CLASSIFIERS.popitem(last=False)
    return classifier


def active_version(organisation_id: int, *, cold_start: bool = True) -> ModelVersion | None:
    """The version predictions come from. With themes but no model yet (cold start), one is
    trained now from the themes' names, descriptions and examples."""
    version = (ModelVersion.objects.defer("artefact")
               .filter(organisation_id=organisation_id, is_active=True,
                       status=JobStatus.DONE).first())
    if version is not None or not cold_start:
        return version
    if not Theme.objects.filter(organisation_id=organisation_id, archived_at=None).exists():
        return None
    from moulin.triage.services.training import model_train_now

    version = model_train_now(organisation_id=organisation_id, trigger="cold start",
                              refresh=False)
    return version if version is not None and version.is_active else None


@dataclass
class Suggestions:
    """What the model says about one item, in theme ids of today's taxonomy."""

    ranked: list[dict]  # [{"theme": id, "confidence": 0.83}, …] best first
    unknown: bool

    @property
    def top(self) -> dict | None:
        return self.ranked[0] if self.ranked else None


def predict(version: ModelVersion, vectors: np.ndarray, texts: list[str],
            themes: dict[int, Theme]) -> list[Suggestions]:
    """Suggestions per item: merged themes stand for their target, archived ones are skipped."""
    if not len(texts):
        return []
    classifier = classifier_for(version)
    predictions = classifier.predict(texts, embeddings=vectors, top_k=SUGGESTIONS + 5)
    out = []
    for prediction in predictions:
        best: dict[int, float] = {}
        for label, probability in prediction.ranked:
            try:
                theme = theme_resolve(int(label), themes)
            except (TypeError, ValueError):
                theme = None
            if theme is None or theme.archived_at is not None:
                continue
            best[theme.pk] = max(best.get(theme.pk, 0.0), float(probability))
        ranked = [{"theme": pk, "confidence": round(p, 4)}
                  for pk, p in sorted(best.items(), key=lambda kv: -kv[1])[:SUGGESTIONS]]
        out.append(Suggestions(ranked=ranked, unknown=bool(prediction.unknown) or not ranked))
    return out


def _decide(analysis: FeedbackAnalysis, suggestions: Suggestions | None,
            links: list[FeedbackTheme], settings: TriageSettings,
            version: ModelVersion | None) -> tuple[str, FeedbackTheme | None, list[int]]:
    """(outcome, automatic link to create, automatic link ids to delete) for one item."""
    automatic = [link for link in links if link.origin == Origin.AUTOMATIC]
    human = [link for link in links if link.origin in HUMAN_ORIGINS]
    if analysis.reviewed_at is not None or human:
        # A person decided: their choice stands, and the model's guess goes away.
        return ((analysis.outcome if analysis.reviewed_at else Outcome.REVIEWED), None,
                [link.pk for link in automatic])
    if suggestions is None:  # suggestions off, or no theme to suggest yet
        return Outcome.PENDING, None, [link.pk for link in automatic]
    top = suggestions.top
    if suggestions.unknown or top is None:
        return Outcome.UNKNOWN, None, [link.pk for link in automatic]
    # A threshold of 1 means "never": a calibrated probability can round to 1.0.
    if settings.auto_apply_threshold < 1 and top["confidence"] >= settings.auto_apply_threshold \
            and top["theme"] not in (analysis.removed_themes or []):  # a person took it off
        keep = [link for link in automatic if link.theme_id == top["theme"]]
        stale = [link.pk for link in automatic if link.theme_id != top["theme"]]
        new = None
        if not keep:
            new = FeedbackTheme(organisation_id=analysis.organisation_id,
                                feedback_id=analysis.feedback_id, theme_id=top["theme"],
                                origin=Origin.AUTOMATIC, confidence=top["confidence"],
                                model_version=version)
        return Outcome.AUTOMATIC, new, stale
    return Outcome.SUGGESTED, None, [link.pk for link in automatic]


def _store(organisation_id: int, analyses: list[FeedbackAnalysis],
           suggestions: list[Suggestions | None], settings: TriageSettings,
           version: ModelVersion | None, *, new_rows: bool) -> None:
    """Write analyses and their automatic links (one transaction per chunk)."""
    ids = [a.feedback_id for a in analyses]
    links: dict[int, list[FeedbackTheme]] = {}
    for link in FeedbackTheme.objects.filter(feedback_id__in=ids):
        links.setdefault(link.feedback_id, []).append(link)
    create, delete = [], []
    now = timezone.now()
    for analysis, suggested in zip(analyses, suggestions, strict=True):
        outcome, new_link, stale = _decide(analysis, suggested, links.get(analysis.feedback_id,
                                                                          []),
                                           settings, version)
        analysis.suggestions = suggested.ranked if suggested else []
        analysis.confidence = suggested.top["confidence"] if suggested and suggested.top \
            else None
        analysis.model_version = version if suggested is not None else None
        analysis.outcome = outcome
        analysis.analysed_at = now
        if new_link is not None:
            create.append(new_link)
        delete.extend(stale)
    fields = ["embedder", "vector", "text_key", "sentiment", "sentiment_score", "model_version",
              "suggestions", "confidence", "outcome", "analysed_at"]
    with transaction.atomic():
        if new_rows:
            FeedbackAnalysis.objects.bulk_create(
                analyses, batch_size=CHUNK, update_conflicts=True, unique_fields=["feedback"],
                update_fields=fields)
        else:
            FeedbackAnalysis.objects.bulk_update(analyses, fields, batch_size=CHUNK)
        if delete:
            FeedbackTheme.objects.filter(pk__in=delete, origin=Origin.AUTOMATIC).delete()
        if create:
            FeedbackTheme.objects.bulk_create(create, ignore_conflicts=True)


def feedback_analyse(*, organisation_id: int, ids: Iterable[int], force: bool = False) -> int:
    """Analyse these items (embedding, sentiment, suggestions); returns how many were.

    An item analysed before with the same text and the active model is skipped unless
    ``force``; one whose text did not change keeps its stored embedding."""
    from moulin.triage.engine.embedders import get_embedder
    from moulin.triage.engine.index import exact_duplicate_key
    from moulin.triage.engine.sentiment import sentiment

    ids = sorted({int(pk) for pk in ids})
    if not ids:
        return 0
    settings = triage_settings_get(organisation_id=organisation_id)
    version = active_version(organisation_id) if settings.enabled else None
    embedder_name = settings.embedder
    themes = themes_by_id(organisation_id=organisation_id)
    done = 0
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        items = list(Feedback.objects.filter(organisation_id=organisation_id, pk__in=chunk)
                     .only("id", "title", "text"))
        existing = {a.feedback_id: a for a in FeedbackAnalysis.objects.filter(
            feedback_id__in=chunk)}
        fresh, stale = [], []
        texts: dict[int, str] = {}
        keys: dict[int, str] = {}
        for item in items:
            texts[item.pk] = text_for_analysis(item.title, item.text)
            keys[item.pk] = exact_duplicate_key(f"{item.title}\n{item.text}" if item.title
                                                else item.text)
            analysis = existing.get(item.pk)
            unchanged = (analysis is not None and analysis.text_key == keys[item.pk]
                         and analysis.embedder == embedder_name
                         and vector_from_bytes(analysis.vector) is not None)
            if unchanged and not force and analysis.outcome != Outcome.PENDING and \
                    analysis.model_version_id == (version.pk if version else None):
                continue
            (stale if unchanged else fresh).append(item.pk)
        to_embed = [texts[pk] for pk in fresh]
        vectors = dict(zip(fresh, embed(embedder_name, to_embed), strict=True)) if fresh \
            else {}
        for pk in stale:
            vectors[pk] = vector_from_bytes(existing[pk].vector)
        order = [*fresh, *stale]
        if not order:
            continue
        matrix = np.vstack([vectors[pk] for pk in order]).astype(np.float32)
        moods = sentiment([texts[pk] for pk in order], embeddings=matrix,
                          embedder=get_embedder(embedder_name))
        analyses = []
        for pk, (mood, score) in zip(order, moods, strict=True):
            analysis = existing.get(pk) or FeedbackAnalysis(feedback_id=pk,
                                                            organisation_id=organisation_id)
            analysis.embedder = embedder_name
            analysis.vector = vectors[pk].astype("<f4").tobytes()
            analysis.text_key = keys[pk][:64]
            analysis.sentiment = mood
            analysis.sentiment_score = round(float(score), 4)
            analyses.append(analysis)
        suggestions: list[Suggestions | None] = [None] * len(order)
        if version is not None:
            model_vectors = matrix
            if version.embedder and version.embedder != embedder_name:
                model_vectors = embed(version.embedder, [texts[pk] for pk in order])
            suggestions = list(predict(version, model_vectors, [texts[pk] for pk in order],
                                       themes))
        _store(organisation_id, analyses, suggestions, settings, version, new_rows=True)
        done += len(order)
    return done


def analysis_refresh(*, organisation_id: int) -> int:
    """Re-predict every item not reviewed yet with the active model (after a retraining or a
    rollback), from the stored embeddings; returns how many items were refreshed."""
    settings = triage_settings_get(organisation_id=organisation_id)
    version = active_version(organisation_id, cold_start=False) if settings.enabled else None
    themes = themes_by_id(organisation_id=organisation_id)
    ids = list(FeedbackAnalysis.objects.filter(organisation_id=organisation_id,
                                               reviewed_at=None)
               .order_by("feedback_id").values_list("feedback_id", flat=True))
    done = 0
    for start in range(0, len(ids), CHUNK):
        analyses = list(FeedbackAnalysis.objects.filter(feedback_id__in=ids[start:start + CHUNK]))
        usable = [(a, vector_from_bytes(a.vector)) for a in analyses]
        usable = [(a, v) for a, v in usable if v is not None]
        if not usable:
            continue
        rows = [a for a, _v in usable]
        suggestions: list[Suggestions | None] = [None] * len(rows)
        if version is not None:
            if version.embedder and version.embedder != settings.embedder:
                # Another embedding space: re-analyse from the texts instead.
                done += feedback_analyse(organisation_id=organisation_id,
                                         ids=[a.feedback_id for a in rows], force=True)
                continue
            matrix = np.vstack([v for _a, v in usable]).astype(np.float32)
            # The classifier also reads words: give it the same text as the first analysis.
            texts = {pk: text_for_analysis(title, text) for pk, title, text in (
                Feedback.objects.filter(pk__in=[a.feedback_id for a in rows])
                .annotate(head=Substr("text", 1, MAX_EMBEDDED_CHARACTERS))
                .values_list("pk", "title", "head"))}
            suggestions = list(predict(version, matrix,
                                       [texts.get(a.feedback_id, "") for a in rows], themes))
        _store(organisation_id, rows, suggestions, settings, version, new_rows=False)
        done += len(rows)
    return done


# --- Backfill: analyse the feedback that arrived before triage (or while it was off) --------

def backfill_request(*, organisation_id: int, actor=None) -> TriageJob:
    """Queue the analysis of every item without one, or embedded by another model than the
    organisation's (one job at a time per organisation; one whose worker stopped is closed as
    failed and a new one queued)."""
    from moulin.triage import tasks

    running = job_active(organisation_id=organisation_id, kind=TriageJob.Kind.BACKFILL)
    if running is not None:
        return running
    job = TriageJob.objects.create(organisation_id=organisation_id, kind=TriageJob.Kind.BACKFILL,
                                   requested_by=actor)
    transaction.on_commit(lambda: tasks.triage_backfill.enqueue(job.pk))
    return job


def backfill_run(*, job_id: int) -> TriageJob | None:
    """Claim and run a backfill job, reporting progress in its row."""
    claimed = TriageJob.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING, started_at=timezone.now(), updated_at=timezone.now())
    if not claimed:
        return None
    job = TriageJob.objects.get(pk=job_id)
    try:
        # Items never analysed, and items embedded by another model than the current one
        # (after the organisation changed its embedding model).
        embedder = triage_settings_get(organisation_id=job.organisation_id).embedder
        ids = list(Feedback.objects.filter(organisation_id=job.organisation_id)
                   .filter(Q(analysis__isnull=True) | ~Q(analysis__embedder=embedder))
                   .order_by("-received_at").values_list("pk", flat=True))
        job_report(job.pk, progress_total=len(ids))
        for start in range(0, len(ids), CHUNK):
            feedback_analyse(organisation_id=job.organisation_id, ids=ids[start:start + CHUNK])
            if not job_report(job.pk, progress_done=min(len(ids), start + CHUNK)):
                break  # closed as stalled meanwhile: a newer job does the rest
    except Exception as error:
        logger.exception("triage backfill %s failed", job_id)
        job_report(job.pk, status=JobStatus.FAILED, message=str(error)[:500],
                   finished_at=timezone.now())
    else:
        job_report(job.pk, status=JobStatus.DONE, finished_at=timezone.now())
    job.refresh_from_db()
    return job
