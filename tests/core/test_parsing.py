"""The lenient parsers behind imports and the API: whatever people type, they either understand
it or say what was expected (ValueError, reported on the row and field) — never a crash."""

import contextlib
from datetime import UTC, date, datetime, time
from decimal import Decimal

import pytest
from django.utils import translation
from hypothesis import example, given, settings
from hypothesis import strategies as st

from moulin.core import parsing


@pytest.fixture(autouse=True)
def _english():
    """The messages are asserted in English (the default language is French)."""
    with translation.override("en"):
        yield


def test_messages_follow_the_interface_language():
    with translation.override("fr"), pytest.raises(ValueError, match="Une date est attendue"):
        parsing.parse_date("32/13/2026")

PARSERS = [parsing.parse_decimal, parsing.parse_date, parsing.parse_datetime,
           parsing.parse_bool, parsing.split_list]

# Text that looks like what spreadsheets hold, mixed with anything at all.
LOOKALIKES = st.from_regex(
    r"[-+ ]?[0-9 .,'\u00a0]{0,12}(e[-+]?[0-9]{1,7})?[kKmM€$£]?( EUR| CHF)?", fullmatch=True)
DATELIKE = st.from_regex(
    r"[0-9]{1,25}[ /.\-][0-9a-zéû]{1,12}[ /.\-][0-9]{1,25}( [0-9]{1,2}[:h][0-9]{2})?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})?", fullmatch=True)
ANYTHING = st.one_of(st.text(), LOOKALIKES, DATELIKE, st.integers(), st.floats(),
                     st.none(), st.booleans(), st.lists(st.text(), max_size=5))


def only_value_error(parser, value):
    # ValueError is the one refusal callers expect (reported on the row); anything else is a 500.
    with contextlib.suppress(ValueError):
        parser(value)


@settings(max_examples=300, deadline=None)
@given(ANYTHING)
@example("1e999999k")  # beyond Decimal's exponent: used to raise decimal.Overflow
@example("1 janvier 99999999999999999999")  # a year beyond C long: used to raise OverflowError
@example("0001-01-01T00:00:00")  # year 1 in Paris is before year 1 in UTC
@example("9999-12-31T23:00:00-05:00")  # after 9999 in UTC
@example(float("nan"))
@example("\x00")
def test_parsers_never_raise_anything_but_value_error(value):
    for parser in PARSERS:
        only_value_error(parser, value)


@settings(max_examples=200, deadline=None)
@given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1),
                    timezones=st.just(UTC)))
def test_an_iso_datetime_comes_back_as_the_same_instant(moment):
    assert parsing.parse_datetime(moment.isoformat()) == moment


@settings(max_examples=200, deadline=None)
@given(st.decimals(min_value=0, max_value=Decimal("1e11"), places=2))
def test_french_and_english_spellings_of_an_amount_agree(amount):
    english = f"{amount:,.2f}"  # 12,500.50
    french = english.replace(",", " ").replace(".", ",")  # 12 500,50
    assert parsing.parse_decimal(english) == amount
    assert parsing.parse_decimal(french) == amount


@pytest.mark.parametrize(("text", "expected"), [
    ("12 500,50", Decimal("12500.50")),
    ("12\u202f500,50 €", Decimal("12500.50")),  # French thousands with a narrow no-break space
    ("12,500.50", Decimal("12500.50")),
    ("1.234,56", Decimal("1234.56")),
    ("12,5", Decimal("12.5")),
    ("1,234", Decimal("1234")),
    ("EUR 3400", Decimal("3400")),
    ("1.2k", Decimal("1200")),
    ("2M", Decimal("2000000")),
    ("", None),
    (None, None),
    (42, Decimal("42")),
])
def test_known_amount_formats(text, expected):
    assert parsing.parse_decimal(text) == expected


@pytest.mark.parametrize("text", ["douze", "12,5,3", "NaN", "Infinity", "k", "1e999999k"])
def test_amounts_that_are_not_numbers_say_what_was_expected(text):
    with pytest.raises(ValueError, match="Expected a number"):
        parsing.parse_decimal(text)


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11-25", date(2026, 11, 25)),
    ("25/11/2026", date(2026, 11, 25)),
    ("25/11/26", date(2026, 11, 25)),
    ("25.11.2026", date(2026, 11, 25)),
    ("25 novembre 2026", date(2026, 11, 25)),
    ("1er août 2026", date(2026, 8, 1)),
    ("November 25, 2026", date(2026, 11, 25)),
    ("25 November 2026", date(2026, 11, 25)),
    ("2026-11-25T14:30:00Z", date(2026, 11, 25)),
    ("", None),
])
def test_known_date_formats(text, expected):
    assert parsing.parse_date(text) == expected


@pytest.mark.parametrize("text", ["31/02/2026", "demain", "2026-13-01", "32 mars 2026"])
def test_impossible_dates_are_refused(text):
    with pytest.raises(ValueError, match="Expected a date"):
        parsing.parse_date(text)


def test_datetimes_in_french_english_iso_and_unix_forms(settings):
    settings.TIME_ZONE = "Europe/Paris"
    paris_afternoon = datetime(2026, 11, 25, 13, 30, tzinfo=UTC)  # 14:30 in Paris (UTC+1)

    assert parsing.parse_datetime("2026-11-25T13:30:00Z") == paris_afternoon
    assert parsing.parse_datetime("2026-11-25T14:30:00+01:00") == paris_afternoon
    assert parsing.parse_datetime("25/11/2026 14:30") == paris_afternoon
    assert parsing.parse_datetime("25/11/2026 14h30") == paris_afternoon
    assert parsing.parse_datetime(str(int(paris_afternoon.timestamp()))) == paris_afternoon
    assert parsing.parse_datetime(int(paris_afternoon.timestamp() * 1000)) == paris_afternoon
    # A date alone is taken at noon, local time: the same calendar day in every zone near.
    assert parsing.parse_datetime("25 novembre 2026").time() == time(12, 0)


@pytest.mark.parametrize(("text", "expected"), [
    ("oui", True), ("Yes", True), ("1", True), ("vrai", True), ("x", True),
    ("non", False), ("false", False), ("0", False), ("faux", False),
    ("", None), (None, None), (True, True),
])
def test_yes_and_no_in_both_languages(text, expected):
    assert parsing.parse_bool(text) is expected


def test_maybe_is_not_a_boolean():
    with pytest.raises(ValueError, match="oui/non"):
        parsing.parse_bool("peut-être")


@pytest.mark.parametrize(("value", "expected"), [
    ("billing, export; api", ["billing", "export", "api"]),
    ("a | b\nc", ["a", "b", "c"]),
    (" billing ,, billing , ", ["billing"]),
    (["x", " y ", ""], ["x", "y"]),
    (None, []),
])
def test_lists_are_split_trimmed_and_deduplicated_in_order(value, expected):
    assert parsing.split_list(value) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("42", 42), (" 7 ", 7), ("9223372036854775807", 2**63 - 1), ("9223372036854775808", None),
    ("0", None), ("-3", None), ("²", None), ("4e2", None), ("", None), (None, None),
])
def test_ids_typed_in_urls_are_numbers_the_database_can_hold(text, expected):
    assert parsing.parse_id(text) == expected
