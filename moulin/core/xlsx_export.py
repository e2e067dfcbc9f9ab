"""XLSX exports: cells written so a spreadsheet never runs what users typed."""

from __future__ import annotations

from collections.abc import Iterable

from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

XLSX_MAX_CELL = 32_767  # Excel refuses longer text in a cell


def literal_cells(sheet: WriteOnlyWorksheet, values: Iterable[object]) -> list[object]:
    """A row for a write-only sheet: text stored as literal text (a value starting with "="
    is never a formula), without the control characters XLSX cannot hold, cut to Excel's
    limit; other values unchanged."""
    cells: list[object] = []
    for value in values:
        if isinstance(value, str):
            cell = WriteOnlyCell(sheet, ILLEGAL_CHARACTERS_RE.sub("", value)[:XLSX_MAX_CELL])
            cell.data_type = "s"
            cells.append(cell)
        else:
            cells.append(value)
    return cells
