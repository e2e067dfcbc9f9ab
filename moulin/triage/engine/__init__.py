"""The triage intelligence's engine: embedding, classifying, neighbours, clustering, sentiment.

Pure numpy + scikit-learn, no Django, so the evaluation command and the benchmarks run the
same code as the application.

Importing it limits BLAS (OpenBLAS) to ``MOULIN_BLAS_THREADS`` threads per process, 1 by
default. The engine's matrix products are small; a second BLAS thread waiting for a core that
another process (a web worker, a db_worker) is using made them 2–5x slower in our benchmarks
(classifying 3,080 items: 1.48 s with two threads on a busy machine, 0.28 s with one). Use
more processes, not more threads, to use more cores.
"""

import os

from threadpoolctl import threadpool_limits


def _blas_threads() -> int:
    raw = os.environ.get("MOULIN_BLAS_THREADS", "1")
    try:
        return max(1, int(raw))
    except ValueError as error:
        raise ValueError(f"MOULIN_BLAS_THREADS must be a whole number, got {raw!r}") from error


threadpool_limits(limits=_blas_threads(), user_api="blas")
