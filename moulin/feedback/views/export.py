"""Export of the inbox's current list (same filters) to CSV (streamed) or XLSX (write-only).

Both read the rows in chunks, so a million items never sit in memory. Cells that a spreadsheet
would run as a formula are neutralised. Every export is audited.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import UTC

from django.http import FileResponse, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from openpyxl import Workbook

from moulin.accounts.audit import Origin, audit_record
from moulin.core import policy
from moulin.core.csv_export import csv_download
from moulin.core.policy import Action
from moulin.core.xlsx_export import literal_cells
from moulin.feedback import selectors
from moulin.feedback.models import Feedback
from moulin.feedback.views.inbox import inbox_filters, inbox_query

MODULE = "feedback"
COLUMNS = ["id", "date", "title", "text", "source", "status", "importance", "language",
           "customer", "customer_external_id", "segment", "plan", "arr", "currency",
           "contact_email", "product_area", "tags", "submitter"]
CHUNK = 2000
XLSX_MAX_ROWS = 1_048_575  # Excel's limit, minus the header row


def _values(item: Feedback) -> list[object]:
    """One exported row; the date in UTC, ARR as a number, tags joined by commas."""
    customer = item.customer
    return [
        item.pk, item.received_at.astimezone(UTC).replace(tzinfo=None), item.title, item.text,
        item.source, item.status, item.importance, item.language,
        customer.name if customer else "", (customer.external_id or "") if customer else "",
        customer.segment.name if customer and customer.segment else "",
        customer.plan if customer else "", customer.arr if customer else None,
        customer.currency if customer else "",
        (item.contact.email or "") if item.contact else "",
        item.product_area.name if item.product_area else "",
        ", ".join(tag.name for tag in item.tags.all()),
        item.submitted_by.user.email if item.submitted_by else "",
    ]


def _csv_rows(rows: Iterator[Feedback]) -> Iterator[list]:
    for item in rows:
        values = _values(item)
        values[1] = values[1].isoformat() + "Z"
        yield values


def _xlsx(rows: Iterator[Feedback]):
    """A workbook written row by row to a temporary file (openpyxl's write-only mode)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Feedback")
    sheet.append(COLUMNS)
    for count, item in enumerate(rows):
        if count >= XLSX_MAX_ROWS:
            break
        sheet.append(literal_cells(sheet, _values(item)))
    output = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes it once sent
    workbook.save(output)
    output.seek(0)
    return output


@policy.requires(MODULE, Action.EXPORT)
@require_GET
def export(request: HttpRequest) -> HttpResponse:
    """The inbox's current list (same filters and sort) as ``?format=csv`` or ``xlsx``."""
    member = request.member
    fmt = request.GET.get("format", "csv")
    if fmt not in ("csv", "xlsx"):
        fmt = "csv"
    filters = inbox_filters(request.GET)
    rows = selectors.feedback_list(member=member, filters=filters).select_related(
        "submitted_by__user").iterator(chunk_size=CHUNK)
    audit_record(organisation=member.organisation, actor=member, action="export.feedback",
                 origin=Origin.from_request(request),
                 changes={"format": fmt, "filters": {
                     key: ",".join(values) for key, values in inbox_query(filters).lists()}})
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    name = f"moulin-feedback-{stamp}.{fmt}"
    if fmt == "xlsx":
        return FileResponse(
            _xlsx(rows), as_attachment=True, filename=name,
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    return csv_download(_csv_rows(rows), filename=name, header=COLUMNS)
