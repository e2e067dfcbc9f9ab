"""Which features a feedback item probably asks for.

Two signals, the stronger one wins for each feature:

1. **Linked neighbours** — the item's stored embedding (``triage.FeedbackAnalysis.vector``) is
   searched in the organisation's nearest-neighbour index; features that already hold the
   nearest items score their best neighbour's cosine, plus a little for each further one.
2. **Feature text** — the feature's title and description, embedded with the organisation's
   triage embedder and compared with the item (cosine). When the triage engine is not
   available (no embedder installed, no stored vector) a word-overlap score stands in, so the
   suggestions never fail.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import unicodedata
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from moulin.accounts.models import Member
from moulin.core import policy
from moulin.core.policy import Action
from moulin.features.models import Feature, FeatureStatus, FeedbackLink
from moulin.feedback.models import Feedback

logger = logging.getLogger(__name__)

NEIGHBOURS = 50
MIN_SIMILARITY = 0.45
OPEN_STATUSES = [FeatureStatus.IDEA, FeatureStatus.DISCOVERY, FeatureStatus.PLANNED,
                 FeatureStatus.IN_PROGRESS]
MAX_TEXT_CANDIDATES = 2000
_WORD = re.compile(r"\w{3,}")
_STOP = frozenset("the and for with that this from are was not but you have les des une pour "
                  "que qui dans par sur pas est avec nous vous ils elle".split())

# Feature text vectors, keyed by (organisation, embedder) then feature id → (updated_at, vec).
_TEXT_VECTORS: dict[tuple[int, str], dict[int, tuple[object, object]]] = {}
_LOCK = threading.Lock()


@dataclass
class FeatureSuggestion:
    feature: Feature
    similarity: float  # 0–1
    reason: str
    similar_items: int = 0  # linked items among the item's nearest neighbours

    @property
    def percent(self) -> int:
        return round(100 * self.similarity)


def _words(text: str) -> set[str]:
    plain = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(ch for ch in plain if not unicodedata.combining(ch))
    return {w for w in _WORD.findall(plain) if w not in _STOP}


def _overlap(item_words: set[str], text: str) -> float:
    words = _words(text)
    if not item_words or not words:
        return 0.0
    return len(item_words & words) / math.sqrt(len(item_words) * len(words))


def _item_vector(feedback: Feedback):
    """The item's stored (or freshly computed) embedding; None when triage cannot give one."""
    try:
        from moulin.triage import vector_store
        from moulin.triage.models import FeedbackAnalysis

        analysis = FeedbackAnalysis.objects.filter(feedback=feedback).only(
            "vector", "embedder").first()
        embedder = vector_store.embedder_name(feedback.organisation_id)
        if analysis is not None and analysis.embedder == embedder:
            return vector_store.vector_from_bytes(analysis.vector)
        return None
    except Exception:
        logger.warning("Feature suggestions without embeddings", exc_info=True)
        return None


def _neighbour_scores(feedback: Feedback, vector) -> dict[int, tuple[float, int]]:
    """Feature id → (best neighbour similarity, neighbours linked to it)."""
    try:
        from moulin.triage import vector_store

        index = vector_store.organisation_index(feedback.organisation_id)
        if index.dim is not None and vector.size != index.dim:
            return {}
        found = index.search(vector[None, :], k=NEIGHBOURS, exclude=[feedback.pk],
                             min_similarity=MIN_SIMILARITY)[0]
    except Exception:
        logger.warning("Nearest neighbours unavailable for suggestions", exc_info=True)
        return {}
    similarity = dict(found)
    out: dict[int, tuple[float, int]] = {}
    for feature_id, feedback_id in FeedbackLink.objects.filter(
            organisation_id=feedback.organisation_id,
            feedback_id__in=list(similarity)).values_list("feature_id", "feedback_id"):
        best, count = out.get(feature_id, (0.0, 0))
        out[feature_id] = (max(best, float(similarity[feedback_id])), count + 1)
    return out


def _text_vectors(organisation_id: int, features: list[Feature]):
    """Embeddings of the features' title + description (cached until the feature changes)."""
    from moulin.triage import vector_store

    embedder = vector_store.embedder_name(organisation_id)
    with _LOCK:
        cache = _TEXT_VECTORS.setdefault((organisation_id, embedder), {})
        missing = [f for f in features if cache.get(f.pk, (None,))[0] != f.updated_at]
    if missing:
        vectors = vector_store.embed_texts(
            organisation_id, [f"{f.title}. {f.description}"[:2000] for f in missing])
        with _LOCK:
            for feature, vector in zip(missing, vectors, strict=True):
                cache[feature.pk] = (feature.updated_at, vector)
    return {f.pk: cache[f.pk][1] for f in features}


def feedback_feature_suggestions(*, member: Member, feedback: Feedback,
                                 limit: int = 5) -> list[FeatureSuggestion]:
    """The features this item most likely asks for (open features not linked to it yet)."""
    if not policy.can(member, "features", Action.VIEW) or \
            feedback.organisation_id != member.organisation_id:
        return []
    linked = FeedbackLink.objects.filter(feedback=feedback).values("feature_id")
    candidates = list(policy.scope(Feature.objects.all(), member, "features")
                      .filter(status__in=OPEN_STATUSES).exclude(pk__in=linked)
                      .only("pk", "title", "description", "updated_at", "status",
                            "organisation_id")
                      .order_by("-updated_at")[:MAX_TEXT_CANDIDATES])
    if not candidates:
        return []
    by_id = {f.pk: f for f in candidates}
    scores: dict[int, tuple[float, str, int]] = {}
    vector = _item_vector(feedback)
    if vector is not None:
        for feature_id, (best, count) in _neighbour_scores(feedback, vector).items():
            if feature_id in by_id:
                score = min(1.0, best + 0.02 * (count - 1))
                reason = ngettext("%(n)d similar item already linked",
                                  "%(n)d similar items already linked", count) % {"n": count}
                scores[feature_id] = (score, reason, count)
        try:
            for feature_id, text_vector in _text_vectors(member.organisation_id,
                                                          candidates).items():
                similarity = float(vector @ text_vector)
                if similarity >= MIN_SIMILARITY and similarity > scores.get(
                        feature_id, (0.0,))[0]:
                    count = scores.get(feature_id, (0, "", 0))[2]
                    scores[feature_id] = (similarity, _("Close to the feature's description"),
                                          count)
        except Exception:
            logger.warning("Feature text embeddings unavailable", exc_info=True)
    if not scores:
        words = _words(f"{feedback.title} {feedback.text}"[:5000])
        for feature in candidates:
            overlap = _overlap(words, f"{feature.title} {feature.description}")
            if overlap >= 0.15:
                scores[feature.pk] = (overlap, _("Shares words with the feature"), 0)
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1][0], kv[0]))[:limit]
    return [FeatureSuggestion(by_id[pk], round(score, 4), reason, count)
            for pk, (score, reason, count) in ranked]
