"""The ranked list exported as CSV and XLSX: board order, filters, safe cells, audited."""

import io

from openpyxl import load_workbook

from moulin.accounts.models import AuditEntry
from tests.builders import make_feature, make_token

API = "/api/v1"


def _features(pm):
    for title, reach in (('=HYPERLINK("x")', 5), ("Exports", 50), ("Dashboards", 20)):
        make_feature(pm, title, effort="1",
                     score_inputs={"reach": reach, "impact": 1, "confidence": 100},
                     status="planned" if reach > 10 else "idea")


def test_csv_export_follows_the_board_and_neutralises_formulas(client, pm):
    _features(pm)
    response = client.get(f"{API}/board/export", {"format": "csv"},
                          headers={"Authorization": f"Bearer {make_token(pm)}"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    lines = text.splitlines()
    assert lines[0].startswith("position,rank,id,title,product_area")
    assert [line.split(",")[3] for line in lines[1:3]] == ["Exports", "Dashboards"]
    assert "'=HYPERLINK" in lines[3]
    assert AuditEntry.objects.filter(action="export.features").count() == 1


def test_xlsx_export_with_filters(client, pm):
    _features(pm)
    response = client.get(f"{API}/board/export", {"format": "xlsx", "status": "planned"},
                          headers={"Authorization": f"Bearer {make_token(pm)}"})
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert [row[3] for row in rows[1:]] == ["Exports", "Dashboards"]
    assert rows[1][9] == 50  # the score, as a number


def test_unknown_format_is_refused(client, pm):
    response = client.get(f"{API}/board/export", {"format": "pdf"},
                          headers={"Authorization": f"Bearer {make_token(pm)}"})
    assert response.status_code == 422
