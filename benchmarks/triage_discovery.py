"""Duplicates, emerging themes and insights at scale (issue 4): the per-organisation neighbour
index kept in memory (first load, unchanged check, incremental refresh), "similar feedback" for
a stored item and for a typed text, the insights selector, the taxonomy's item counts and the
inbox filtered by a theme (both counting a merged duplicate under the kept item's themes; the
former rule, a theme's own links, is run beside them for the ratio), one clustering run and the
emerging-themes list with each group's size today.

    .venv/bin/python benchmarks/triage_discovery.py --rows 100000
    DATABASE_URL=postgres://… .venv/bin/python benchmarks/triage_discovery.py --rows 100000

Vectors are random unit vectors (the index cost does not depend on what they mean); themes,
customers, segments and sentiment are spread at random over the items; 5 % of the items are
duplicates merged into another one.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

import numpy as np
from _setup import percentile, setup_django

DIM = 512


def timed(fn, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), percentile(times, 95)


def unit_vectors(rng: np.random.Generator, n: int) -> np.ndarray:
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def generate(rows: int, customers: int, seed: int):
    from moulin.accounts import services as account_services
    from moulin.accounts.models import Department
    from moulin.core.policy import Role
    from moulin.customers.models import Customer, Segment
    from moulin.feedback.models import Feedback
    from moulin.triage.models import FeedbackAnalysis, FeedbackTheme, Theme

    rng = random.Random(seed)
    vector_rng = np.random.default_rng(seed)
    stamp = datetime.now(UTC).strftime("%H%M%S")
    org = account_services.organisation_create(name=f"Discovery benchmark {stamp}",
                                               slug=f"discovery-{stamp}", language="en")
    member = account_services.member_create(
        organisation=org, email=f"ops-{stamp}@bench.test", full_name="Bench Ops",
        role=Role.PRODUCT_OPS, department=Department.objects.get(organisation=org,
                                                                 key="product"),
        password=None)
    segments = [Segment.objects.create(organisation=org, name=n, position=i)
                for i, n in enumerate(["SMB", "Mid-market", "Enterprise"])]
    Customer.objects.bulk_create([
        Customer(organisation=org, name=f"Customer {i}", external_id=f"C-{i}",
                 segment=rng.choice(segments), arr=rng.randrange(5_000, 500_000))
        for i in range(customers)], batch_size=5000)
    customer_ids = list(Customer.objects.filter(organisation=org).values_list("id", flat=True))
    themes = Theme.objects.bulk_create([
        Theme(organisation=org, name_en=f"Theme {i}", name_fr=f"Thème {i}") for i in range(40)])
    now = datetime.now(UTC)
    started = time.perf_counter()
    for base in range(0, rows, 20_000):
        count = min(rows, base + 20_000) - base
        items = Feedback.objects.bulk_create([
            Feedback(organisation=org, text=f"Generated verbatim number {base + n}",
                     source="api", customer_id=rng.choice(customer_ids),
                     received_at=now - timedelta(minutes=rng.randrange(0, 60 * 24 * 365)))
            for n in range(count)], batch_size=5000)
        vectors = unit_vectors(vector_rng, count)
        FeedbackAnalysis.objects.bulk_create([
            FeedbackAnalysis(feedback=item, organisation=org, embedder="usem3",
                             vector=vectors[n].astype("<f4").tobytes(), text_key=str(item.pk),
                             sentiment=rng.choice(["negative", "neutral", "positive"]),
                             outcome=rng.choice(["unknown", "suggested", "reviewed"]))
            for n, item in enumerate(items)], batch_size=5000)
        FeedbackTheme.objects.bulk_create([
            FeedbackTheme(organisation=org, feedback=item, theme=rng.choice(themes))
            for item in items if rng.random() < 0.7], batch_size=5000, ignore_conflicts=True)
        # 5 % merged into another item of the chunk (one level: kept items are not merged)
        duplicates = [item for item in items[count // 2:] if rng.random() < 0.1]
        kept = items[:count // 2]
        for item in duplicates:
            item.merged_into_id, item.status = rng.choice(kept).pk, "merged"
        Feedback.objects.bulk_update(duplicates, ["merged_into", "status"], batch_size=5000)
    print(f"generated {rows:,} items with vectors in {time.perf_counter() - started:.1f} s")
    return org, member


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args()
    vendor = setup_django()

    from django.db.models import Count

    from moulin.feedback import selectors as feedback_selectors
    from moulin.feedback.models import Feedback
    from moulin.triage import selectors, selectors_insights, vector_store
    from moulin.triage.models import (
        EmergingCluster,
        FeedbackAnalysis,
        FeedbackTheme,
        Theme,
        TriageJob,
    )
    from moulin.triage.services import duplicates, emerging

    org, member = generate(args.rows, args.customers, args.seed)
    print(f"database: {vendor}, {args.rows:,} items, {args.customers:,} customers")

    vector_store.forget()
    started = time.perf_counter()
    index = vector_store.organisation_index(org.pk)
    print(f"index, first load:               {1000 * (time.perf_counter() - started):8.1f} ms "
          f"({len(index):,} vectors)")
    p50, p95 = timed(lambda: vector_store.organisation_index(org.pk), args.repeat)
    print(f"index, unchanged check:          p50 {p50:6.1f} ms   p95 {p95:6.1f} ms")

    new_items = list(Feedback.objects.filter(organisation=org).order_by("-id")[:50])
    vectors = unit_vectors(np.random.default_rng(1), len(new_items))
    for item, vector in zip(new_items, vectors, strict=True):
        FeedbackAnalysis.objects.filter(feedback=item).update(
            vector=vector.astype("<f4").tobytes(), analysed_at=datetime.now(UTC))
    started = time.perf_counter()
    same = vector_store.organisation_index(org.pk)
    print(f"index, refresh after 50 changes: {1000 * (time.perf_counter() - started):8.1f} ms "
          f"(same object: {same is index})")

    sample = list(Feedback.objects.filter(organisation=org).order_by("?")[:args.repeat])
    cycle = iter(sample * 2)
    p50, p95 = timed(lambda: duplicates.feedback_similar(member=member, feedback=next(cycle)),
                     args.repeat)
    print(f"similar to a stored item:        p50 {p50:6.1f} ms   p95 {p95:6.1f} ms")
    duplicates.text_similar(member=member, text="warm-up of the sentence encoder")
    p50, p95 = timed(lambda: duplicates.text_similar(
        member=member, text="The PDF export times out on large workspaces"), args.repeat)
    print(f"similar to a typed text (embeds): p50 {p50:6.1f} ms   p95 {p95:6.1f} ms")

    for weeks in (12, 52):
        filters = selectors_insights.InsightFilters(weeks=weeks)
        p50, p95 = timed(lambda f=filters: selectors_insights.insights(member=member,
                                                                       filters=f),
                         max(3, args.repeat // 5))
        print(f"insights, {weeks:2d} weeks:              p50 {p50:6.1f} ms   p95 {p95:6.1f} ms")

    # The taxonomy's item counts and the inbox filtered by one theme, each beside the former
    # rule (a theme's own links, merged duplicates included) run on the same data.
    repeat = max(3, args.repeat // 5)
    p50, p95 = timed(lambda: selectors.taxonomy_tree(member=member), repeat)
    _b50, b95 = timed(lambda: list(Theme.objects.filter(organisation=org)
                                   .annotate(item_count=Count("feedback_links"))), repeat)
    print(f"taxonomy, 40 themes' item counts: p50 {p50:6.1f} ms   p95 {p95:6.1f} ms   "
          f"(own links only: p95 {b95:.1f} ms, ratio {p95 / b95:.2f})")
    theme = Theme.objects.filter(organisation=org).order_by("pk")[0]
    theme_id = theme.pk
    p50, p95 = timed(lambda: selectors.theme_item_count(theme=theme), repeat)
    print(f"one theme's item count:          p50 {p50:6.1f} ms   p95 {p95:6.1f} ms")
    by_theme = feedback_selectors.FeedbackFilters(theme=[theme_id])
    p50, p95 = timed(lambda: list(feedback_selectors.feedback_list(
        member=member, filters=by_theme)[:50]), args.repeat)
    _b50, b95 = timed(lambda: list(Feedback.objects.filter(organisation=org, pk__in=(
        FeedbackTheme.objects.filter(theme_id=theme_id).values("feedback_id")))
        .order_by("-received_at", "-id")[:50]), args.repeat)
    print(f"inbox by theme, first 50 rows:   p50 {p50:6.1f} ms   p95 {p95:6.1f} ms   "
          f"(own links only: p95 {b95:.1f} ms, ratio {p95 / b95:.2f})")

    job = TriageJob.objects.create(organisation=org, kind=TriageJob.Kind.CLUSTER)
    job = emerging.cluster_job_claim(job_id=job.pk)
    started = time.perf_counter()
    job = emerging.cluster_job_run(job=job)
    print(f"clustering run ({job.progress_total:,} candidates): "
          f"{time.perf_counter() - started:6.1f} s — {job.status}: {job.message}")
    # random vectors form no group: 50 groups of 100 items each stand in for a real run's
    ids = list(Feedback.objects.filter(organisation=org).values_list("pk", flat=True))
    chosen = random.Random(args.seed).sample(ids, 5000)
    for n in range(50):
        group = EmergingCluster.objects.create(organisation=org, job=job, label=f"group {n}",
                                               size=100)
        group.items.set(chosen[n * 100:(n + 1) * 100])
    p50, p95 = timed(lambda: [c.size_now for c in emerging.cluster_list(member=member)],
                     args.repeat)
    groups = emerging.cluster_list(member=member).count()
    print(f"emerging list ({groups} groups, size today): p50 {p50:6.1f} ms   p95 {p95:6.1f} ms")


if __name__ == "__main__":
    main()
