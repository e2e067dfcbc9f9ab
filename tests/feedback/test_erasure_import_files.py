"""GDPR erasure reaches the files uploaded to the import wizard: they are kept so a failed
import can run again, which would otherwise write the erased person back."""

from __future__ import annotations

import io

import pytest
from django.core.files.base import ContentFile
from openpyxl import Workbook, load_workbook

from moulin.accounts.audit import CLI
from moulin.customers.models import Contact
from moulin.customers.services import customer_upsert
from moulin.feedback.models import ImportJob, ImportKind
from moulin.feedback.services import contact_erase, feedback_create

pytestmark = pytest.mark.django_db
EMAIL = "zoe.lambert@acme-logistics.fr"


@pytest.fixture(autouse=True)
def uploads_in_a_temporary_folder(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def zoe(organisation, cs_contributor):
    customer, _created = customer_upsert(organisation=organisation, raw={
        "name": "Acme Logistics", "external_id": "SF-1001"})
    feedback_create(organisation=organisation, actor=cs_contributor, raw={
        "text": "Exports fail.", "contact_email": EMAIL, "contact_name": "Zoé Lambert",
        "customer_id": customer.pk})
    return Contact.objects.get(email=EMAIL)


def uploaded(organisation, name: str, content: bytes, file_format: str) -> ImportJob:
    job = ImportJob(organisation=organisation, kind=ImportKind.FEEDBACK, file_name=name,
                    file_format=file_format, status="failed")
    job.file.save(name, ContentFile(content), save=True)
    return job


def read(job: ImportJob) -> bytes:
    job.refresh_from_db()
    with job.file.open("rb") as handle:
        return handle.read()


def workbook(*rows) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_csv_and_xlsx_uploads_forget_the_person(organisation, admin, outsider, zoe):
    excel_csv = ("Ticket;Commentaire;E-mail\n"
                 f"T-1;Zoé Lambert : l’export échoue;{EMAIL}\n"
                 "T-2;Paul : SSO;paul@acme.fr\n").encode("cp1252")  # Excel on Windows
    csv_job = uploaded(organisation, "zendesk.csv", excel_csv, "csv")
    xlsx_job = uploaded(organisation, "crm.xlsx", workbook(
        ("Ticket", "Comment", "Email"), ("T-1", "ZOÉ LAMBERT asked", EMAIL), ("T-2", "ok", 3)),
        "xlsx")
    theirs = uploaded(outsider.organisation, "theirs.csv", f"T;{EMAIL}\n".encode(), "csv")

    contact_erase(actor=admin, origin=CLI, contact=zoe)

    text = read(csv_job).decode("cp1252")  # still the file's own encoding
    assert "Lambert" not in text and EMAIL not in text
    assert "T-1;[erased] : l’export échoue;[erased]" in text and "paul@acme.fr" in text
    sheet = load_workbook(io.BytesIO(read(xlsx_job))).active
    assert [list(row) for row in sheet.iter_rows(values_only=True)] == [
        ["Ticket", "Comment", "Email"], ["T-1", "[erased] asked", "[erased]"], ["T-2", "ok", 3]]
    assert EMAIL in read(theirs).decode()  # another organisation's files are not touched


def test_an_unreadable_upload_is_deleted_rather_than_kept(organisation, admin, zoe):
    broken = uploaded(organisation, "broken.xlsx", b"PK\x03\x04 not really a workbook", "xlsx")
    contact_erase(actor=admin, origin=CLI, contact=zoe)
    broken.refresh_from_db()
    assert not broken.file
