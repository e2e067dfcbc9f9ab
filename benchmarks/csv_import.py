"""CSV import of 100,000 feedback rows through the import wizard's services, as the background
task runs them: upload (format, encoding, delimiter), column mapping + validation of every row,
then the chunked load (customers and contacts linked, tags, history, full-text index).

The file is what French support teams export: semicolons, Windows-1252, dates like 25/11/2026
14:30, French and English verbatims, 1 % bad rows (unknown customer, impossible date, unknown
importance, empty verbatim). Prints rows/s, the seconds of each phase and peak memory.
Target (issue 3): < 60 s for 100,000 rows including validation.

    MOULIN_ENV=test .venv/bin/python benchmarks/csv_import.py [--rows N]
    DATABASE_URL=postgres://… .venv/bin/python benchmarks/csv_import.py   # its own organisation,
                                                                          # deleted afterwards
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import tempfile
import time
import tracemalloc
from pathlib import Path

from _setup import setup_django

OPENINGS_FR = ["Impossible de", "Nous aimerions", "Il faudrait pouvoir",
               "Bonjour, on ne peut pas", "Merci de permettre de", "Le client souhaite"]
OPENINGS_EN = ["We cannot", "Please let us", "It would be great to",
               "Our finance team needs to", "The customer asks to", "Hello, we would like to"]
ACTIONS_FR = ["exporter les rapprochements en PDF", "filtrer les factures par entité",
              "relancer les fournisseurs automatiquement", "consolider plusieurs devises",
              "synchroniser la banque toutes les heures", "voir la prévision de trésorerie"]
ACTIONS_EN = ["export bank reconciliations to PDF", "filter invoices by entity",
              "send supplier reminders automatically", "consolidate several currencies",
              "sync the bank every hour", "see the cash forecast by week"]
DETAILS = ["depuis la mise à jour", "on large workspaces", "pour la clôture mensuelle",
           "before the quarterly close", "sans passer par Excel", "with the Okta SSO"]
TAGS = ["export", "banque", "ux", "api", "pdf", "sso", "forecast", "relance", "mobile", "perf"]
AREAS = ["Rapprochement", "Prévisions", "Paiements", "Reporting", "Intégrations"]
IMPORTANCE = ["Critique", "Important", "faible", "high", "medium", "low", ""]


def verbatim(rng: random.Random, n: int) -> str:
    french = n % 3 != 0
    parts = [rng.choice(OPENINGS_FR if french else OPENINGS_EN),
             rng.choice(ACTIONS_FR if french else ACTIONS_EN), rng.choice(DETAILS)]
    text = " ".join(parts) + "."
    if n % 50 == 0:  # the odd long transcript
        text += " " + " ".join(rng.choice(ACTIONS_FR + ACTIONS_EN) for _ in range(300))
    return text


def write_export(path: Path, rows: int, customers: int, rng: random.Random) -> int:
    """The CSV; returns how many rows are meant to fail."""
    bad = 0
    with path.open("w", encoding="cp1252", newline="") as out:
        out.write("Ticket;Sujet;Verbatim;ID client;E-mail;Créé le;Priorité;Étiquettes;Domaine;"
                  "Agent\r\n")
        for n in range(rows):
            customer = f"C-{rng.randrange(customers)}"
            day = f"{rng.randrange(1, 29):02d}/{rng.randrange(1, 13):02d}/2026 " \
                  f"{rng.randrange(8, 19):02d}:{rng.randrange(60):02d}"
            importance, text = rng.choice(IMPORTANCE), verbatim(rng, n)
            if n % 100 == 17:
                bad += 1
                kind = (n // 100) % 4
                if kind == 0:
                    customer = "C-UNKNOWN"
                elif kind == 1:
                    day = "31/02/2026"
                elif kind == 2:
                    importance = "asap"
                else:
                    text = ""
            email = f"user{rng.randrange(customers * 3)}@{customer.lower()}.test"
            tags = ",".join(rng.sample(TAGS, k=rng.randrange(0, 3)))
            text = text.replace('"', "'")
            out.write(f'Z-{n};Ticket {n};"{text}";{customer};{email};{day};{importance};'
                      f'{tags};{rng.choice(AREAS)};Agent {n % 40}\r\n')
    return bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=1_000)
    parser.add_argument("--tracemalloc", action="store_true",
                        help="measure Python allocations too (slows the run down ~2x)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="moulin-csv-import-"))
    os.environ["MEDIA_ROOT"] = str(workdir / "media")
    # As in production: with DEBUG on, Django keeps and formats every query it runs.
    os.environ.setdefault("DEBUG", "false")
    own_database = not os.environ.get("DATABASE_URL")
    if own_database:  # a throwaway SQLite file, removed with the rest at the end
        os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    vendor = setup_django()

    from django.core.files import File
    from django.db import connection
    from django.test.utils import override_settings

    from moulin.accounts.audit import CLI
    from moulin.accounts.models import Department, User
    from moulin.accounts.services import member_create, organisation_create
    from moulin.customers.services import customer_bulk_upsert
    from moulin.feedback import imports
    from moulin.feedback.import_selectors import import_mapping_initial
    from moulin.feedback.models import Feedback
    from moulin.feedback.tasks import import_job_process

    rng = random.Random(2026)
    stamp = time.time_ns()
    org = organisation_create(name=f"CSV import bench {stamp}", slug=f"bench-csv-{stamp}",
                              language="fr")
    try:
        actor = member_create(organisation=org, email=f"ops{stamp}@bench.test",
                              full_name="Bench Ops", role="product_ops",
                              department=Department.objects.get(organisation=org,
                                                                key="product"))
        for start in range(0, args.customers, 1000):
            customer_bulk_upsert(organisation=org, raw_items=[
                {"external_id": f"C-{n}", "name": f"Client {n}", "domains": [f"c-{n}.test"]}
                for n in range(start, min(args.customers, start + 1000))])
        path = workdir / "export-zendesk.csv"
        meant_to_fail = write_export(path, args.rows, args.customers, rng)
        size = path.stat().st_size
        search = "PostgreSQL tsvector"
        if vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM sqlite_master WHERE type = 'trigger' "
                               "AND name LIKE 'feedback_fts_%'")
                search = "FTS5 triggers on" if cursor.fetchone()[0] else "FTS5 triggers MISSING"
        print(f"database: {vendor} ({search}); file: {args.rows:,} rows, {size / 1e6:.1f} MB "
              f"(cp1252, ';'), {meant_to_fail:,} bad rows")

        if args.tracemalloc:
            tracemalloc.start()
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        with path.open("rb") as handle:
            job = imports.import_job_create(actor=actor, kind="feedback",
                                            source_name="Zendesk export",
                                            upload=File(handle, name=path.name))
        uploaded = time.perf_counter()
        imports.import_job_set_mapping(actor=actor, job=job,
                                       mapping=import_mapping_initial(job=job))
        validated = time.perf_counter()
        # Queue it without running it here: the worker's code path runs below, timed.
        with override_settings(TASKS={"default": {
                "BACKEND": "django_tasks.backends.dummy.DummyBackend"}}):
            imports.import_job_start(actor=actor, origin=CLI, job=job)
        result = import_job_process.call(job.pk)
        finished = time.perf_counter()
        peak_python = tracemalloc.get_traced_memory()[1] if args.tracemalloc else None
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

        job.refresh_from_db()
        total = finished - started
        print(f"mapping: {job.mapping}")
        print(f"validation found {job.total_rows:,} rows; import: {result}")
        print(f"upload (inspect)   {uploaded - started:7.2f} s")
        print(f"validation         {validated - uploaded:7.2f} s  "
              f"({args.rows / (validated - uploaded):,.0f} rows/s)")
        print(f"import (task)      {finished - validated:7.2f} s  "
              f"({args.rows / (finished - validated):,.0f} rows/s)")
        met = "met" if total < 60 * args.rows / 1e5 else "MISSED"
        print(f"total              {total:7.2f} s  ({args.rows / total:,.0f} rows/s) — "
              f"target < 60 s per 100,000 rows: {met}")
        print(f"peak RSS           {rss_after / 1024:7.0f} MB (before the import: "
              f"{rss_before / 1024:.0f} MB)")
        if peak_python is not None:
            print(f"peak Python allocations {peak_python / 1e6:.0f} MB (tracemalloc)")
        stored = Feedback.objects.filter(organisation=org).count()
        assert stored == job.created_count, (stored, job.created_count)
        assert job.error_count == meant_to_fail, (job.error_count, meant_to_fail)
    finally:
        if not own_database:  # the user's database keeps nothing of the run
            User.objects.filter(member__organisation=org).delete()  # members protect departments
            org.delete()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
