"""GDPR erasure reaches the copies the feedback hub keeps besides the verbatims: the history of
each item (old titles, shown on its page and written back by Undo) and the import error
reports (every original value of a rejected row, downloadable)."""

import csv
import io

import pytest
from django.urls import reverse

from moulin.accounts.audit import CLI
from moulin.customers.models import Contact
from moulin.customers.services import customer_upsert
from moulin.feedback.models import (
    Feedback,
    FeedbackEvent,
    ImportJob,
    ImportKind,
    ImportRowError,
    ImportStatus,
)
from moulin.feedback.services import (
    contact_erase,
    feedback_create,
    feedback_undo,
    feedback_update,
)

EMAIL = "marie.curie@acme-logistics.fr"


@pytest.fixture
def acme(organisation):
    found, _created = customer_upsert(organisation=organisation, raw={
        "name": "Acme Logistics", "external_id": "SF-1001", "domains": ["acme-logistics.fr"]})
    return found


def say(organisation, actor, text, *, title="", email="", name="", customer=None):
    raw = {"text": text, "title": title, "contact_email": email, "contact_name": name}
    if customer:
        raw["customer_id"] = customer.pk
    item, _created = feedback_create(organisation=organisation, actor=actor, raw=raw)
    return item


@pytest.fixture
def call_back(organisation, acme, cs_contributor, product_ops):
    """Marie's request, first titled after her, then renamed by Product Ops."""
    item = say(organisation, cs_contributor, "The bank sync fails every Monday.",
               title="Call Marie Curie back", email=EMAIL, name="Marie Curie", customer=acme)
    feedback_update(actor=product_ops, feedback=item, title="Follow-up", status="triaged")
    return item


def marie() -> Contact:
    return Contact.objects.get(email=EMAIL)


def history(item: Feedback) -> str:
    return " ".join(str(changes) for changes in
                    FeedbackEvent.objects.filter(feedback=item).values_list("changes",
                                                                            flat=True))


def test_undo_after_an_erasure_does_not_bring_the_old_title_back(admin, product_ops,
                                                                 call_back):
    contact_erase(actor=admin, origin=CLI, contact=marie())

    update = FeedbackEvent.objects.get(feedback=call_back, kind="updated")
    feedback_undo(actor=product_ops, event=update)

    call_back.refresh_from_db()
    assert call_back.title == "Call [erased] back"
    assert call_back.status == "new"  # the rest of the change is undone as before


def test_the_history_page_no_longer_shows_the_old_title(client_for, admin, product_ops,
                                                        call_back):
    client = client_for(product_ops)
    assert "Call Marie Curie back" in client.get(f"/feedback/{call_back.pk}/").content.decode()

    client_for(admin).post(f"/feedback/contacts/{marie().pk}/erase/")

    page = client_for(product_ops).get(f"/feedback/{call_back.pk}/").content.decode()
    assert "Curie" not in page
    assert "Call [erased] back" in page
    assert "Follow-up" in page


def test_every_string_of_the_history_is_scrubbed_whatever_its_case_or_depth(
        organisation, admin, cs_contributor, acme, call_back):
    """Another item, not Marie's, whose history quotes her in upper case, deep inside."""
    other = say(organisation, cs_contributor, "Please add SSO.", email="paul@acme-logistics.fr",
                name="Paul Martin", customer=acme)
    event = FeedbackEvent.objects.create(feedback=other, kind="linked", changes={
        "status": ["new", "linked"],
        "feature": "Callback for MARIE CURIE",
        "notes": [{"said": f"write to {EMAIL.upper()}"}, 3, None]})
    untouched = FeedbackEvent.objects.create(feedback=other, kind="updated",
                                             changes={"status": ["new", "triaged"]})

    contact_erase(actor=admin, origin=CLI, contact=marie())

    event.refresh_from_db()
    assert event.changes == {"status": ["new", "linked"], "feature": "Callback for [erased]",
                             "notes": [{"said": "write to [erased]"}, 3, None]}
    untouched.refresh_from_db()
    assert untouched.changes == {"status": ["new", "triaged"]}
    assert "Curie" not in history(call_back) and "curie" not in history(call_back)


def test_a_name_with_accents_is_found_in_the_history(organisation, admin, product_ops,
                                                     cs_contributor, acme):
    """SQLite stores JSON with \\u escapes: the name must still be found there."""
    item = say(organisation, cs_contributor, "Exports are slow.", title="Rappeler Zoé Lambert",
               email="zoe@acme-logistics.fr", name="Zoé Lambert", customer=acme)
    feedback_update(actor=product_ops, feedback=item, title="Exports")

    contact_erase(actor=admin, origin=CLI,
                  contact=Contact.objects.get(email="zoe@acme-logistics.fr"))

    update = FeedbackEvent.objects.get(feedback=item, kind="updated")
    assert update.changes["title"] == ["Rappeler [erased]", "Exports"]


def test_another_organisations_history_is_left_alone(admin, outsider, call_back):
    theirs = say(outsider.organisation, outsider, "Unrelated.", title="Call Marie Curie back")
    feedback_update(actor=outsider, feedback=theirs, title="Done")

    contact_erase(actor=admin, origin=CLI, contact=marie())

    event = FeedbackEvent.objects.get(feedback=theirs, kind="updated")
    assert event.changes["title"] == ["Call Marie Curie back", "Done"]


# --- Import error reports ----------------------------------------------------------------------

COLUMNS = ["Ticket", "Comment", "Email", "Name"]


def rejected_import(organisation, member, *rows: dict) -> ImportJob:
    """A finished import whose rows were rejected, each kept with its original values."""
    job = ImportJob.objects.create(organisation=organisation, created_by=member,
                                   kind=ImportKind.FEEDBACK, file_name="zendesk.csv",
                                   file_format="csv", columns=COLUMNS,
                                   status=ImportStatus.SUCCEEDED, error_count=len(rows))
    for number, values in enumerate(rows, start=2):
        ImportRowError.objects.create(job=job, row_number=number, field="created_at",
                                      message=f"“{values['Email']}”: the date is missing.",
                                      values=values)
    return job


def error_report(client, job: ImportJob) -> str:
    response = client.get(reverse("feedback:import_errors_csv", args=[job.pk]))
    assert response.status_code == 200
    return b"".join(response.streaming_content).decode("utf-8")


def test_the_import_error_report_forgets_the_person(client_for, organisation, admin,
                                                    product_ops, call_back):
    job = rejected_import(
        organisation, product_ops,
        {"Ticket": "T-1", "Comment": "Marie Curie: exports fail", "Email": EMAIL,
         "Name": "Marie Curie"},
        {"Ticket": "T-2", "Comment": "SSO please", "Email": "paul@acme-logistics.fr",
         "Name": "Paul Martin"})
    client = client_for(product_ops)
    assert "Curie" in error_report(client, job)

    contact_erase(actor=admin, origin=CLI, contact=marie())

    report = error_report(client, job)
    assert "Curie" not in report and "curie" not in report
    rows = list(csv.reader(io.StringIO(report.lstrip("\ufeff"))))
    assert rows[1][2:] == ["“[erased]”: the date is missing.", "T-1",
                           "[erased]: exports fail", "[erased]", "[erased]"]
    assert rows[2][3:] == ["T-2", "SSO please", "paul@acme-logistics.fr", "Paul Martin"]


def test_another_organisations_import_errors_are_left_alone(admin, outsider, call_back):
    values = {"Ticket": "T-9", "Comment": "hi", "Email": EMAIL, "Name": "Marie Curie"}
    job = rejected_import(outsider.organisation, outsider, values)

    contact_erase(actor=admin, origin=CLI, contact=marie())

    assert ImportRowError.objects.get(job=job).values == values
