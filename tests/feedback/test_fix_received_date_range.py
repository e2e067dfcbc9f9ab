"""A received date before 1900 or after tomorrow is refused on its field, never stored: one such
item used to break the inbox for everyone, and the import preview."""

from datetime import timedelta

import pytest
from django.utils import timezone

from moulin.customers.services import RowError
from moulin.feedback.models import Feedback
from moulin.feedback.services import feedback_input

URL = "/api/v1/feedback"


@pytest.mark.parametrize("value", ["9999-12-31", "9999-12-31T23:59:59Z", "31/12/2999",
                                   "1899-12-31", "0001-01-01T00:00:00Z"])
def test_out_of_range_dates_are_a_field_error(value):
    with pytest.raises(RowError) as error:
        feedback_input({"text": "x", "created_at": value})
    assert error.value.field == "created_at"


def test_today_and_a_century_ago_are_fine():
    assert feedback_input({"text": "x", "created_at": "1900-01-01"}).received_at.year == 1900
    tomorrow = timezone.now() + timedelta(hours=20)
    assert feedback_input({"text": "x", "created_at": tomorrow.isoformat()}).received_at


def test_the_api_refuses_a_date_in_year_9999_and_the_inbox_still_opens(api_client, admin,
                                                                       client_for):
    response = api_client(admin).post(URL, {"text": "From the future",
                                            "created_at": "9999-12-31T23:59:59Z"})

    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["created_at"]
    assert not Feedback.objects.exists()
    assert client_for(admin).get("/feedback/").status_code == 200


def test_the_import_preview_reports_the_row(client_for, product_ops, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    settings.MEDIA_ROOT = tmp_path
    client = client_for(product_ops)
    upload = client.post(reverse("feedback:import_new"), {
        "kind": "feedback", "source_name": "Sheet",
        "file": SimpleUploadedFile("f.csv", b"Verbatim,Date\nFine,2026-01-02\nLater,9999-12-31\n")})
    job_url = upload.url
    mapping = client.get(reverse("feedback:import_mapping", args=[job_url.rstrip("/").split(
        "/")[-2]])).context["form"]
    pk = job_url.rstrip("/").split("/")[-2]
    client.post(reverse("feedback:import_mapping", args=[pk]),
                {name: mapping[name].value() or "" for name in mapping.fields})

    preview = client.get(reverse("feedback:import_detail", args=[pk]))

    assert preview.status_code == 200
    rows = preview.context["preview"]
    assert rows[1].error_field == "created_at"
