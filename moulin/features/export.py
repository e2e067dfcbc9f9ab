"""The ranked feature list as a file (CSV streamed, XLSX write-only), for the board's export
button and the API: same filters, same order as the board; every export is audited."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

from django.http import FileResponse, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook

from moulin.accounts.audit import Origin, audit_record
from moulin.accounts.models import Member
from moulin.core.csv_export import csv_download
from moulin.core.xlsx_export import literal_cells
from moulin.features.models import Feature
from moulin.features.selectors import FeatureFilters, board_list
from moulin.features.services.ranking import board_ranks

COLUMNS = ["position", "rank", "id", "title", "product_area", "squad", "owner", "status",
           "target_quarter", "score", "score_error", "framework", "drivers", "manual_rank",
           "override_reason", "feedback_count", "customer_count", "arr_total", "currency",
           "unconverted_arr", "renewal_arr_90d", "at_risk_arr", "trend", "effort",
           "delivery_url"]
FORMATS = ("csv", "xlsx")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHUNK = 1000


def _drivers(feature: Feature) -> str:
    rows = (feature.score_breakdown or {}).get("drivers") or []
    return "; ".join(f"{row.get('label')}={row.get('value')}" + (
        f" ×{row.get('weight')}" if row.get("weight") not in (1, 1.0, None) else "")
        for row in rows)


def board_rows(*, member: Member, filters: FeatureFilters | None = None) -> Iterator[list]:
    """The board's rows as exported: ``position`` in the filtered list, ``rank`` on the whole
    board (what the board shows beside each row)."""
    currency = member.organisation.currency
    ranks = board_ranks(member.organisation_id)
    rows = board_list(member=member, filters=filters).iterator(chunk_size=CHUNK)
    for position, feature in enumerate(rows, start=1):
        yield [
            position, ranks.get(feature.pk, position), feature.pk, feature.title,
            feature.product_area.name if feature.product_area else "",
            feature.squad.name if feature.squad else "",
            feature.owner.user.full_name if feature.owner else "", feature.status,
            feature.target_quarter, feature.score, feature.score_error,
            (feature.score_breakdown or {}).get("framework", ""), _drivers(feature),
            feature.manual_rank, feature.override_reason or "", feature.feedback_count,
            feature.customer_count, feature.arr_total, currency,
            "; ".join(f"{amount} {code}" for code, amount in
                      (feature.unconverted_arr or {}).items()),
            feature.renewal_arr_90d, feature.at_risk_arr, feature.trend, feature.effort,
            feature.delivery_url]


def _xlsx(rows: Iterator[list]):
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(str(_("Prioritised features"))[:31])  # Excel's limit
    sheet.append(COLUMNS)
    for values in rows:
        sheet.append(literal_cells(sheet, values))
    output = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes it once sent
    workbook.save(output)
    output.seek(0)
    return output


def board_export(*, member: Member, filters: FeatureFilters | None, fmt: str,
                 origin: Origin) -> HttpResponse:
    """The ranked list as a CSV or XLSX download (audited as ``export.features``)."""
    fmt = fmt if fmt in FORMATS else "csv"
    audit_record(organisation=member.organisation, actor=member, action="export.features",
                 origin=origin, changes={"format": fmt,
                                         "filters": filters.as_query() if filters else {}})
    name = f"moulin-priorities-{timezone.now().strftime('%Y%m%d-%H%M')}.{fmt}"
    rows = board_rows(member=member, filters=filters)
    if fmt == "xlsx":
        return FileResponse(_xlsx(rows), as_attachment=True, filename=name,
                            content_type=XLSX_TYPE)
    return csv_download(rows, filename=name, header=COLUMNS)
