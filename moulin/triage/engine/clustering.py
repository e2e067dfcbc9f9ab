"""Emerging themes: groups of similar recent feedback that no category covers yet (no Django).

`find_clusters(texts, embeddings)` groups unit sentence embeddings in four steps:

1. **Neighbourhood smoothing.** Each vector is replaced by the mean of itself and its nearest
   neighbours (cosine, `moulin.triage.engine.index`). Paraphrases of one request pull together
   while the wording noise of single sentences averages out, which is what UMAP buys BERTopic, at
   a fraction of its cost.
2. **Units.** Up to a few thousand items, every item is a unit; above, a spherical k-means
   over-partitions the smoothed vectors into ~4·√n micro-clusters (fitted on a sample).
3. **Average-linkage merging.** Units merge while the mean cosine between their members
   (smoothed space; exact for average linkage: the dot product of the two mean vectors) stays
   above `MERGE_SIMILARITY`. The number of themes therefore follows from one similarity level
   chosen on BANKING77's training split, never from a count of expected themes.
4. **Noise.** Members far from their theme's centre and themes smaller than `min_size` are left
   out: an item that resembles nothing else belongs to no theme.

Keywords come from class-based TF-IDF over each theme's texts (`keywords.py`).
Benchmark against BERTopic: `benchmarks/triage_clustering.py`, figures in docs/benchmarks.md.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from threadpoolctl import threadpool_limits

from moulin.triage.engine.index import NeighbourIndex, normalise_for_duplicates
from moulin.triage.engine.keywords import group_keywords, keyword_label
from moulin.triage.engine.vectors import unit_rows

# Neighbours averaged into each vector (step 1).
SMOOTHING_NEIGHBOURS = 10
# Only neighbours at least this similar are averaged: unrelated items never pull together.
NEIGHBOUR_FLOOR = 0.5
# Up to this many items, merging starts from the items themselves (step 2).
MAX_POINT_UNITS = 2500
# Above MAX_POINT_UNITS, neighbours and micro-clusters are computed on this many principal axes.
REDUCED_DIM = 128
_UNITS_PER_SQRT_N = 4.0
_KMEANS_SAMPLE = 30_000
_KMEANS_ITERATIONS = 10
# Mean cosine between the members of two groups (smoothed space) down to which they merge.
MERGE_SIMILARITY = 0.8
# Members whose cosine to their theme's centre (original space) is below this are noise.
MEMBER_FLOOR = 0.35
# A theme's members must be this similar to each other on average (original space).
COHESION_FLOOR = 0.35
MAX_KEYWORDS = 5
MAX_REPRESENTATIVES = 5

Progress = Callable[[int, int], None]


@dataclass
class Cluster:
    """One theme: positions in the input, readable keywords and label, cohesion."""

    indices: list[int]
    keywords: list[str]
    label: str
    representatives: list[int] = field(default_factory=list)
    cohesion: float = 0.0


def principal_axes(vectors: np.ndarray, dim: int = REDUCED_DIM, random_state: int = 0
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(mean, basis) of the top principal axes of (a sample of) the rows."""
    rng = np.random.default_rng(random_state)
    sample = vectors
    if len(vectors) > _KMEANS_SAMPLE:
        sample = vectors[rng.choice(len(vectors), _KMEANS_SAMPLE, replace=False)]
    mean = sample.mean(axis=0)
    centred = sample - mean
    _, axes = np.linalg.eigh(centred.T @ centred)
    return mean, np.ascontiguousarray(axes[:, ::-1][:, :dim], dtype=np.float32)


def _project(vectors: np.ndarray, axes: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    mean, basis = axes
    return unit_rows((vectors - mean) @ basis)


def smooth(vectors: np.ndarray, neighbours: int = SMOOTHING_NEIGHBOURS,
           search_space: np.ndarray | None = None) -> np.ndarray:
    """Each unit vector replaced by the normalised mean of itself and its nearest neighbours
    (found in search_space when given, e.g. a reduced copy of the vectors)."""
    n = len(vectors)
    k = min(neighbours + 1, n)
    if k <= 1:
        return vectors
    space = vectors if search_space is None else search_space
    index = NeighbourIndex(np.arange(n, dtype=np.int64), space)
    # Row i of the (sparse) averaging matrix holds 1 for i and for each neighbour kept.
    ids, _ = index.search_arrays(space, k)
    # The floor is on the cosine of the original vectors (the search space may be reduced).
    found = np.maximum(ids, 0)
    # One neighbour rank at a time: gathering all n × k neighbour vectors at once moved
    # n·k·d floats through memory (268 MB at 13,000 items) and was half the clustering time.
    cosine = np.empty(found.shape, dtype=np.float32)
    for rank in range(found.shape[1]):
        cosine[:, rank] = np.einsum("id,id->i", vectors[found[:, rank]], vectors)
    keep = (cosine >= NEIGHBOUR_FLOOR) & (ids >= 0) & (ids != np.arange(n)[:, None])
    rows = np.concatenate([np.arange(n), np.nonzero(keep)[0]])
    cols = np.concatenate([np.arange(n), ids[keep]])
    weights = sparse.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)),
                                shape=(n, n))
    return unit_rows(np.asarray(weights @ vectors, dtype=np.float32))


def _spherical_kmeans(vectors: np.ndarray, n_clusters: int, random_state: int) -> np.ndarray:
    """Micro-cluster labels: Lloyd steps on a sample from random seeds, then every item.

    Random seeds rather than k-means++: the micro-clusters are merged afterwards, so their exact
    boundaries matter little, and scikit-learn's k-means++ takes minutes for 1,000 seeds."""
    rng = np.random.default_rng(random_state)
    sample = vectors
    if len(vectors) > _KMEANS_SAMPLE:
        sample = vectors[np.sort(rng.choice(len(vectors), _KMEANS_SAMPLE, replace=False))]
    centres = sample[rng.choice(len(sample), n_clusters, replace=False)].copy()
    for _ in range(_KMEANS_ITERATIONS):
        assign = _nearest(sample, centres)
        sums = np.zeros_like(centres)
        _sum_rows(sums, assign, sample)
        counts = np.bincount(assign, minlength=n_clusters)
        empty = counts == 0
        sums[empty] = centres[empty]  # keep empty centres where they are
        centres = unit_rows(sums)
    return _nearest(vectors, centres)


def _sum_rows(out: np.ndarray, assign: np.ndarray, rows: np.ndarray) -> None:
    """out[g] = sum of the rows assigned to g (a sparse one-hot product: fast and exact)."""
    one_hot = sparse.csr_matrix(
        (np.ones(len(assign), dtype=rows.dtype), (assign, np.arange(len(assign)))),
        shape=(len(out), len(assign)),
    )
    out[:] = one_hot @ rows


def _nearest(vectors: np.ndarray, centres: np.ndarray) -> np.ndarray:
    labels = np.empty(len(vectors), dtype=np.int64)
    for start in range(0, len(vectors), 8192):
        labels[start:start + 8192] = np.argmax(vectors[start:start + 8192] @ centres.T, axis=1)
    return labels


def average_linkage(means: np.ndarray, sizes: np.ndarray, threshold: float) -> np.ndarray:
    """Group label per unit after merging, best pair first, while the mean similarity between
    the members of two groups (= dot product of their mean vectors) is >= threshold."""
    k = len(means)
    means = means.astype(np.float64)  # repeated weighted averages: keep the precision
    sizes = sizes.astype(np.float64).copy()
    sims = means @ means.T
    np.fill_diagonal(sims, -np.inf)
    alive = np.ones(k, dtype=bool)
    parent = np.arange(k)
    best = sims.max(axis=1)
    best_of = sims.argmax(axis=1)
    while True:
        a = int(np.argmax(best))
        if best[a] < threshold:
            break
        b = int(best_of[a])
        total = sizes[a] + sizes[b]
        means[a] = (sizes[a] * means[a] + sizes[b] * means[b]) / total
        sizes[a] = total
        alive[b] = False
        parent[parent == b] = a
        sims[b, :] = -np.inf
        sims[:, b] = -np.inf
        best[b] = -np.inf
        row = means @ means[a]
        row[~alive] = -np.inf
        row[a] = -np.inf
        sims[a, :] = row
        sims[:, a] = row
        best[a], best_of[a] = row.max(), row.argmax()
        # Rows whose best partner was a or b are recomputed; the others may now prefer a.
        stale = np.flatnonzero(alive & ((best_of == a) | (best_of == b)))
        stale = stale[stale != a]
        if len(stale):
            best[stale] = sims[stale].max(axis=1)
            best_of[stale] = sims[stale].argmax(axis=1)
        better = alive & (row > best)
        best[better] = row[better]
        best_of[better] = a
    _, labels = np.unique(parent, return_inverse=True)
    return labels


def partition(embeddings: np.ndarray, *, min_size: int = 5, random_state: int = 0,
              merge_similarity: float = MERGE_SIMILARITY, member_floor: float = MEMBER_FLOOR,
              progress: Progress | None = None) -> np.ndarray:
    """Theme number per item (0 = largest theme), -1 for noise."""
    vectors = unit_rows(np.asarray(embeddings, dtype=np.float32))
    n = len(vectors)
    if n < max(min_size, 2):
        return np.full(n, -1, dtype=np.int64)
    report = progress or (lambda done, total: None)
    report(0, 4)
    # Small inputs: a theme of min_size members must find its neighbours among themselves.
    neighbours = min(SMOOTHING_NEIGHBOURS, max(min_size - 1, n // 50, 1))
    if n <= MAX_POINT_UNITS:
        smoothed = smooth(vectors, neighbours)
        report(1, 4)
        units = np.arange(n)
    else:
        # Neighbours and micro-clusters on the principal axes: 4x less work, same neighbours.
        axes = principal_axes(vectors, random_state=random_state)
        smoothed = smooth(vectors, neighbours, search_space=_project(vectors, axes))
        report(1, 4)
        n_units = min(n // 2, int(_UNITS_PER_SQRT_N * np.sqrt(n)))
        units = _spherical_kmeans(_project(smoothed, axes), n_units, random_state)
    report(2, 4)
    n_units = int(units.max()) + 1
    sizes = np.bincount(units, minlength=n_units)
    sums = np.zeros((n_units, vectors.shape[1]), dtype=np.float32)
    _sum_rows(sums, units, smoothed)
    means = sums / np.maximum(sizes, 1)[:, None]
    groups = average_linkage(means[sizes > 0], sizes[sizes > 0], merge_similarity)
    unit_group = np.full(n_units, -1, dtype=np.int64)
    unit_group[sizes > 0] = groups
    labels = unit_group[units]
    report(3, 4)

    # Noise: members far from their group's centre, then groups left below min_size.
    for _ in range(2):
        labels = _drop_small(labels, min_size)
        kept = labels >= 0
        if not kept.any():
            break
        centres = np.zeros((int(labels.max()) + 1, vectors.shape[1]), dtype=np.float32)
        _sum_rows(centres, labels[kept], vectors[kept])
        centres = unit_rows(centres)
        cosine = np.einsum("ij,ij->i", vectors[kept], centres[labels[kept]])
        labels[np.flatnonzero(kept)[cosine < member_floor]] = -1
    labels = _drop_small(labels, min_size)
    if labels.max(initial=-1) >= 0:
        kept = labels >= 0
        sums = np.zeros((int(labels.max()) + 1, vectors.shape[1]), dtype=np.float32)
        _sum_rows(sums, labels[kept], vectors[kept])
        sizes = np.bincount(labels[kept]).astype(np.float64)
        # Mean cosine over pairs of distinct members: (|sum|² - n) / (n (n - 1)).
        pairwise = (np.einsum("ij,ij->i", sums, sums) - sizes) / (sizes * (sizes - 1))
        loose = np.flatnonzero(pairwise < COHESION_FLOOR)
        labels[np.isin(labels, loose)] = -1
        labels = _drop_small(labels, min_size)
    report(4, 4)
    return labels


def _drop_small(labels: np.ndarray, min_size: int) -> np.ndarray:
    """Groups below min_size become noise; the others are renumbered, largest first."""
    kept = labels >= 0
    out = np.full(len(labels), -1, dtype=np.int64)
    if not kept.any():
        return out
    counts = np.bincount(labels[kept])
    order = np.argsort(-counts, kind="stable")
    rank = np.full(len(counts), -1, dtype=np.int64)
    big = order[counts[order] >= min_size]
    rank[big] = np.arange(len(big))
    out[kept] = rank[labels[kept]]
    return out


def find_clusters(texts: Sequence[str], embeddings: np.ndarray, *, min_size: int = 5,
                  random_state: int = 0, progress: Progress | None = None) -> list[Cluster]:
    """Themes among the items, largest first; noise items belong to no cluster."""
    vectors = np.asarray(embeddings, dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) != len(texts):
        raise ValueError(
            f"expected one embedding row per text: {len(texts)} texts, shape {vectors.shape}"
        )
    if len(texts) < max(min_size, 2):
        return []
    # A background job with large matrix products (the neighbour search over every candidate):
    # unlike the per-item path (one BLAS thread, see engine/__init__.py), these scale with cores.
    with threadpool_limits(limits=os.cpu_count() or 1, user_api="blas"):
        labels = partition(vectors, min_size=min_size, random_state=random_state,
                           progress=progress)
    if labels.max(initial=-1) < 0:
        return []
    vectors = unit_rows(vectors)
    members = [np.flatnonzero(labels == c) for c in range(int(labels.max()) + 1)]
    keywords = group_keywords([[texts[i] for i in rows] for rows in members],
                              top_n=MAX_KEYWORDS)
    clusters = []
    for rows, words in zip(members, keywords, strict=True):
        centre = unit_rows(vectors[rows].mean(axis=0, keepdims=True))[0]
        cosine = vectors[rows] @ centre
        clusters.append(Cluster(
            indices=rows.tolist(),
            keywords=words,
            label=keyword_label(words),
            representatives=_representatives(texts, rows, cosine),
            cohesion=round(float(cosine.mean()), 4),
        ))
    return clusters


def _representatives(texts: Sequence[str], rows: np.ndarray, cosine: np.ndarray) -> list[int]:
    """Up to MAX_REPRESENTATIVES members closest to the centre, one per distinct text."""
    seen: set[str] = set()
    chosen: list[int] = []
    for position in np.argsort(-cosine, kind="stable").tolist():
        key = normalise_for_duplicates(texts[rows[position]])
        if key in seen:
            continue
        seen.add(key)
        chosen.append(int(rows[position]))
        if len(chosen) == MAX_REPRESENTATIVES:
            break
    return chosen
