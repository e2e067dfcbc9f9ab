"""Bulk API ingest: POST /api/v1/feedback/bulk with 1,000 items per call, through the whole
Django stack (auth, rate limit, validation, customer/contact linking, tags, history).

Prints items/s and, on PostgreSQL, the time of a plain COPY of the same rows into a table of the
same shape, and the ratio. Target (issue 3): ≥ 5,000 items/s on PostgreSQL on 2 cores.

    eval "$(scripts/pg-start.sh /tmp/moulin-pg)"
    .venv/bin/python benchmarks/bulk_ingest.py --items 50000
"""

from __future__ import annotations

import argparse
import io
import json
import random
import time

from _setup import setup_django

WORDS_FR = ("export relance trésorerie prévision banque synchronisation paiement fournisseur "
            "rapport tableau lettrage virement échéance devise consolidation").split()
WORDS_EN = ("export reminder cash forecast bank sync payment supplier report dashboard "
            "matching transfer due currency consolidation").split()


def make_items(count: int, customers: int, rng: random.Random) -> list[dict]:
    items = []
    for n in range(count):
        words = WORDS_FR if n % 3 else WORDS_EN
        text = " ".join(rng.choice(words) for _ in range(rng.randrange(12, 60)))
        items.append({
            "external_id": f"bench-{n}", "text": text.capitalize() + ".", "source": "api",
            "customer_external_id": f"C-{rng.randrange(customers)}",
            "contact_email": f"user{rng.randrange(customers * 3)}@c{rng.randrange(customers)}.test",
            "created_at": f"2026-{rng.randrange(1, 12):02d}-{rng.randrange(1, 28):02d}T10:00:00Z",
            "importance": rng.choice(["nice_to_have", "important", "critical"]),
            "tags": rng.sample(["export", "bank", "ux", "api", "pdf", "sso"], k=2),
        })
    return items


def over_http(bodies: list[bytes], secret: str, workers: int, clients: int) -> float:
    """POST the batches to a real gunicorn server on loopback with concurrent clients, as a
    deployment on this machine would serve them; returns items/s."""
    import http.client
    import os
    import socket
    import subprocess
    import sys
    from concurrent.futures import ThreadPoolExecutor
    from pathlib import Path

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "MOULIN_ENV": "development", "DEBUG": "false",
           "API_RATE_LIMIT_PER_MINUTE": "1000000000", "ALLOWED_HOSTS": "127.0.0.1"}
    server = subprocess.Popen(  # noqa: S603 - our own server, fixed arguments
        [sys.executable, "-m", "gunicorn", "moulin.config.wsgi", "--bind",
         f"127.0.0.1:{port}", "--workers", str(workers), "--timeout", "120",
         "--log-level", "warning"], cwd=root, env=env)
    try:
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.2)
        headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}

        def post(body: bytes) -> int:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            connection.request("POST", "/api/v1/feedback/bulk", body=body, headers=headers)
            response = connection.getresponse()
            payload = json.loads(response.read())
            connection.close()
            assert response.status == 200, payload
            return payload["created"] + payload["updated"]

        post(bodies[0])  # warm-up: each worker imports and connects on first use
        post(bodies[1])
        started = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            written = sum(pool.map(post, bodies[2:]))
        return written / (time.perf_counter() - started)
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--server-workers", type=int, default=2,
                        help="gunicorn workers for the over-HTTP run (0: skip it)")
    parser.add_argument("--clients", type=int, default=3,
                        help="concurrent HTTP clients for the over-HTTP run")
    args = parser.parse_args()
    vendor = setup_django()

    from django.db import connection
    from django.test import Client
    from django.test.utils import override_settings

    from moulin.accounts.audit import CLI
    from moulin.accounts.services import api_token_create, member_create, organisation_create
    from moulin.customers.models import Customer

    rng = random.Random(7)
    org = organisation_create(name=f"Bench {time.time():.0f}", language="en")
    admin = member_create(organisation=org, email=f"bench{time.time_ns()}@bench.test",
                          full_name="Bench", role="admin",
                          department=org.departments.get(key="product"), password=None)
    _token, secret = api_token_create(actor=admin, origin=CLI, name="bench", scope="write")
    Customer.objects.bulk_create([Customer(organisation=org, name=f"Customer {i}",
                                           external_id=f"C-{i}") for i in range(args.customers)])
    items = make_items(args.items, args.customers, rng)
    client = Client()
    headers = {"Authorization": f"Bearer {secret}"}
    batches = [items[i:i + 1000] for i in range(0, len(items), 1000)]
    bodies = [json.dumps({"items": batch}) for batch in batches]

    with override_settings(API_RATE_LIMIT_PER_MINUTE=10**9):
        client.post("/api/v1/feedback/bulk", bodies[0], content_type="application/json",
                    headers=headers)  # warm-up (first batch: creates contacts and tags)
        started = time.perf_counter()
        created = 0
        for body in bodies[1:]:
            response = client.post("/api/v1/feedback/bulk", body,
                                   content_type="application/json", headers=headers)
            assert response.status_code == 200, response.content[:500]
            created += response.json()["created"]
        elapsed = time.perf_counter() - started
        sent = len(items) - len(batches[0])
        rate = sent / elapsed
        print(f"database: {vendor}")
        print(f"bulk API ingest: {sent} items in {elapsed:.2f} s = {rate:,.0f} items/s "
              f"({created} created, batches of 1,000)")

        started = time.perf_counter()
        for body in bodies[1:4]:
            client.post("/api/v1/feedback/bulk", body, content_type="application/json",
                        headers=headers)
        retry = (time.perf_counter() - started) / 3
        print(f"retried batch (all unchanged, nothing duplicated): {1000 / retry:,.0f} items/s")

    rate_http = 0.0
    if args.server_workers:
        items_http = make_items(args.items, args.customers, random.Random(8))
        for item in items_http:
            item["external_id"] = "http-" + item["external_id"]
        http_bodies = [json.dumps({"items": items_http[i:i + 1000]}).encode()
                       for i in range(0, len(items_http), 1000)]
        rate_http = over_http(http_bodies, secret, args.server_workers, args.clients)
        print(f"over real HTTP (gunicorn, {args.server_workers} workers, {args.clients} "
              f"clients): {rate_http:,.0f} items/s")

    if vendor == "postgresql":
        buffer = io.StringIO()
        for item in items[1000:]:
            row = [str(org.pk), item["external_id"], "", item["text"], item["source"],
                   item["created_at"], item["importance"], "new", "en", "[]", "[]",
                   item["created_at"], item["created_at"], "0"]
            buffer.write("\t".join(v.replace("\t", " ") for v in row) + "\n")
        with connection.cursor() as cursor:
            cursor.execute("CREATE TEMP TABLE copy_bench (LIKE feedback_feedback "
                           "INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING GENERATED "
                           "INCLUDING INDEXES)")
            started = time.perf_counter()
            payload = buffer.getvalue()
            columns = ("organisation_id, external_id, title, text, source, received_at, "
                       "importance, status, language, links, attachments, created_at, "
                       "updated_at, customer_arr")
            with cursor.copy(f"COPY copy_bench ({columns}) FROM STDIN") as copy:
                copy.write(payload)
            copy_elapsed = time.perf_counter() - started
        copy_rate = sent / copy_elapsed
        print(f"plain COPY of the same rows (same table shape and indexes): {copy_elapsed:.2f} s "
              f"= {copy_rate:,.0f} rows/s")
        print(f"ratio API (one client) / COPY: {rate / copy_rate:.2f}")
        if args.server_workers:
            print(f"ratio API (over HTTP) / COPY: {rate_http / copy_rate:.2f} "
                  f"(COPY is {copy_rate / rate_http:.1f}x faster)")


if __name__ == "__main__":
    main()
