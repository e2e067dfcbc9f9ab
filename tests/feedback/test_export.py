"""Export: what the inbox shows (same filters, same sort) goes to a spreadsheet, CSV or Excel,
safely (no formula runs when it is opened), in chunks, and every export is in the audit log."""

import csv
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from moulin.accounts.models import AuditEntry
from moulin.feedback.views.export import COLUMNS
from tests.feedback.inbox_data import make_customer, make_feedback

URL = "/feedback/export/"


@pytest.fixture
def items(organisation, cs_contributor):
    initech = make_customer(organisation, "Initech", arr="250000", currency="USD",
                            plan="Enterprise", segment="Enterprise", external_id="SF-1")
    return {
        "formula": make_feedback(
            organisation, "=HYPERLINK(\"http://evil.test\",\"click\")", title="+cmd|' /C calc'!A0",
            customer=initech, source="zendesk", importance="critical",
            contact_email="marie@initech.com", tags=["exports", "finance"],
            product_area="Reporting", actor=cs_contributor, days_ago=1),
        "french": make_feedback(organisation, "L'équipe veut des relevés consolidés.\nMerci.",
                                source="intercom", language="fr", days_ago=2),
        "done": make_feedback(organisation, "Already triaged.", days_ago=3, status="triaged"),
    }


def csv_rows(response) -> list[list[str]]:
    raw = b"".join(response.streaming_content).decode("utf-8")
    assert raw.startswith("\ufeff")  # BOM: Excel reads the accents right
    return list(csv.reader(io.StringIO(raw[1:])))


def test_csv_export_has_every_column_and_the_inbox_default_filter(client_for, product_ops,
                                                                   items):
    response = client_for(product_ops).get(URL, {"format": "csv"})

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'attachment; filename="moulin-feedback-' in response["Content-Disposition"]
    rows = csv_rows(response)
    assert rows[0] == COLUMNS == [
        "id", "date", "title", "text", "source", "status", "importance", "language",
        "customer", "customer_external_id", "segment", "plan", "arr", "currency",
        "contact_email", "product_area", "tags", "submitter"]
    assert [row[0] for row in rows[1:]] == [str(items["formula"].pk), str(items["french"].pk)]
    first = dict(zip(rows[0], rows[1], strict=True))
    assert first["customer"] == "Initech" and first["customer_external_id"] == "SF-1"
    assert (first["segment"], first["plan"], first["arr"], first["currency"]) == (
        "Enterprise", "Enterprise", "250000.00", "USD")
    assert first["contact_email"] == "marie@initech.com"
    assert first["tags"] == "exports, finance"
    assert first["submitter"] == "cs@acme.test"
    assert first["date"].endswith("Z")
    french = dict(zip(rows[0], rows[2], strict=True))
    assert french["text"] == "L'équipe veut des relevés consolidés.\nMerci."


def test_spreadsheet_formulas_in_a_verbatim_never_run(client_for, product_ops, items):
    rows = csv_rows(client_for(product_ops).get(URL, {"format": "csv", "importance": "critical"}))

    first = dict(zip(rows[0], rows[1], strict=True))
    assert first["text"].startswith("'=HYPERLINK")
    assert first["title"].startswith("'+cmd")


def test_the_export_follows_the_filters_and_the_sort(client_for, product_ops, items):
    client = client_for(product_ops)

    everything = csv_rows(client.get(URL, {"status": "all", "sort": "oldest"}))
    searched = csv_rows(client.get(URL, {"q": "equipe", "status": "all"}))

    assert [row[0] for row in everything[1:]] == [str(items[k].pk) for k in ("done", "french",
                                                                            "formula")]
    assert [row[0] for row in searched[1:]] == [str(items["french"].pk)]


def test_xlsx_export_is_a_real_workbook_with_text_kept_as_text(client_for, product_ops, items):
    response = client_for(product_ops).get(URL, {"format": "xlsx", "status": "all"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = workbook.active
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == COLUMNS
    assert len(rows) == 4
    formula_row = next(row for row in sheet.iter_rows(min_row=2)
                       if row[0].value == items["formula"].pk)
    text_cell = formula_row[COLUMNS.index("text")]
    assert text_cell.value == "=HYPERLINK(\"http://evil.test\",\"click\")"
    assert text_cell.data_type == "s"  # a string, not a formula
    assert Decimal(str(formula_row[COLUMNS.index("arr")].value)) == Decimal("250000")


def test_every_export_is_audited_with_its_format_and_filters(client_for, product_ops, items):
    client_for(product_ops).get(URL, {"format": "xlsx", "source": "zendesk", "q": "hyperlink"})

    entry = AuditEntry.objects.get(action="export.feedback")
    assert entry.actor == product_ops
    assert entry.changes == {"format": "xlsx", "filters": {
        "q": "hyperlink", "status": "new", "source": "zendesk"}}


def test_large_exports_are_read_in_chunks_with_a_fixed_number_of_queries(
        client_for, product_ops, organisation, django_assert_max_num_queries):
    customer = make_customer(organisation, "Globex", arr="1000", segment="SMB")
    for index in range(40):
        make_feedback(organisation, f"Item {index}", customer=customer, tags=["a", "b"],
                      contact_email=f"p{index}@globex.com", product_area="Area")
    client = client_for(product_ops)
    client.get("/feedback/")  # sign-in and session set up outside the count

    with django_assert_max_num_queries(12):
        rows = csv_rows(client.get(URL))

    assert len(rows) == 41


def test_viewers_may_export_what_they_see_and_outsiders_get_only_their_own(
        client_for, sales_viewer, outsider, items):
    viewer_rows = csv_rows(client_for(sales_viewer).get(URL, {"status": "all"}))
    outsider_rows = csv_rows(client_for(outsider).get(URL, {"status": "all"}))

    assert len(viewer_rows) == 4
    assert outsider_rows == [COLUMNS]


def test_an_unknown_format_falls_back_to_csv(client_for, product_ops, items):
    response = client_for(product_ops).get(URL, {"format": "pdf"})

    assert response["Content-Type"] == "text/csv; charset=utf-8"
