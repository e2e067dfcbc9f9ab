"""Inbox list and full-text search latency at scale (issue 3): p50/p95 of the inbox's real
selector (`feedback_list` + the first page, as the inbox renders it) for typical filter sets,
next to the same query written as raw SQL.

Target: p95 < 150 ms at 1,000,000 feedback items and 10,000 customers on PostgreSQL.

    eval "$(scripts/pg-start.sh /tmp/moulin-pg)"
    .venv/bin/python benchmarks/inbox_queries.py --rows 1000000 --customers 10000

The data set is generated once per database (an organisation named "Inbox benchmark …") with
COPY; pass --reuse to measure again on the data a previous run left.
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from _setup import percentile, setup_django

FR = ("Impossible d'exporter le rapport de trésorerie en PDF", "La synchronisation bancaire "
      "échoue le lundi", "Il faudrait des relances personnalisées par client", "Le lettrage "
      "automatique rate les virements groupés", "Nous voulons une vue consolidée multi-devises",
      "Le circuit de validation des paiements fournisseurs est trop rigide")
EN = ("The cash report PDF export cuts the charts", "Bank sync fails every Monday morning",
      "We need custom dunning templates per customer", "Cash application misses grouped "
      "transfers", "Please add a consolidated multi-currency view", "Supplier payment "
      "approvals need two signatories")


def generate(org, members, rows: int, customers: int, rng: random.Random) -> None:
    from django.db import connection

    from moulin.customers.models import Customer, Segment
    from moulin.feedback.models import ProductArea, Tag

    segments = [Segment.objects.create(organisation=org, name=n, position=i)
                for i, n in enumerate(["SMB", "Mid-market", "Enterprise"])]
    areas = [ProductArea.objects.create(organisation=org, name=f"Area {i}") for i in range(8)]
    tags = [Tag.objects.create(organisation=org, name=f"tag-{i}") for i in range(40)]
    now = datetime.now(UTC)
    Customer.objects.bulk_create([
        Customer(organisation=org, name=f"Customer {i}", external_id=f"C-{i}",
                 segment=rng.choice(segments), plan=rng.choice(["Starter", "Business",
                                                                "Enterprise"]),
                 arr=rng.randrange(5_000, 500_000), lifecycle=rng.choice(
                     ["customer"] * 8 + ["trial", "churned"]))
        for i in range(customers)], batch_size=5000)
    customer_arr = dict(Customer.objects.filter(organisation=org).values_list("id", "arr"))
    customer_ids = list(customer_arr)
    sources = ["web_form", "api", "email", "intercom", "zendesk", "hubspot", "slack", "survey"]
    statuses = ["new"] * 2 + ["triaged"] * 4 + ["linked"] * 3 + ["closed", "archived"]
    started = time.perf_counter()
    chunk = 100_000
    with connection.cursor() as cursor:
        for base in range(0, rows, chunk):
            buffer = io.StringIO()
            for n in range(base, min(rows, base + chunk)):
                french = rng.random() < 0.65
                text = f"{rng.choice(FR if french else EN)} ({n})"
                received = now - timedelta(minutes=rng.randrange(0, 60 * 24 * 730))
                status = rng.choice(statuses)
                triaged = (received + timedelta(hours=rng.randrange(1, 200))).isoformat() \
                    if status != "new" else "\\N"
                customer = rng.choice(customer_ids)
                buffer.write("\t".join([
                    str(org.pk), "", text, rng.choice(sources), f"gen-{n}",
                    str(rng.choice(members)), str(customer), str(customer_arr[customer] or 0),
                    received.isoformat(), rng.choice(["nice_to_have", "important", "critical"]),
                    str(rng.choice(areas).pk) if rng.random() < 0.7 else "\\N", status, triaged,
                    "fr" if french else "en", "[]", "[]", received.isoformat(),
                    received.isoformat()]) + "\n")
            with cursor.copy(
                    "COPY feedback_feedback (organisation_id, title, text, source, external_id, "
                    "submitted_by_id, customer_id, customer_arr, received_at, importance, "
                    "product_area_id, status, triaged_at, language, links, attachments, "
                    "created_at, updated_at) "
                    "FROM STDIN") as copy:
                copy.write(buffer.getvalue())
            print(f"  … {min(rows, base + chunk):,} rows", flush=True)
        cursor.execute(
            "INSERT INTO feedback_feedback_tags (feedback_id, tag_id) SELECT f.id, "
            "%s + (f.id %% 40) FROM feedback_feedback f WHERE f.organisation_id = %s "
            "AND f.id %% 3 = 0", [tags[0].pk, org.pk])
        cursor.execute("ANALYZE")
    print(f"generated {rows:,} feedback rows in {time.perf_counter() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()
    vendor = setup_django()

    from django.db import connection

    from moulin.accounts.models import Member, Organisation
    from moulin.accounts.services import member_create, organisation_create
    from moulin.feedback.models import Feedback
    from moulin.feedback.selectors import FeedbackFilters, feedback_list

    rng = random.Random(11)
    org = Organisation.objects.filter(name__startswith="Inbox benchmark").order_by("-id").first() \
        if args.reuse else None
    if org is None:
        org = organisation_create(name=f"Inbox benchmark {time.time():.0f}", language="fr")
        product = org.departments.get(key="product")
        for i in range(20):
            member_create(organisation=org, email=f"m{i}-{org.pk}@bench.test",
                          full_name=f"Member {i}", role="admin" if i == 0 else "product_ops",
                          department=product)
        members = list(Member.objects.filter(organisation=org).values_list("id", flat=True))
        generate(org, members, args.rows, args.customers, rng)
    admin = Member.objects.filter(organisation=org, role="admin").select_related(
        "organisation", "department", "user").first()
    total = Feedback.objects.filter(organisation=org).count()
    area = org.product_areas.first()
    segment = org.segments.first()
    scenarios = {
        "inbox default (status=new)": "status=new",
        "all statuses, newest": "",
        "source + importance": "source=zendesk&importance=critical",
        "segment + ARR range": f"segment={segment.pk}&arr_min=100000&arr_max=400000",
        "product area + date range": f"product_area={area.pk}&date_from=2026-01-01"
                                     "&date_to=2026-06-30",
        "search 'trésorerie' (fr)": "q=trésorerie",
        "search 'sync monday' (en)": "q=sync%20monday",
        "search + status new": "q=relances&status=new",
        "sort by ARR": "sort=arr&status=new",
    }
    from django.http import QueryDict

    print(f"database: {vendor}; {total:,} feedback items in the organisation, "
          f"{args.customers:,} customers")
    print(f"{'scenario':<30} {'p50 ms':>8} {'p95 ms':>8} {'raw p95':>8} {'ratio':>6}")
    for label, query in scenarios.items():
        filters = FeedbackFilters.from_query(QueryDict(query))
        qs = feedback_list(member=admin, filters=filters)
        timings = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            page = list(qs.all()[:51])
            for item in page:  # what the rows template touches
                _ = (item.customer and item.customer.name, [t.name for t in item.tags.all()])
            timings.append((time.perf_counter() - started) * 1000)
        sql, params = qs.all()[:51].query.sql_with_params()
        raw = []
        with connection.cursor() as cursor:
            for _ in range(args.repeat):
                started = time.perf_counter()
                cursor.execute(sql, params)
                cursor.fetchall()
                raw.append((time.perf_counter() - started) * 1000)
        p95, raw95 = percentile(timings, 95), percentile(raw, 95)
        print(f"{label:<30} {statistics.median(timings):>8.1f} {p95:>8.1f} {raw95:>8.1f} "
              f"{p95 / raw95 if raw95 else 0:>6.2f}")


if __name__ == "__main__":
    main()
