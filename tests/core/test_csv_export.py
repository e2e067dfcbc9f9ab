"""CSV downloads neutralise spreadsheet formulas in text, and keep numbers numbers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from moulin.core.csv_export import csv_safe


@pytest.mark.parametrize(("value", "cell"), [
    ("=HYPERLINK(\"http://evil\")", "'=HYPERLINK(\"http://evil\")"),
    ("+33 1 23 45 67 89", "'+33 1 23 45 67 89"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("Dark mode", "Dark mode"),
    (None, ""),
    (-3, "-3"),  # a falling trend, not a formula
    (-12.5, "-12.5"),
    (Decimal("-1500.00"), "-1500.00"),
    (True, "True"),
])
def test_cells_are_safe_to_open_and_numbers_stay_numbers(value, cell):
    assert csv_safe(value) == cell
