"""CSV downloads: streamed row by row, readable by spreadsheet software, safe to open."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from decimal import Decimal

from django.http import StreamingHttpResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> str:
    """A cell as text, with spreadsheet formulas neutralised (CSV injection). Numbers are
    written as they are: "-3" is a number to a spreadsheet, not a formula."""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return str(value)
    text = "" if value is None else str(value)
    if text[:1] in FORMULA_STARTS:
        return "'" + text
    return text


class _Echo:
    """A file-like object whose write() returns the line, so csv.writer can feed a stream."""

    def write(self, value: str) -> str:
        return value


def csv_download(rows: Iterable[Iterable[object]], *, filename: str,
                 header: Sequence[str] | None = None) -> StreamingHttpResponse:
    """Stream ``rows`` as a CSV attachment (UTF-8 with a BOM, every cell through csv_safe)."""
    writer = csv.writer(_Echo())

    def lines():
        yield "\ufeff"  # BOM: spreadsheet software then reads accents as UTF-8
        if header is not None:
            yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([csv_safe(value) for value in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
