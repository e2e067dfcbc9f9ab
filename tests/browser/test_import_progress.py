"""Importing a CSV with some bad rows through the wizard, with a real background worker: the
progress bar fills while the page stays put, and the error count and report appear."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from django.db import connection, connections
from django_tasks_db.management.commands.db_worker import Worker
from playwright.sync_api import Page, expect

from moulin.customers.services import customer_upsert
from moulin.feedback.models import Feedback, ImportJob, ImportStatus
from tests.builders import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

IMAGES = Path(__file__).resolve().parents[2] / "docs" / "img"
VERBATIMS = [
    "Les exports PDF prennent plus d'une minute sur les gros dossiers",
    "We need single sign-on with Okta before the renewal",
    "Le rapprochement bancaire plante quand il y a plus de 500 lignes",
    "The forecast chart does not show the previous quarter",
    "Impossible de filtrer les factures par entité",
    "Please add a Slack alert when a payment fails",
]


def feedback_export(path: Path, rows: int) -> Path:
    """A French Excel export: semicolons, Windows-1252, dates like 25/11/2026; three bad rows."""
    lines = ["Ticket;Verbatim;Client;E-mail;Créé le;Priorité;Agent"]
    for n in range(1, rows + 1):
        customer = "Initech" if n % 2 else "Globex"
        date, importance = f"{n % 28 + 1:02d}/11/2026", ("Critique", "Important", "faible")[n % 3]
        if n == 7:
            customer = "Umbrella Corp"  # not a customer yet
        if n == 19:
            date = "31/02/2026"  # no such day
        if n == 33:
            importance = "asap"  # not an importance
        lines.append(f"Z-{n};{VERBATIMS[n % len(VERBATIMS)]} (#{n});{customer};"
                     f"user{n}@{customer.split()[0].lower()}.test;{date};{importance};Léa")
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))
    return path


def start_worker() -> threading.Thread:
    """django-tasks-db's worker in a thread. ``call_command("db_worker")`` cannot run there (it
    installs signal handlers, which only the main thread may do), so the Worker runs directly:
    it takes the queued task, runs it, and returns once the queue is empty (batch mode)."""

    def run():
        try:
            Worker(queue_names=["default"], interval=0.2, batch=True, backend_name="default",
                   startup_delay=False, max_tasks=None, worker_id="browser-test",
                   excluded_queue_names=[]).run()
        finally:
            connections.close_all()

    worker = threading.Thread(target=run, name="db-worker", daemon=True)
    worker.start()
    return worker


@pytest.fixture
def database_tasks(settings, tmp_path):
    """Tasks go through the database queue (as in production), uploads to a temporary folder.

    The test database is SQLite in memory with a shared cache: the worker thread has its own
    connection, the live server shares the test's. In shared-cache mode a reader is refused
    ("table is locked") while another connection writes the same table, so the live server's
    connection reads uncommitted rows instead of waiting for the worker's chunk to commit.
    """
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    settings.MEDIA_ROOT = tmp_path
    sqlite = connection.vendor == "sqlite"  # PostgreSQL readers never wait for writers
    if sqlite:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA read_uncommitted = 1")
    yield
    if sqlite:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA read_uncommitted = 0")


def test_a_csv_with_bad_rows_imports_in_the_background_with_a_live_progress_bar(
        product_ops, organisation, database_tasks, tmp_path, live_server, page: Page,
        sign_in):
    for external_id, name in [("crm-1", "Initech"), ("crm-2", "Globex")]:
        customer_upsert(organisation=organisation, raw={"external_id": external_id,
                                                         "name": name})
    export = feedback_export(tmp_path / "zendesk-novembre.csv", rows=60)
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(product_ops.user.email, PASSWORD)

    page.goto(f"{live_server.url}/feedback/imports/new/")
    expect(page.get_by_role("radio", name="Feedback")).to_be_checked()
    page.locator("#id_source_name").fill("Zendesk export")
    page.locator("#id_file").set_input_files(export)
    page.get_by_role("button", name="Upload and choose the columns").click()

    expect(page.get_by_role("heading", name="Choose the columns")).to_be_visible()
    expect(page.locator("#id_text")).to_have_value("Verbatim")
    expect(page.locator("#ignored-columns")).to_contain_text("Agent")
    page.get_by_role("button", name="Check the file").click()

    expect(page.locator("#validation-summary")).to_have_text(
        "60 rows: 57 ready to import, 3 with errors.")
    page.get_by_role("button", name="Import 57 rows").click()

    status = page.locator("#import-status")
    expect(status).to_contain_text("Waiting for the background worker")
    expect(page.locator("#import-progress")).to_have_attribute("value", "0")
    page.evaluate("window.__noReload = true")

    worker = start_worker()
    expect(page.locator("#import-status-title")).to_have_text("Import finished",
                                                             timeout=20_000)
    worker.join(timeout=20)
    progress = page.locator("#import-progress")
    expect(progress).to_have_attribute("value", "100")
    expect(progress).to_have_attribute("aria-valuenow", "100")
    expect(status.get_by_role("status")).to_have_text("60 of 60 rows (100%)")
    expect(page.locator("#import-created")).to_have_text("57")
    expect(page.locator("#import-errors")).to_have_text("3")
    expect(status.locator("table.import-errors tbody tr")).to_have_count(3)
    expect(status.locator("table.import-errors")).to_contain_text("Umbrella Corp")
    expect(status.get_by_role("button", name="Re-run failed rows")).to_be_visible()
    assert page.evaluate("window.__noReload") is True  # htmx polling, never a page reload

    job = ImportJob.objects.get(organisation=organisation)
    assert job.status == ImportStatus.SUCCEEDED
    assert Feedback.objects.filter(organisation=organisation).count() == 57

    IMAGES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(IMAGES / "import.png"), full_page=True, animations="disabled",
                    caret="hide")
