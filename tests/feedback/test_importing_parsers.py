"""Reading uploaded spreadsheets: whatever the bytes, the reader answers with a table or a clear
ImportFileError; files written by Excel, LibreOffice or a support tool read back exactly."""

from __future__ import annotations

import codecs
import csv
import io
from datetime import date, datetime
from decimal import Decimal

import pytest
from django.utils import translation
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from moulin.core import parsing
from moulin.feedback.import_columns import auto_mapping
from moulin.feedback.importing import (
    OLE_MAGIC,
    ZIP_MAGIC,
    ImportFileError,
    inspect_file,
    read_rows,
)


@pytest.fixture(autouse=True)
def _english():
    """The messages below are checked in English (French is the default language)."""
    with translation.override("en"):
        yield


def read(data: bytes, name: str = "export.csv"):
    """Inspect then read the whole file: (shape, [(row number, values), ...])."""
    stream = io.BytesIO(data)
    shape = inspect_file(stream, name, max_bytes=50 * 1024 * 1024)
    return shape, list(read_rows(stream, shape, max_bytes=50 * 1024 * 1024))


def xlsx(rows: list[list]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


# --- Arbitrary bytes -----------------------------------------------------------------------

PREFIXES = [b"", codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE,
            codecs.BOM_UTF32_LE, ZIP_MAGIC, OLE_MAGIC, b"Verbatim;Date\r\n", b"a,b\n\"x"]
NAMES = ["export.csv", "export.xlsx", "export.txt", "export.xls", "", "export"]


@settings(max_examples=300, deadline=None)
@given(prefix=st.sampled_from(PREFIXES), body=st.binary(max_size=3000),
       name=st.sampled_from(NAMES))
def test_arbitrary_bytes_give_a_table_or_a_clear_error(prefix, body, name):
    try:
        shape, rows = read(prefix + body, name)
    except ImportFileError as error:
        assert error.message.strip(), "an import error must say what to do"
        return
    assert shape.columns, "a readable file has at least one column"
    assert all(number > shape.header_row for number, _values in rows)
    assert all(set(values) == set(shape.columns) for _number, values in rows)


VALID_XLSX = xlsx([["Verbatim", "Date"], ["Exports are slow", datetime(2026, 11, 25, 9, 30)],
                   ["Le rapprochement bancaire plante", datetime(2026, 11, 26)]])


# "Version needed to extract" of the first central directory entry: 6.4 is not supported by
# zipfile, which then raises NotImplementedError (found by this test).
CENTRAL_DIRECTORY = VALID_XLSX.index(b"PK\x01\x02")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(cut=len(VALID_XLSX), flips=[(CENTRAL_DIRECTORY + 6, 64)])
@given(cut=st.integers(min_value=0, max_value=len(VALID_XLSX)),
       flips=st.lists(st.tuples(st.integers(0, len(VALID_XLSX) - 1), st.integers(0, 255)),
                      max_size=8))
def test_a_damaged_xlsx_file_gives_a_table_or_a_clear_error(cut, flips):
    data = bytearray(VALID_XLSX[:cut] if cut < 200 else VALID_XLSX)
    for position, value in flips:
        if position < len(data):
            data[position] = value
    try:
        read(bytes(data), "export.xlsx")
    except ImportFileError as error:
        assert error.message


# --- Round trip of generated CSV files -----------------------------------------------------

HEADER = ["Verbatim", "Créé le", "Montant", "Client"]
# Windows-1252 text whose accented letters cannot accidentally form valid UTF-8 (no byte of
# 0x80-0xBF, the UTF-8 continuation range): real French text, as Excel saves it.
CP1252_TEXT = st.text(alphabet=st.sampled_from(
    list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,;|\t\"'\n\r.!?-()")
    + list("éèêàâçôùûîïëÉÈÀÇ")), max_size=60)
ANY_TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
                   max_size=60)
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "cp1252"]


@st.composite
def french_rows(draw, encoding: str, line_end: str):
    text = CP1252_TEXT if encoding == "cp1252" else ANY_TEXT
    if line_end == "\n":
        # csv.writer leaves a lone "\r" unquoted when lines end with "\n": no reader can tell
        # it from a line end (Excel and support tools quote it; this test's writer does not).
        text = text.map(lambda value: value.replace("\r", ""))
    rows = []
    for _index in range(draw(st.integers(min_value=1, max_value=12))):
        day = draw(st.dates(min_value=date(1990, 1, 1), max_value=date(2099, 12, 31)))
        cents = draw(st.integers(min_value=0, max_value=10**11))
        amount = f"{cents // 100:,}".replace(",", "\u202f" if encoding != "cp1252" else " ")
        rows.append([draw(text), day.strftime("%d/%m/%Y"), f"{amount},{cents % 100:02d}",
                     draw(text)])
    return rows


@settings(max_examples=200, deadline=None)
@given(data=st.data(), encoding=st.sampled_from(ENCODINGS),
       delimiter=st.sampled_from([",", ";", "\t", "|"]),
       line_end=st.sampled_from(["\r\n", "\n"]))
def test_generated_csv_files_read_back_exactly(data, encoding, delimiter, line_end):
    rows = data.draw(french_rows(encoding, line_end))
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter, lineterminator=line_end)
    writer.writerow(HEADER)
    writer.writerows(rows)
    shape, read_back = read(out.getvalue().encode(encoding))

    assert shape.columns == tuple(HEADER)
    assert shape.delimiter == delimiter
    assert [list(values.values()) for _number, values in read_back] == rows
    for (_number, values), row in zip(read_back, rows, strict=True):
        day = datetime.strptime(row[1], "%d/%m/%Y").date()
        assert parsing.parse_datetime(values["Créé le"]).date() == day
        amount = parsing.parse_decimal(values["Montant"])
        assert amount == Decimal(row[2].replace("\u202f", "").replace(" ", "")
                                 .replace(",", "."))


def test_a_semicolon_csv_saved_by_french_excel_reads_with_its_accents_dates_and_amounts():
    data = ("Verbatim;Client;Créé le;Priorité;CA annuel\r\n"
            "\"Le rapprochement bancaire plante; impossible d'exporter\";Société Générale;"
            "25/11/2026;Critique;12 500,50 €\r\n"
            ";;;;\r\n"
            "Très bien, merci;Crédit Agricole;01/12/2026;faible;1 200\r\n").encode("cp1252")
    shape, rows = read(data)

    assert (shape.encoding, shape.delimiter) == ("cp1252", ";")
    assert [number for number, _values in rows] == [2, 4]  # the empty row 3 is skipped
    first = rows[0][1]
    assert first["Verbatim"] == "Le rapprochement bancaire plante; impossible d'exporter"
    assert first["Client"] == "Société Générale"
    assert parsing.parse_datetime(first["Créé le"]).date() == date(2026, 11, 25)
    assert parsing.parse_decimal(first["CA annuel"]) == Decimal("12500.50")
    assert auto_mapping("feedback", shape.columns) == {
        "text": "Verbatim", "customer_name": "Client", "created_at": "Créé le",
        "importance": "Priorité"}


def test_a_utf16_tab_separated_export_without_bom_is_recognised():
    data = "Feedback\tE-mail contact\r\nExports time out\tana@initech.test\r\n"
    shape, rows = read(data.encode("utf-16-le"))
    assert (shape.encoding, shape.delimiter) == ("utf-16-le", "\t")
    assert rows == [(2, {"Feedback": "Exports time out", "E-mail contact": "ana@initech.test"})]


def test_a_single_column_of_verbatims_full_of_commas_stays_whole():
    _shape, rows = read(b"Verbatim\nSlow, very slow, unusable\nFast; nice | clean\n")
    assert [values["Verbatim"] for _n, values in rows] == [
        "Slow, very slow, unusable", "Fast; nice | clean"]


def test_rows_keep_the_numbers_a_spreadsheet_shows_even_after_blank_lines():
    data = b"\n\nText,Tags\n\nfirst,a\n,\nsecond,b\n"
    shape, rows = read(data)
    assert shape.header_row == 3
    assert [(number, values["Text"]) for number, values in rows] == [(5, "first"),
                                                                     (7, "second")]


def test_blank_and_repeated_column_names_get_distinct_names():
    shape, rows = read(b"Email,,Email,Note\nx@y.fr,1,z@y.fr,ok\n")
    assert shape.columns == ("Email", "Column B", "Email (2)", "Note")
    assert rows[0][1]["Email (2)"] == "z@y.fr"


def test_a_cell_of_ten_megabytes_is_read_whole():
    long_text = "Transcription de l'appel. " * 400_000  # 10.4 MB
    data = ("Verbatim,Client\n\"" + long_text + "\",Initech\n").encode()
    _shape, rows = read(data)
    assert rows[0][1]["Verbatim"] == long_text


def test_an_xlsx_reads_its_first_sheet_with_real_dates_and_numbers():
    data = xlsx([["Nom", "ARR", "Renouvellement", "Santé"],
                 ["Initech", 125000, datetime(2027, 3, 31), 72.0],
                 [None, None, None, None],
                 ["Globex", 9800.5, None, None]])
    shape, rows = read(data, "crm.xlsx")
    assert shape.file_format == "xlsx" and shape.columns == ("Nom", "ARR", "Renouvellement",
                                                             "Santé")
    assert rows[0] == (2, {"Nom": "Initech", "ARR": 125000,
                           "Renouvellement": datetime(2027, 3, 31), "Santé": 72})
    assert rows[1][0] == 4
    assert auto_mapping("customers", shape.columns) == {
        "name": "Nom", "arr": "ARR", "renewal_date": "Renouvellement", "health_score": "Santé"}


def test_an_xlsx_renamed_to_csv_is_still_read_as_a_workbook():
    shape, rows = read(xlsx([["Text"], ["hello"]]), "export.csv")
    assert shape.file_format == "xlsx" and rows == [(2, {"Text": "hello"})]


@pytest.mark.parametrize(("data", "name", "expected"), [
    (b"", "export.csv", "empty"),
    (b"\r\n\r\n  \r\n", "export.csv", "empty"),
    (b"Verbatim;Date\r\n", "export.csv", "no data rows"),
    (OLE_MAGIC + b"\x00" * 100, "old.xls", ".xls"),
    (b"Verbatim,Date\nhello,2026\n", "export.xlsx", "not one"),
    (ZIP_MAGIC + b"\x00" * 100, "export.xlsx", "damaged"),
    (b"GIF89a\x00\x00\x01\x00\x00binary", "image.csv", "binary"),
])
def test_unreadable_files_say_what_to_do(data, name, expected):
    with pytest.raises(ImportFileError, match=expected):
        read(data, name)


@pytest.mark.parametrize(("kind", "columns", "expected"), [
    ("feedback", ["Commentaire", "Account", "E-mail", "Date", "Importance", "Étiquettes"],
     {"text": "Commentaire", "customer_name": "Account", "contact_email": "E-mail",
      "created_at": "Date", "importance": "Importance", "tags": "Étiquettes"}),
    ("feedback", ["Ticket ID", "Subject", "Text", "Customer ID", "Requester email",
                  "Priority", "Unknown column"],
     {"external_id": "Ticket ID", "title": "Subject", "text": "Text",
      "customer_external_id": "Customer ID", "contact_email": "Requester email",
      "importance": "Priority"}),
    ("feedback", ["Verbatim client (FR)", "Date de création du ticket"],
     {"text": "Verbatim client (FR)", "created_at": "Date de création du ticket"}),
    ("customers", ["Customer", "CRM ID", "Segment", "Plan", "Renewal date", "ARR (EUR)",
                   "E-mail contact", "Rôle"],
     {"name": "Customer", "external_id": "CRM ID", "segment": "Segment", "plan": "Plan",
      "renewal_date": "Renewal date", "arr": "ARR (EUR)", "contact_email": "E-mail contact",
      "contact_role": "Rôle"}),
])
def test_columns_are_recognised_by_their_french_or_english_names(kind, columns, expected):
    assert auto_mapping(kind, columns) == expected
