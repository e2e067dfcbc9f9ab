"""The import wizard, as Product Ops use it: upload a support-tool export or a CRM file, check
the columns and the preview, import in the background, read the error report, fix the cause
and re-run the failed rows — without ever duplicating or half-importing a row."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import IntegrityError
from django.test import override_settings
from django.urls import reverse

from moulin.accounts.audit import CLI
from moulin.accounts.models import AuditEntry
from moulin.customers.models import Contact, Customer
from moulin.customers.services import customer_upsert
from moulin.feedback import imports
from moulin.feedback.models import (
    Feedback,
    Importance,
    ImportJob,
    ImportRowError,
    ImportStatus,
    Source,
)
from moulin.feedback.services import FeedbackWriter
from moulin.feedback.tasks import import_job_process

ZENDESK_HEADER = "Ticket;Commentaire client;Compte;Email;Créé le;Urgence;Notes internes\r\n"
ZENDESK_ROWS = [
    "T-1;Les exports PDF sont trop lents;Initech;ana@initech.test;25/11/2026;Critique;x\r\n",
    "T-2;We need SSO with Okta;Globex;bob@globex.test;26/11/2026;high;y\r\n",
    ";;;;;;\r\n",  # an empty row (row 4): skipped
    "T-3;Le rapprochement bancaire plante;Umbrella Corp;eve@umbrella.test;27/11/2026;;z\r\n",
    "T-4;Dashboard is blank on Safari;Initech;ana@initech.test;32/13/2026;;\r\n",
    "T-5;Merci pour la nouvelle API;Globex;;28/11/2026;faible;\r\n",
]


def zendesk_export(rows: list[str] = ZENDESK_ROWS) -> bytes:
    """A semicolon CSV as French Excel saves it: Windows-1252, CRLF, French dates."""
    return (ZENDESK_HEADER + "".join(rows)).encode("cp1252")


@pytest.fixture(autouse=True)
def uploads_in_a_temporary_folder(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def crm(organisation):
    """The customers the feedback files name (Umbrella Corp is not one of them yet)."""
    for external_id, name in [("crm-1", "Initech"), ("crm-2", "Globex")]:
        customer_upsert(organisation=organisation, raw={"external_id": external_id,
                                                         "name": name})


def upload(client, content: bytes, *, name: str = "zendesk.csv", kind: str = "feedback",
           source: str = "Zendesk export"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(reverse("feedback:import_new"), {
        "kind": kind, "source_name": source, "file": SimpleUploadedFile(name, content)})


def uploaded_job(response) -> ImportJob:
    assert response.status_code == 302, response.content[:500]
    return ImportJob.objects.get(pk=response.url.rstrip("/").split("/")[-2])


def offered_mapping(client, job: ImportJob) -> dict[str, str]:
    form = client.get(reverse("feedback:import_mapping", args=[job.pk])).context["form"]
    return {name: form[name].value() or "" for name in form.fields}


def choose_columns(client, job: ImportJob, **changes: str) -> dict[str, str]:
    """Accept the offered mapping, with ``changes``; returns what was submitted."""
    mapping = {**offered_mapping(client, job), **changes}
    response = client.post(reverse("feedback:import_mapping", args=[job.pk]), mapping)
    assert response.status_code == 302, response.content.decode()[:2000]
    return mapping


def start(client, job: ImportJob, capture) -> ImportJob:
    """Press "Import": the task runs when the request commits (ImmediateBackend in tests)."""
    with capture(execute=True):
        response = client.post(reverse("feedback:import_detail", args=[job.pk]))
    assert response.status_code == 302
    job.refresh_from_db()
    return job


def error_report(client, job: ImportJob) -> list[list[str]]:
    response = client.get(reverse("feedback:import_errors_csv", args=[job.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


# --- The main story ------------------------------------------------------------------------

def test_product_ops_imports_a_zendesk_export_and_gets_a_row_by_row_report(
        client_for, product_ops, crm, django_capture_on_commit_callbacks):
    client = client_for(product_ops)
    job = uploaded_job(upload(client, zendesk_export()))
    assert (job.encoding, job.delimiter) == ("cp1252", ";")

    page = client.get(reverse("feedback:import_mapping", args=[job.pk]))
    offered = offered_mapping(client, job)
    assert {key: value for key, value in offered.items() if value} == {
        "external_id": "Ticket", "text": "Commentaire client", "customer_name": "Compte",
        "contact_email": "Email", "created_at": "Créé le", "importance": "Urgence"}
    assert "Notes internes" in page.context["ignored"]  # unknown columns are left out

    choose_columns(client, job)
    preview = client.get(reverse("feedback:import_detail", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == ImportStatus.VALIDATED
    assert (job.total_rows, job.error_count) == (5, 2)  # the empty row is not a row
    assert "5 rows: 3 ready to import, 2 with errors." in preview.content.decode()
    rows = preview.context["preview"]
    assert [row.row_number for row in rows] == [2, 3, 5, 6, 7]
    assert rows[0].cells[:2] == ["Les exports PDF sont trop lents", "T-1"]  # text, then id
    assert "Critical" in rows[0].cells
    assert "No customer is named “Umbrella Corp”" in rows[2].error
    assert rows[3].error_field == "created_at"

    job = start(client, job, django_capture_on_commit_callbacks)
    assert job.status == ImportStatus.SUCCEEDED
    assert (job.processed_rows, job.created_count, job.updated_count, job.error_count) == (
        5, 3, 0, 2)
    assert job.percent == 100
    imported = {f.external_id: f for f in Feedback.objects.filter(organisation=job.organisation)}
    assert set(imported) == {"T-1", "T-2", "T-5"}
    assert imported["T-1"].customer.name == "Initech"
    assert imported["T-1"].importance == Importance.CRITICAL
    assert imported["T-1"].received_at.date().isoformat() == "2026-11-25"
    assert imported["T-1"].source == Source.CSV_IMPORT
    assert imported["T-1"].contact.email == "ana@initech.test"
    assert AuditEntry.objects.filter(action="import.started", target_id=str(job.pk)).exists()

    report = error_report(client, job)
    assert report[0][:3] == ["Row", "Column", "Error"]
    assert report[0][3:] == ["Ticket", "Commentaire client", "Compte", "Email", "Créé le",
                             "Urgence", "Notes internes"]
    assert [(line[0], line[1]) for line in report[1:]] == [("5", "Compte"), ("6", "Créé le")]
    assert report[2][3:] == ["T-4", "Dashboard is blank on Safari", "Initech",
                             "ana@initech.test", "32/13/2026", "", ""]

    summary = client.get(reverse("feedback:import_detail", args=[job.pk])).content.decode()
    assert "Re-run failed rows" in summary and "Download the error report" in summary


def test_re_running_failed_rows_after_creating_the_customer_imports_them_once(
        client_for, product_ops, organisation, crm, django_capture_on_commit_callbacks):
    client = client_for(product_ops)
    job = uploaded_job(upload(client, zendesk_export()))
    choose_columns(client, job)
    job = start(client, job, django_capture_on_commit_callbacks)
    assert job.error_count == 2

    customer_upsert(organisation=organisation, raw={"external_id": "crm-3",
                                                    "name": "Umbrella Corp"})
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("feedback:import_rerun", args=[job.pk]),
                               {"scope": "failed"})
    assert response.status_code == 302
    job.refresh_from_db()

    assert job.status == ImportStatus.SUCCEEDED
    assert (job.created_count, job.error_count, job.processed_rows) == (4, 1, 5)
    assert Feedback.objects.filter(organisation=organisation).count() == 4
    assert Feedback.objects.get(external_id="T-3").customer.name == "Umbrella Corp"
    # The row that still fails is the bad date: fixing it needs a new file.
    assert [line[0] for line in error_report(client, job)[1:]] == ["6"]
    assert ImportRowError.objects.filter(job=job, resolved=True).count() == 1


def test_the_mapping_is_remembered_for_the_next_file_from_the_same_source(
        client_for, product_ops, crm):
    client = client_for(product_ops)
    first = uploaded_job(upload(client, zendesk_export()))
    choose_columns(client, first, title="Notes internes", importance="")

    again = uploaded_job(upload(client, zendesk_export(), name="zendesk-december.csv"))
    remembered = offered_mapping(client, again)
    assert remembered["title"] == "Notes internes"
    assert remembered["importance"] == ""  # left out on purpose last time: still left out

    other_source = uploaded_job(upload(client, zendesk_export(), source="Intercom"))
    assert offered_mapping(client, other_source)["title"] == ""
    assert offered_mapping(client, other_source)["importance"] == "Urgence"


def test_uploading_the_same_file_again_updates_instead_of_duplicating(
        client_for, product_ops, organisation, crm, django_capture_on_commit_callbacks):
    client = client_for(product_ops)
    for attempt in range(2):
        job = uploaded_job(upload(client, zendesk_export()))
        choose_columns(client, job)
        job = start(client, job, django_capture_on_commit_callbacks)
        assert (job.created_count, job.updated_count) == ((3, 0) if attempt == 0 else (0, 3))
    assert Feedback.objects.filter(organisation=organisation).count() == 3


def test_a_ticket_id_repeated_in_the_file_is_reported_and_never_re_run(
        client_for, product_ops, organisation, crm, django_capture_on_commit_callbacks):
    client = client_for(product_ops)
    rows = [ZENDESK_ROWS[0], ZENDESK_ROWS[0].replace("trop lents", "lents"), ZENDESK_ROWS[1]]
    job = uploaded_job(upload(client, zendesk_export(rows)))
    choose_columns(client, job)
    job = start(client, job, django_capture_on_commit_callbacks)
    assert (job.created_count, job.error_count) == (2, 1)
    assert "Row 2 of this file has the same external id" in error_report(client, job)[1][2]

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("feedback:import_rerun", args=[job.pk]), {"scope": "failed"})
    job.refresh_from_db()
    assert job.error_count == 1
    assert Feedback.objects.get(external_id="T-1").text == "Les exports PDF sont trop lents"


# --- Background job behaviour --------------------------------------------------------------

def feedback_file(count: int, *, with_ids: bool = False) -> bytes:
    header = "Id,Verbatim\n" if with_ids else "Verbatim\n"
    lines = [f"F-{n},Item {n}\n" if with_ids else f"Item {n}\n" for n in range(count)]
    return (header + "".join(lines)).encode()


def validated_job(client, content: bytes) -> ImportJob:
    job = uploaded_job(upload(client, content, name="items.csv", source="Spreadsheet"))
    choose_columns(client, job)
    job.refresh_from_db()
    return job


def test_cancel_stops_a_running_import_between_chunks_and_keeps_what_was_written(
        client_for, product_ops, organisation):
    client = client_for(product_ops)
    job = validated_job(client, feedback_file(25))
    imports.import_job_start(actor=product_ops, origin=CLI, job=job)  # task not run yet
    job = imports.import_job_claim(job_id=job.pk)

    def cancel_after_second_chunk(running: ImportJob) -> None:
        running.refresh_from_db()
        if running.processed_rows == 10:
            response = client.post(reverse("feedback:import_cancel", args=[job.pk]))
            assert response.status_code == 302

    job = imports.import_job_run(job=job, chunk_size=5, on_progress=cancel_after_second_chunk)

    assert job.status == ImportStatus.CANCELLED
    assert (job.processed_rows, job.created_count) == (10, 10)
    assert Feedback.objects.filter(organisation=organisation).count() == 10

    # Running the whole file again finishes it: rows without an id got import-<job>-<row>.
    imports.import_job_rerun(actor=product_ops, origin=CLI, job=job, only_failed=False)
    result = import_job_process.call(job.pk)
    assert result["status"] == ImportStatus.SUCCEEDED
    assert Feedback.objects.filter(organisation=organisation).count() == 25
    assert Feedback.objects.filter(external_id=f"import-{job.pk}-2").exists()


def test_a_job_is_loaded_once_even_when_its_task_runs_twice(client_for, product_ops,
                                                            organisation):
    job = validated_job(client_for(product_ops), feedback_file(3))
    imports.import_job_start(actor=product_ops, origin=CLI, job=job)
    assert import_job_process.call(job.pk)["claimed"] is True
    assert import_job_process.call(job.pk) == {"job_id": job.pk, "claimed": False}
    assert Feedback.objects.filter(organisation=organisation).count() == 3


def test_an_unexpected_failure_is_kept_on_the_job_which_can_run_again(
        client_for, product_ops, organisation, monkeypatch):
    job = validated_job(client_for(product_ops), feedback_file(12, with_ids=True))
    imports.import_job_start(actor=product_ops, origin=CLI, job=job)
    write = FeedbackWriter.write
    calls = []

    def fails_on_the_second_chunk(self, items):
        calls.append(len(items))
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return write(self, items)

    monkeypatch.setattr(FeedbackWriter, "write", fails_on_the_second_chunk)
    with pytest.raises(RuntimeError):
        imports.import_job_run(job=imports.import_job_claim(job_id=job.pk), chunk_size=5)
    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED and "disk full" in job.message
    assert Feedback.objects.filter(organisation=organisation).count() == 5  # chunk 1 only

    imports.import_job_rerun(actor=product_ops, origin=CLI, job=job, only_failed=False)
    assert import_job_process.call(job.pk)["status"] == ImportStatus.SUCCEEDED
    assert Feedback.objects.filter(organisation=organisation).count() == 12


def test_a_row_the_database_refuses_is_reported_alone(client_for, product_ops, organisation,
                                                      monkeypatch):
    job = validated_job(client_for(product_ops), feedback_file(6))
    imports.import_job_start(actor=product_ops, origin=CLI, job=job)
    write = FeedbackWriter.write

    def refuses_item_3(self, items):
        if any(getattr(item, "text", "") == "Item 3" for item in items):
            raise IntegrityError("CHECK constraint failed")
        return write(self, items)

    monkeypatch.setattr(FeedbackWriter, "write", refuses_item_3)
    job = imports.import_job_run(job=imports.import_job_claim(job_id=job.pk))
    assert (job.status, job.created_count, job.error_count) == (ImportStatus.SUCCEEDED, 5, 1)
    error = ImportRowError.objects.get(job=job)
    assert error.row_number == 5 and "could not be saved" in error.message
    assert not Feedback.objects.filter(text="Item 3").exists()


def test_the_progress_fragment_polls_while_running_and_stops_when_finished(
        client_for, product_ops):
    client = client_for(product_ops)
    job = validated_job(client, feedback_file(4))
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.RUNNING, processed_rows=2,
                                               created_count=2)
    url = reverse("feedback:import_progress", args=[job.pk])
    running = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert 'hx-trigger="every 1s"' in running
    assert 'aria-valuenow="50"' in running and "2 of 4 rows (50%)" in running
    assert "Cancel the import" in running

    cancelling = client.post(reverse("feedback:import_cancel", args=[job.pk]),
                             headers={"HX-Request": "true"})
    assert cancelling.status_code == 200  # the fragment, swapped in place
    assert "Cancelling after the current chunk" in cancelling.content.decode()
    assert 'hx-trigger="every 1s"' in cancelling.content.decode()  # still polling
    job.refresh_from_db()
    assert job.cancel_requested and job.status == ImportStatus.RUNNING

    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.SUCCEEDED, processed_rows=4,
                                               created_count=4)
    finished = client.get(url).content.decode()
    assert "hx-trigger" not in finished and 'aria-valuenow="100"' in finished
    assert "Import finished" in finished


# --- Customers ----------------------------------------------------------------------------

def test_a_crm_export_upserts_customers_by_external_id_and_links_their_contacts(
        client_for, product_ops, organisation, django_capture_on_commit_callbacks):
    customer_upsert(organisation=organisation, raw={"external_id": "crm-1", "name": "Initech",
                                                    "plan": "Starter"})
    content = (
        b"ID client;Nom;Offre;Segment;CA annuel;Renouvellement;E-mail contact;Nom contact;Poste\n"
        b"crm-1;Initech;Enterprise;Enterprise;12 500,50;31/03/2027;ana@initech.test;Ana;CFO\n"
        b"crm-1;Initech;Enterprise;Enterprise;12 500,50;31/03/2027;raj@initech.test;Raj;DAF\n"
        b"crm-9;Umbrella;Growth;Mid-market;abc;;eve@umbrella.test;Eve;\n"
        b"crm-7;Hooli;Growth;Mid-market;8000;;not-an-email;;\n"
        b"crm-8;Vandelay;Starter;SMB;1 200;;;;\n")
    client = client_for(product_ops)
    job = uploaded_job(upload(client, content, name="crm.csv", kind="customers",
                              source="HubSpot"))
    assert offered_mapping(client, job)["arr"] == "CA annuel"
    choose_columns(client, job)
    job = start(client, job, django_capture_on_commit_callbacks)

    assert (job.created_count, job.updated_count, job.error_count) == (1, 2, 2)
    initech = Customer.objects.get(organisation=organisation, external_id="crm-1")
    assert (initech.plan, initech.segment.name, str(initech.arr)) == (
        "Enterprise", "Enterprise", "12500.50")
    assert initech.renewal_date.isoformat() == "2027-03-31"
    assert set(Contact.objects.filter(customer=initech).values_list("email", "role")) == {
        ("ana@initech.test", "CFO"), ("raj@initech.test", "DAF")}
    assert not Customer.objects.filter(external_id__in=["crm-9", "crm-7"]).exists()
    report = error_report(client, job)
    assert [(line[0], line[1]) for line in report[1:]] == [("4", "CA annuel"),
                                                           ("5", "E-mail contact")]


def test_a_customers_workbook_reads_its_dates_and_numbers(
        client_for, product_ops, organisation, django_capture_on_commit_callbacks):
    from datetime import datetime

    from tests.feedback.test_importing_parsers import xlsx

    content = xlsx([["Account name", "CRM ID", "ARR", "Renewal date", "Health score"],
                    ["Initech", "crm-1", 125000, datetime(2027, 3, 31), 72]])
    client = client_for(product_ops)
    job = uploaded_job(upload(client, content, name="crm.xlsx", kind="customers"))
    choose_columns(client, job)
    job = start(client, job, django_capture_on_commit_callbacks)
    initech = Customer.objects.get(organisation=organisation, external_id="crm-1")
    assert (job.created_count, str(initech.arr), initech.health_score) == (1, "125000.00", 72)
    assert initech.renewal_date.isoformat() == "2027-03-31"


# --- Files people really send -------------------------------------------------------------

def test_a_ten_megabyte_transcript_is_imported_whole(
        client_for, product_ops, organisation, django_capture_on_commit_callbacks):
    transcript = "Le client explique que l'export comptable échoue. " * 200_000  # 10 MB
    client = client_for(product_ops)
    job = uploaded_job(upload(client, ('Verbatim,Source\n"' + transcript + '",email\n')
                              .encode(), name="call.csv"))
    choose_columns(client, job)
    job = start(client, job, django_capture_on_commit_callbacks)
    assert job.created_count == 1
    item = Feedback.objects.get(organisation=organisation)
    assert item.text == transcript.strip() and item.source == Source.EMAIL


@pytest.mark.parametrize(("content", "name", "message"), [
    (b"", "empty.csv", "empty"),
    (b"Verbatim;Date\r\n", "header-only.csv", "no data rows"),
    (b"\xd0\xcf\x11\xe0" + b"\x00" * 64, "old.xls", "old Excel file"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "photo.csv", "binary file"),
])
def test_unreadable_files_are_refused_with_a_message_that_says_what_to_do(
        client_for, product_ops, content, name, message):
    response = upload(client_for(product_ops), content, name=name)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not ImportJob.objects.exists()


@override_settings(IMPORT_MAX_BYTES=1000)
def test_a_file_over_the_size_limit_is_refused(client_for, product_ops):
    response = upload(client_for(product_ops), feedback_file(200))
    assert response.status_code == 422
    assert "the limit is 1000\xa0bytes" in response.content.decode()


def test_the_preview_refuses_to_start_when_no_row_is_valid(client_for, product_ops):
    client = client_for(product_ops)
    job = uploaded_job(upload(client, b"Verbatim,Date\nfine,not a date\nok,nope\n"))
    choose_columns(client, job)
    response = client.post(reverse("feedback:import_detail", args=[job.pk]), follow=True)
    assert "No row of this file can be imported" in response.content.decode()
    job.refresh_from_db()
    assert job.status == ImportStatus.VALIDATED


# --- Who may import what ------------------------------------------------------------------

def test_a_contributor_may_import_feedback_but_not_customers(client_for, cs_contributor):
    client = client_for(cs_contributor)
    assert upload(client, feedback_file(2)).status_code == 302
    assert upload(client, b"Name\nInitech\n", kind="customers").status_code == 403
    page = client.get(reverse("feedback:import_new")).content.decode()
    assert 'value="customers"' not in page  # not offered either


def test_a_viewer_sees_past_imports_but_cannot_start_one(client_for, product_ops,
                                                          sales_viewer):
    job = validated_job(client_for(product_ops), feedback_file(2))
    client = client_for(sales_viewer)
    assert client.get(reverse("feedback:import_list")).status_code == 200
    assert client.get(reverse("feedback:import_detail", args=[job.pk])).status_code == 200
    assert client.get(reverse("feedback:import_new")).status_code == 403
    assert client.post(reverse("feedback:import_detail", args=[job.pk])).status_code == 403
    job.refresh_from_db()
    assert job.status == ImportStatus.VALIDATED


def test_another_organisation_cannot_see_our_imports(client_for, product_ops, outsider):
    job = validated_job(client_for(product_ops), feedback_file(2))
    client = client_for(outsider)
    assert client.get(reverse("feedback:import_detail", args=[job.pk])).status_code == 404
    assert client.get(reverse("feedback:import_errors_csv", args=[job.pk])).status_code == 404
    assert "items.csv" not in client.get(reverse("feedback:import_list")).content.decode()


def test_a_customers_import_without_the_change_right_adds_but_does_not_change(
        client_for, organisation, django_capture_on_commit_callbacks):
    """Product Ops in Sales may add customers, not change them: as on the customer's page,
    a row that would change an existing customer is reported, the new ones are imported."""
    from moulin.core import policy
    from moulin.core.policy import Action, Role
    from tests.builders import make_member

    sales_ops = make_member(organisation, role=Role.PRODUCT_OPS, department_key="sales",
                            email="sales-ops@acme.test")
    assert policy.can(sales_ops, "customers", Action.CREATE)
    assert not policy.can(sales_ops, "customers", Action.CHANGE)
    customer_upsert(organisation=organisation, raw={"external_id": "crm-1", "name": "Initech",
                                                    "arr": "5000"})
    content = (b"ID client;Nom;CA annuel\n"
               b"crm-1;Initech;999999\n"      # would change Initech's ARR
               b"crm-2;Umbrella;1200\n")      # new
    client = client_for(sales_ops)
    job = uploaded_job(upload(client, content, name="crm.csv", kind="customers",
                              source="HubSpot"))
    choose_columns(client, job)
    job = start(client, job, django_capture_on_commit_callbacks)
    assert (job.created_count, job.updated_count, job.error_count) == (1, 0, 1)
    assert str(Customer.objects.get(external_id="crm-1").arr) == "5000.00"
    assert Customer.objects.filter(external_id="crm-2").exists()
    assert error_report(client, job)[1][0] == "2"
