"""Vector helpers shared by the engine's modules (numpy only)."""

from __future__ import annotations

import numpy as np


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """The rows scaled to length 1, as float32; NaN becomes 0 and a zero row stays zero."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    if not np.isfinite(norms).all():  # a NaN or an infinity somewhere in those rows
        vectors = np.nan_to_num(vectors)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
