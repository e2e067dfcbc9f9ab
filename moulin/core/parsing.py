"""Lenient, explicit parsing of values typed by people or exported by other tools.

Each parser returns the value or raises ``ValueError`` with a message that says what was
expected, so imports and the API can report it on the right row and field.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from moulin.core.errors import RowError

_SPACES = re.compile(r"[\s\u00a0\u202f']")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_CURRENCY_SIGNS = {"€": "EUR", "$": "USD", "£": "GBP", "CHF": "CHF"}


def clean_text(value: object, *, max_length: int | None = None, field: str = "") -> str:
    """A string without NUL bytes or surrounding space; refuses a longer one than allowed."""
    text = "" if value is None else str(value)
    text = text.replace("\x00", "").strip()
    if max_length is not None and len(text) > max_length:
        values = {"field": field, "length": len(text), "limit": max_length}
        if field:
            raise ValueError(ngettext(
                "%(field)s is %(length)d character long; the limit is %(limit)d.",
                "%(field)s is %(length)d characters long; the limit is %(limit)d.",
                len(text)) % values)
        raise ValueError(ngettext(
            "This value is %(length)d character long; the limit is %(limit)d.",
            "This value is %(length)d characters long; the limit is %(limit)d.",
            len(text)) % values)
    return text


def parse_decimal(value: object) -> Decimal | None:
    """'12 500,50 €', '12,500.50', '12500.5', '1.2k' → Decimal; '' → None."""
    if value is None:
        return None
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        number = Decimal(str(value))
        if not number.is_finite():
            raise ValueError(_("Expected a number."))
        return number
    text = str(value).strip()
    if not text:
        return None
    for sign in _CURRENCY_SIGNS:
        text = text.replace(sign, "")
    text = re.sub(r"\b[A-Z]{3}\b", "", text)
    text = _SPACES.sub("", text)
    multiplier = Decimal(1)
    if text[-1:].lower() == "k":
        multiplier, text = Decimal(1000), text[:-1]
    elif text[-1:].lower() == "m":
        multiplier, text = Decimal(1_000_000), text[:-1]
    if "," in text and "." in text:
        # The last separator is the decimal one: 1.234,56 (fr/de) or 1,234.56 (en).
        if text.rfind(",") > text.rfind("."):
            text = text.replace(".", "").replace(",", ".")
        else:
            text = text.replace(",", "")
    elif "," in text:
        head, _comma, tail = text.rpartition(",")
        # 1,234 (thousands, en) vs 12,5 (decimal, fr): three digits after a lone comma = thousands.
        text = (head.replace(",", "") + tail) if len(tail) == 3 and head else \
            text.replace(",", ".")
    try:
        number = Decimal(text) * multiplier
    # InvalidOperation for text that is no number, Overflow for an exponent beyond Decimal's.
    except ArithmeticError as exc:
        raise ValueError(_("Expected a number such as 12500 or 12 500,50; got %s.")
                         % repr(value)) \
            from exc
    if not number.is_finite():
        raise ValueError(_("Expected a number."))
    return number


def parse_currency(value: object, default: str = "EUR") -> str:
    text = str(value or "").strip().upper()
    if not text:
        return default
    text = _CURRENCY_SIGNS.get(text, text)
    if not _CURRENCY.match(text):
        raise ValueError(_("Expected a three-letter currency code such as EUR; got %s.")
                         % repr(value))
    return text


_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d/%m/%y", "%d.%m.%Y", "%d-%m-%Y", "%Y/%m/%d")
_DATETIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M:%S",
                     "%d/%m/%Y %H:%M", "%d/%m/%Y %Hh%M", "%d.%m.%Y %H:%M")
_FRENCH_MONTHS = {
    "janvier": 1, "février": 2, "fevrier": 2, "mars": 3, "avril": 4, "mai": 5, "juin": 6,
    "juillet": 7, "août": 8, "aout": 8, "septembre": 9, "octobre": 10, "novembre": 11,
    "décembre": 12, "decembre": 12,
}
_ENGLISH_MONTHS = {m: i for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september",
     "october", "november", "december"], start=1)}


def parse_date(value: object) -> date | None:
    """ISO, French (25/11/2026, 25 novembre 2026) or English (November 25, 2026) dates."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip().lower()
    if not text:
        return None
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    words = re.findall(r"[a-zà-ÿ]+|\d+", text)
    numbers = [int(w) for w in words if w.isdigit()]
    months = [_FRENCH_MONTHS.get(w) or _ENGLISH_MONTHS.get(w) for w in words if w.isalpha()]
    months = [m for m in months if m]
    if len(months) == 1 and len(numbers) == 2:
        day, year = (numbers if numbers[1] > 31 else numbers[::-1])
        try:
            return date(year, months[0], day)
        except (ValueError, OverflowError):  # a day or year out of range, however many digits
            pass
    try:
        return datetime.fromisoformat(str(value).strip()).date()
    except ValueError:
        pass
    raise ValueError(_("Expected a date such as 2026-11-25 or 25/11/2026; got %s.")
                     % repr(value))


def parse_datetime(value: object, *, default_time: time = time(12, 0)) -> datetime | None:
    """An aware datetime from ISO 8601 (with or without zone), French or English formats, or a
    Unix timestamp. A date alone gets ``default_time`` in the current time zone."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _from_timestamp(value)
    text = str(value).strip()
    if not text:
        return None
    if re.fullmatch(r"\d{9,13}(\.\d+)?", text):
        return _from_timestamp(float(text))
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        parsed = None
        for fmt in _DATETIME_FORMATS:
            try:
                parsed = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
    if parsed is None:
        try:
            day = parse_date(text)
        except ValueError:
            raise ValueError(_("Expected a date and time such as 2026-11-25T14:30:00Z or "
                               "25/11/2026 14:30; got %s.") % repr(value)) from None
        parsed = datetime.combine(day, default_time)
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    try:
        # Stored in UTC: a time at the edge of year 1 or 9999 would overflow when converted.
        parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError(_("%s is out of the range of dates Moulin can store.")
                         % repr(value)) \
            from None
    return parsed


def _from_timestamp(value: float) -> datetime:
    if value > 10**11:  # milliseconds
        value = value / 1000
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise ValueError(_("%s is not a valid timestamp.") % repr(value)) from exc


def parse_field(field: str, parse, value: object):
    """``parse(value)``; its ValueError becomes a RowError naming ``field``."""
    try:
        return parse(value)
    except ValueError as exc:
        raise RowError(str(exc), field=field) from exc


MAX_ID = 2**63 - 1  # the largest id the database stores


def parse_id(value: object) -> int | None:
    """An object id typed in a URL or form: ASCII digits within the 64-bit range, else None.

    ("²".isdigit() is true, and a larger number crashes SQLite's driver instead of matching
    nothing: both are refused here.)"""
    text = str(value if value is not None else "").strip()
    if not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None


def parse_bool(value: object) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "y", "oui", "vrai", "x"}:
        return True
    if text in {"0", "false", "no", "n", "non", "faux"}:
        return False
    raise ValueError(_("Expected yes/no (oui/non, true/false, 1/0); got %s.") % repr(value))


def split_list(value: object) -> list[str]:
    """'a, b; c' or ['a', 'b'] → ['a', 'b', 'c'] (trimmed, empty parts dropped, order kept)."""
    if value is None:
        return []
    parts = value if isinstance(value, list | tuple) else re.split(r"[,;|\n]", str(value))
    seen: dict[str, None] = {}
    for part in parts:
        text = clean_text(part)
        if text:
            seen.setdefault(text, None)
    return list(seen)
