"""Prioritisation board latency at scale (issue 5): p50/p95 of the board's real selector
(`board_page`, first page and filtered pages, as the board and `GET /api/v1/board` read them)
with 5,000 features and 1,000,000 feedback links, next to the raw SQL aggregate the board
avoids (demand counted live from the links: COUNT, COUNT DISTINCT customer, SUM of distinct
customers' ARR, ranked) and the full demand recompute (`demand_recompute`, the daily sweep).

Target: p95 < 200 ms on PostgreSQL.

    eval "$(scripts/pg-start.sh /tmp/pgbench-features)"
    .venv/bin/python benchmarks/features_board.py --features 5000 --links 1000000

The data set is generated once per database (an organisation named "Board benchmark …") with
COPY; pass --reuse to measure again on the data a previous run left.
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

import numpy as np
from _setup import percentile, setup_django

RAW_AGGREGATE = """
    WITH duplicates AS (
        SELECT d.id, d.merged_into_id FROM feedback_feedback d
        WHERE d.merged_into_id IS NOT NULL AND d.organisation_id = %s
    ), items AS (
        SELECT l.feature_id, l.feedback_id AS item_id FROM features_feedbacklink l
        WHERE l.organisation_id = %s
        UNION
        SELECT l.feature_id, d.id FROM duplicates d
        JOIN features_feedbacklink l ON l.feedback_id = d.merged_into_id
        WHERE l.organisation_id = %s
    ), requesting AS (
        SELECT DISTINCT i.feature_id, f.customer_id FROM items i
        JOIN feedback_feedback f ON f.id = i.item_id WHERE f.customer_id IS NOT NULL
    ), arr AS (
        SELECT r.feature_id, COUNT(*) AS customers, SUM(COALESCE(c.arr, 0)) AS arr
        FROM requesting r JOIN customers_customer c ON c.id = r.customer_id
        GROUP BY r.feature_id
    ), counts AS (SELECT feature_id, COUNT(*) AS n FROM items GROUP BY feature_id)
    SELECT ft.id, ft.title, counts.n, arr.customers, arr.arr
    FROM features_feature ft LEFT JOIN counts ON counts.feature_id = ft.id
    LEFT JOIN arr ON arr.feature_id = ft.id
    WHERE ft.organisation_id = %s
    ORDER BY arr.arr DESC NULLS LAST, ft.id LIMIT 50"""


def generate(org, admin, features: int, links: int, customers: int, rng: random.Random) -> None:
    from django.db import connection

    from moulin.accounts.models import Squad
    from moulin.customers.models import Customer, Segment
    from moulin.features.models import Feature
    from moulin.features.services import demand_recompute, framework_standard
    from moulin.feedback.models import ProductArea

    started = time.perf_counter()
    segments = [Segment.objects.create(organisation=org, name=n, position=i)
                for i, n in enumerate(["SMB", "Mid-market", "Enterprise"])]
    areas = [ProductArea.objects.create(organisation=org, name=f"Area {i}") for i in range(10)]
    squads = [Squad.objects.create(organisation=org, name=f"Squad {i}") for i in range(8)]
    now = datetime.now(UTC)
    Customer.objects.bulk_create([
        Customer(organisation=org, name=f"Customer {i}", external_id=f"C-{i}",
                 segment=rng.choice(segments), plan=rng.choice(["Starter", "Business", "Scale"]),
                 arr=rng.randrange(5_000, 500_000), currency=rng.choice(["EUR"] * 9 + ["USD"]),
                 renewal_date=(now + timedelta(days=rng.randrange(0, 365))).date(),
                 health_score=rng.randrange(0, 100))
        for i in range(customers)], batch_size=5000)
    customer_ids = list(Customer.objects.filter(organisation=org).values_list("id", flat=True))
    statuses = ["idea", "discovery", "planned", "in_progress", "shipped", "released"]
    framework_standard(organisation_id=org.pk)
    Feature.objects.bulk_create([
        Feature(organisation=org, title=f"Feature {i}", status=rng.choice(statuses),
                squad=rng.choice(squads), product_area=rng.choice(areas),
                effort=rng.randrange(1, 40),
                score_inputs={"impact": rng.choice([0.5, 1, 2, 3]),
                              "confidence": rng.choice([50, 80, 100])})
        for i in range(features)], batch_size=5000)
    feature_ids = list(Feature.objects.filter(organisation=org).values_list("id", flat=True))
    items = links // 2  # each item linked to two features
    with connection.cursor() as cursor:
        buffer = io.StringIO()
        for n in range(items):
            received = now - timedelta(minutes=rng.randrange(0, 60 * 24 * 365))
            buffer.write("\t".join([
                str(org.pk), "", f"Verbatim {n}", "api", f"bench-{n}",
                str(rng.choice(customer_ids)), "0", received.isoformat(), "important", "linked",
                "en", "[]", "[]", received.isoformat(), received.isoformat()]) + "\n")
        buffer.seek(0)
        with cursor.copy("COPY feedback_feedback (organisation_id, title, text, source, "
                         "external_id, customer_id, customer_arr, received_at, importance, "
                         "status, language, links, attachments, created_at, updated_at) "
                         "FROM STDIN") as copy:
            while data := buffer.read(1 << 20):
                copy.write(data)
        cursor.execute("SELECT id FROM feedback_feedback WHERE organisation_id = %s ORDER BY id",
                       [org.pk])
        feedback_ids = [row[0] for row in cursor.fetchall()]
        print(f"  … {len(feedback_ids):,} feedback items", flush=True)
        buffer = io.StringIO()
        stamp = now.isoformat()
        # Popularity follows a long tail: a few features get most of the links.
        draw = np.random.default_rng(5)
        weights = 1 / np.arange(1, len(feature_ids) + 1) ** 0.8
        ids = np.asarray(feature_ids)
        first = draw.choice(ids, size=len(feedback_ids), p=weights / weights.sum())
        second = draw.choice(ids, size=len(feedback_ids), p=weights / weights.sum())
        while (same := first == second).any():
            second[same] = draw.choice(ids, size=int(same.sum()), p=weights / weights.sum())
        for feedback_id, a, b in zip(feedback_ids, first.tolist(), second.tolist(),
                                     strict=True):
            for feature_id in (a, b):
                buffer.write(f"{org.pk}\t{feature_id}\t{feedback_id}\timportant\tmanual\t"
                             f"{admin.pk}\t{stamp}\n")
        buffer.seek(0)
        with cursor.copy("COPY features_feedbacklink (organisation_id, feature_id, feedback_id, "
                         "importance, origin, created_by_id, created_at) FROM STDIN") as copy:
            while data := buffer.read(1 << 20):
                copy.write(data)
        cursor.execute("ANALYZE")
    print(f"  … {links:,} links; generated in {time.perf_counter() - started:.0f} s", flush=True)
    started = time.perf_counter()
    demand_recompute(organisation_id=org.pk)
    print(f"first demand + score computation: {time.perf_counter() - started:.1f} s")


def timed(function, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        out.append((time.perf_counter() - started) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--features", type=int, default=5_000)
    parser.add_argument("--links", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()
    vendor = setup_django()

    from django.db import connection
    from django.http import QueryDict

    from moulin.accounts.models import Member, Organisation
    from moulin.accounts.services import member_create, organisation_create
    from moulin.features.models import FeedbackLink
    from moulin.features.selectors import FeatureFilters, board_page
    from moulin.features.services import (
        board_order_ids,
        demand_recompute,
        demand_refresh_stale,
    )

    rng = random.Random(5)
    org = Organisation.objects.filter(name__startswith="Board benchmark").order_by("-id").first() \
        if args.reuse else None
    if org is None:
        org = organisation_create(name=f"Board benchmark {time.time():.0f}", language="en")
        member_create(organisation=org, email=f"admin-{org.pk}@bench.test", full_name="Admin",
                      role="admin", department=org.departments.get(key="product"))
        admin = Member.objects.get(organisation=org)
        generate(org, admin, args.features, args.links, args.customers, rng)
    admin = Member.objects.filter(organisation=org, role="admin").select_related(
        "organisation", "department", "user").first()
    links = FeedbackLink.objects.filter(organisation=org).count()
    squad = org.squads.first()
    area = org.product_areas.first()
    segment = org.segments.first()
    scenarios = {
        "first page": "",
        "second page (cursor)": "__page2__",
        "squad": f"squad={squad.pk}",
        "area + status": f"product_area={area.pk}&status=planned,discovery",
        "segment (requested by)": f"segment={segment.pk}",
        "squad + segment + status": f"squad={squad.pk}&segment={segment.pk}&status=idea",
    }
    print(f"database: {vendor}; {org.features.count():,} features, {links:,} feedback links")
    print(f"{'board query':<28} {'p50 ms':>8} {'p95 ms':>8}")
    first = board_page(member=admin, limit=50)
    for label, query in scenarios.items():
        cursor = None
        if query == "__page2__":
            cursor, query = first["next_cursor"], ""
        filters = FeatureFilters.from_query(QueryDict(query))

        def run(filters=filters, cursor=cursor):
            demand_refresh_stale(organisation_id=org.pk)  # what the board calls first
            page = board_page(member=admin, filters=filters, cursor=cursor, limit=50)
            for item in page["items"]:  # what the rows render
                _ = (item.squad and item.squad.name, item.product_area and item.product_area.name)

        timings = timed(run, args.repeat)
        print(f"{label:<28} {statistics.median(timings):>8.1f} {percentile(timings, 95):>8.1f}")

    # The board view shows each row's rank on the whole board (the list may be filtered).
    all_ids = timed(lambda: {pk: n for n, pk in enumerate(board_order_ids(org.pk), start=1)},
                    args.repeat)
    print(f"{'whole-board ranks':<28} {statistics.median(all_ids):>8.1f} "
          f"{percentile(all_ids, 95):>8.1f}   (board_order_ids, read on each board render)")

    with connection.cursor() as db:
        def raw():
            db.execute(RAW_AGGREGATE, [org.pk] * 4)
            db.fetchall()

        raw_times = timed(raw, max(3, args.repeat // 10))
    print(f"{'raw SQL aggregate (live)':<28} {statistics.median(raw_times):>8.1f} "
          f"{percentile(raw_times, 95):>8.1f}   (demand counted from the links per request)")
    hot = FeedbackLink.objects.filter(organisation=org).values("feature_id").annotate(
        n=__import__("django.db.models", fromlist=["Count"]).Count("id")).order_by("-n").first()
    one = timed(lambda: demand_recompute(organisation_id=org.pk,
                                         feature_ids=[hot["feature_id"]]), 5)
    print(f"incremental recompute of the most linked feature ({hot['n']:,} links): "
          f"p50 {statistics.median(one):.1f} ms")
    started = time.perf_counter()
    demand_recompute(organisation_id=org.pk)
    print(f"full demand + score recompute (daily sweep): "
          f"{time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
