"""Export of the inbox's current list (same filters) to CSV (streamed) or XLSX (write-only).

Both read the rows in chunks, so a million items never sit in memory. Cells that a spreadsheet
would run as a formula are neutralised. Every export is audited. The customer's business data
(segment, plan, ARR, currency) is exported only to members who may see it: for the others those
columns are left out, not left empty.
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
from moulin.accounts.models import Member
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
# The columns that hold a customer's business data (policy.can_see_customer_data).
CUSTOMER_DATA_COLUMNS = ("segment", "plan", "arr", "currency")
CHUNK = 2000
XLSX_MAX_ROWS = 1_048_575  # Excel's limit, minus the header row


def columns_for(member: Member) -> list[str]:
    """The columns ``member`` gets: all of them, or all but the customer's business data."""
    if policy.can_see_customer_data(member):
        return list(COLUMNS)
    return [name for name in COLUMNS if name not in CUSTOMER_DATA_COLUMNS]


def _values(item: Feedback, columns: list[str]) -> list[object]:
    """One exported row (``columns`` of it); the date in UTC, ARR as a number, tags joined by
    commas."""
    customer = item.customer
    values = {
        "id": item.pk, "date": item.received_at.astimezone(UTC).replace(tzinfo=None),
        "title": item.title, "text": item.text, "source": item.source, "status": item.status,
        "importance": item.importance, "language": item.language,
        "customer": customer.name if customer else "",
        "customer_external_id": (customer.external_id or "") if customer else "",
        "segment": customer.segment.name if customer and customer.segment else "",
        "plan": customer.plan if customer else "", "arr": customer.arr if customer else None,
        "currency": customer.currency if customer else "",
        "contact_email": (item.contact.email or "") if item.contact else "",
        "product_area": item.product_area.name if item.product_area else "",
        "tags": ", ".join(tag.name for tag in item.tags.all()),
        "submitter": item.submitted_by.user.email if item.submitted_by else "",
    }
    return [values[name] for name in columns]


def _csv_rows(rows: Iterator[Feedback], columns: list[str]) -> Iterator[list]:
    date = columns.index("date")
    for item in rows:
        values = _values(item, columns)
        values[date] = values[date].isoformat() + "Z"
        yield values


def _xlsx(rows: Iterator[Feedback], columns: list[str]):
    """A workbook written row by row to a temporary file (openpyxl's write-only mode)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Feedback")
    sheet.append(columns)
    for count, item in enumerate(rows):
        if count >= XLSX_MAX_ROWS:
            break
        sheet.append(literal_cells(sheet, _values(item, columns)))
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
    filters = inbox_filters(request.GET, member)
    columns = columns_for(member)
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
            _xlsx(rows, columns), as_attachment=True, filename=name,
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    return csv_download(_csv_rows(rows, columns), filename=name, header=columns)
