"""Reading the spreadsheets people upload: CSV in any common encoding and delimiter, or XLSX.

Pure file handling, no database: ``inspect_file`` finds the format, encoding, delimiter and
header of a file; ``read_rows`` then streams its data rows as ``(row number, {column: value})``
with the row number a spreadsheet shows (the header is usually row 1; empty rows are skipped but
still counted). Which column feeds which field is ``import_columns``' business.

Every way a file can be unreadable ends in ``ImportFileError`` with a message saying what to do;
no other exception escapes these functions for a bad file.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import BinaryIO

from django.utils.translation import gettext as _

# A cell can never be larger than the file (itself capped by IMPORT_MAX_BYTES); the csv
# module's default limit (128 KB) would refuse the long transcripts feedback may carry.
csv.field_size_limit(2**31 - 1)

SAMPLE_CHARS = 64 * 1024  # enough lines to tell the delimiter
READ_CHUNK = 1024 * 1024
DELIMITERS = (",", ";", "\t", "|")
MAX_COLUMNS = 500
MAX_COLUMN_NAME = 200
# An XLSX is a zip: refuse one whose content would unpack to more than this many times the
# upload limit (a "zip bomb" would otherwise fill memory while the sheet is read).
XLSX_MAX_EXPANSION = 30

Row = tuple[int, dict[str, object]]


class ImportFileError(ValueError):
    """The file cannot be read as a table; the message tells the user what to change."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = str(message)


@dataclass(frozen=True)
class FileShape:
    """What ``inspect_file`` learnt about a file, enough to read it again later."""

    file_format: str  # "csv" or "xlsx"
    columns: tuple[str, ...]
    encoding: str = ""  # CSV only: a Python codec name
    delimiter: str = ""  # CSV only
    header_row: int = 1


# --- Format and encoding -------------------------------------------------------------------

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the old binary .xls format
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls")


def _is_excel_name(file_name: str) -> bool:
    return file_name.lower().endswith(EXCEL_SUFFIXES)


def detect_format(stream: BinaryIO, file_name: str = "") -> str:
    """"xlsx" or "csv", from the content first (a renamed file still reads), then the name."""
    stream.seek(0)
    head = stream.read(8)
    if not head:
        raise ImportFileError(_("The file is empty."))
    if head.startswith(ZIP_MAGIC):
        return "xlsx"
    if head.startswith(OLE_MAGIC):
        raise ImportFileError(_("This is an old Excel file (.xls). Open it in Excel or "
                                "LibreOffice and save it as .xlsx or CSV, then upload it "
                                "again."))
    if _is_excel_name(file_name):
        raise ImportFileError(_("This file is named like an Excel file but is not one. Save "
                                "it again as .xlsx or CSV."))
    return "csv"


def _verify_decoding(stream: BinaryIO, encoding: str) -> bool:
    """True when the whole file decodes with ``encoding``; refuses binary content."""
    stream.seek(0)
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        while chunk := stream.read(READ_CHUNK):
            if "\x00" in decoder.decode(chunk):
                raise ImportFileError(_("This looks like a binary file, not a CSV or XLSX "
                                        "spreadsheet. Export the data as CSV or XLSX."))
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _looks_utf16(sample: bytes) -> str | None:
    """UTF-16 without a BOM: ASCII-heavy text has a zero in every other byte."""
    pairs = len(sample) // 2
    if pairs < 4:
        return None
    odd_zeros = sum(1 for i in range(1, pairs * 2, 2) if sample[i] == 0)
    even_zeros = sum(1 for i in range(0, pairs * 2, 2) if sample[i] == 0)
    if odd_zeros > 0.6 * pairs and even_zeros < 0.1 * pairs:
        return "utf-16-le"
    if even_zeros > 0.6 * pairs and odd_zeros < 0.1 * pairs:
        return "utf-16-be"
    return None


def detect_encoding(stream: BinaryIO) -> str:
    """The codec of a text file: its BOM (UTF-8, UTF-16, UTF-32) when it has one, else UTF-8
    if the whole file is valid UTF-8, else Windows-1252 (Excel on Windows), else Latin-1.

    A Windows-1252 file whose accented letters happen to form valid UTF-8 is read as UTF-8:
    no detector can tell them apart, and real French text almost never does that.
    """
    stream.seek(0)
    head = stream.read(4)
    with_bom = None
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        with_bom = "utf-32"
    elif head.startswith(codecs.BOM_UTF8):
        with_bom = "utf-8-sig"
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        with_bom = "utf-16"
    if with_bom:
        if not _verify_decoding(stream, with_bom):
            raise ImportFileError(_("The file starts like %s text but is damaged further on. "
                                    "Export it again, as UTF-8 if you can.")
                                  % with_bom.upper().removesuffix("-SIG"))
        return with_bom
    stream.seek(0)
    guessed = _looks_utf16(stream.read(4096))
    candidates = (guessed,) if guessed else ()
    for encoding in (*candidates, "utf-8", "cp1252", "latin-1"):
        if _verify_decoding(stream, encoding):
            return encoding
    raise ImportFileError(_("The file's text encoding is not recognised. Export it as "
                            "UTF-8 CSV."))  # pragma: no cover - latin-1 decodes any bytes


# --- CSV -----------------------------------------------------------------------------------

@contextmanager
def _text(stream: BinaryIO, encoding: str) -> Iterator[io.TextIOWrapper]:
    """The stream decoded, with newlines left to the csv module; the stream stays open."""
    stream.seek(0)
    wrapper = io.TextIOWrapper(stream, encoding=encoding, errors="strict", newline="")
    try:
        yield wrapper
    finally:
        if not stream.closed:  # closing the wrapper would close the caller's stream
            wrapper.detach()


def _is_blank(cells: list | tuple) -> bool:
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in cells)


def detect_delimiter(sample: str, truncated: bool) -> str:
    """The delimiter that splits the sample into the most regular table.

    The header must split into at least two columns and most rows into as many; among those,
    the most regular wins, then the widest. A one-column file takes the delimiter that splits
    its rows least (a verbatim full of commas stays whole).
    """
    best: tuple | None = None
    for delimiter in DELIMITERS:
        try:
            rows = list(csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter))
        except csv.Error:
            continue
        if truncated and len(rows) > 1:
            rows = rows[:-1]  # the sample may end in the middle of a row
        rows = [row for row in rows if not _is_blank(row)]
        if not rows:
            continue
        width = len(rows[0])
        body = rows[1:] or rows
        regular = sum(len(row) == width for row in body) / len(body)
        unsplit = sum(len(row) == 1 for row in body) / len(body)
        score = (width > 1 and regular >= 0.5, regular if width > 1 else unsplit,
                 width if width > 1 else 0, -DELIMITERS.index(delimiter))
        if best is None or score > best[0]:
            best = (score, delimiter)
    return best[1] if best else ","


def _csv_rows(stream: BinaryIO, encoding: str, delimiter: str) -> Iterator[list[str]]:
    with _text(stream, encoding) as text:
        reader = csv.reader(text, delimiter=delimiter)
        number = 0
        try:
            for number, cells in enumerate(reader, start=1):  # noqa: B007 - kept for the error
                yield cells
        except csv.Error as exc:
            raise ImportFileError(_("Row %(row)d cannot be read as CSV (%(reason)s). Check the "
                                    "quotes around that row.")
                                  % {"row": number + 1, "reason": exc}) from exc
        except UnicodeDecodeError as exc:
            raise ImportFileError(_("The file changed encoding near row %d. Export it again "
                                    "as UTF-8.") % (number + 1)) from exc


def _csv_shape(stream: BinaryIO) -> FileShape:
    encoding = detect_encoding(stream)
    with _text(stream, encoding) as text:
        sample = text.read(SAMPLE_CHARS)
        truncated = bool(text.read(1))
    delimiter = detect_delimiter(sample, truncated)
    with closing(_csv_rows(stream, encoding, delimiter)) as rows:
        header_row, columns = _find_header(rows)
    return FileShape("csv", columns, encoding=encoding, delimiter=delimiter,
                     header_row=header_row)


# --- XLSX ----------------------------------------------------------------------------------

def _plain_cell(value: object) -> object:
    """An XLSX cell as a value the parsers and JSON understand (dates stay datetimes)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return int(value)
    if isinstance(value, datetime | int | float | str | bool):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time(0, 0))
    if isinstance(value, time | timedelta):
        return str(value)
    return str(value)


@contextmanager
def _worksheet(stream: BinaryIO, max_bytes: int | None):
    # openpyxl is imported here: only XLSX uploads pay for it.
    from openpyxl import load_workbook

    stream.seek(0)
    # zipfile reports a damaged archive in many ways (BadZipFile, NotImplementedError for an
    # unknown version or method, struct and zlib errors…): all of them are the file's fault.
    try:
        with zipfile.ZipFile(stream) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except Exception as exc:
        raise ImportFileError(_("This XLSX file is damaged or is not a spreadsheet. Open it "
                                "in Excel and save it again.")) from exc
    if max_bytes and unpacked > max_bytes * XLSX_MAX_EXPANSION:
        raise ImportFileError(_("This XLSX file unpacks to too much data. Split it into "
                                "smaller files."))
    stream.seek(0)
    # openpyxl raises whatever a broken zip or XML produces (KeyError, TypeError, lxml and
    # expat errors...): any failure to open the workbook is the file's, and said so.
    try:
        workbook = load_workbook(stream, read_only=True, data_only=True, keep_links=False)
    except Exception as exc:
        raise ImportFileError(_("This XLSX file cannot be read (%s). Open it in Excel and "
                                "save it again.") % type(exc).__name__) from exc
    try:
        if not workbook.worksheets:
            raise ImportFileError(_("This XLSX file has no worksheet."))
        sheet = workbook.worksheets[0]
        # Some tools write a wrong sheet size; without it every row is read.
        sheet.reset_dimensions()
        yield sheet
    finally:
        workbook.close()


def _xlsx_rows(stream: BinaryIO, max_bytes: int | None = None) -> Iterator[list[object]]:
    with _worksheet(stream, max_bytes) as sheet:
        number = 0
        try:
            for number, values in enumerate(  # noqa: B007 - kept for the error message
                    sheet.iter_rows(min_row=1, values_only=True), start=1):
                yield [_plain_cell(value) for value in values]
        except ImportFileError:
            raise
        except Exception as exc:
            raise ImportFileError(_("Row %(row)d of the XLSX file cannot be read (%(kind)s). "
                                    "Open it in Excel and save it again.")
                                  % {"row": number + 1, "kind": type(exc).__name__}) from exc


# --- Both formats --------------------------------------------------------------------------

def _column_names(cells: list) -> tuple[str, ...]:
    names: list[str] = []
    seen: dict[str, int] = {}
    for index, cell in enumerate(cells, start=1):
        value = cell.isoformat() if isinstance(cell, datetime) else cell
        name = re.sub(r"\s+", " ", str(value).replace("\ufeff", "")).strip()[:MAX_COLUMN_NAME]
        if not name:
            name = _("Column %s") % column_letter(index)
        if name.lower() in seen:
            seen[name.lower()] += 1
            name = f"{name} ({seen[name.lower()]})"
        seen.setdefault(name.lower(), 1)
        names.append(name)
    # Trailing unnamed columns are usually empty cells left over by the spreadsheet.
    while names and len(names) > 1 and not str(cells[len(names) - 1] or "").strip():
        names.pop()
    return tuple(names)


def column_letter(index: int) -> str:
    """1 → A, 27 → AA: how a spreadsheet names a column."""
    letters = ""
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def _find_header(rows: Iterator[list]) -> tuple[int, tuple[str, ...]]:
    header_row, columns = 0, ()
    for number, cells in enumerate(rows, start=1):
        if _is_blank(cells):
            continue
        if not columns:
            header_row, columns = number, _column_names(cells)
            if len(columns) > MAX_COLUMNS:
                raise ImportFileError(_("The file has %(count)d columns; at most %(max)d are "
                                        "read.") % {"count": len(columns), "max": MAX_COLUMNS})
            continue
        return header_row, columns
    if not columns:
        raise ImportFileError(_("The file is empty."))
    raise ImportFileError(_("The file has a header row but no data rows under it."))


def inspect_file(stream: BinaryIO, file_name: str = "", *,
                 max_bytes: int | None = None) -> FileShape:
    """Format, encoding, delimiter and columns of an uploaded file; raises ImportFileError."""
    if detect_format(stream, file_name) == "xlsx":
        with closing(_xlsx_rows(stream, max_bytes)) as rows:
            header_row, columns = _find_header(rows)
        return FileShape("xlsx", columns, header_row=header_row)
    return _csv_shape(stream)


def read_rows(stream: BinaryIO, shape: FileShape, *,
              max_bytes: int | None = None) -> Iterator[Row]:
    """The data rows under the header, as ``(row number, {column: value})``; blank rows are
    skipped. CSV values are strings; XLSX values may be numbers, booleans or datetimes."""
    if shape.file_format == "xlsx":
        rows = _xlsx_rows(stream, max_bytes)
    else:
        rows = _csv_rows(stream, shape.encoding, shape.delimiter)
    columns = shape.columns
    width = len(columns)
    header_seen = False
    with closing(rows):
        for number, cells in enumerate(rows, start=1):
            if _is_blank(cells):
                continue
            if not header_seen:
                header_seen = True  # the first non-blank row is the header
                continue
            if len(cells) < width:
                cells = [*cells, *([""] * (width - len(cells)))]
            yield number, dict(zip(columns, cells, strict=False))


def plain(value: object) -> object:
    """A cell value JSON can store (row error reports keep the original values)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
