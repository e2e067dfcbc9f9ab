"""ARR in the organisation's reporting currency, added up as the features' demand does it
(docs/features.md): each customer's ARR converted with the rates set under *Scoring frameworks
→ Currency rates*, the organisation's own currency at 1. An amount in a currency without a rate
is never added to a total: it is reported beside it, per currency (adding 10,000 GBP to
100,000 EUR as 110,000 was the wrong number).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.apps import apps

from moulin.accounts.models import Organisation

CENT = Decimal("0.01")


@dataclass
class ReportedArr:
    """A sum of ARR: ``total`` in ``currency``, and what could not be converted into it."""

    total: Decimal
    currency: str
    unconverted: dict[str, Decimal] = field(default_factory=dict)  # currency → amount


@dataclass
class Rates:
    """The organisation's reporting currency and units of it per unit of each currency."""

    currency: str
    per_unit: dict[str, Decimal]


def currency_rates(organisation_id: int) -> Rates:
    """The rates the organisation set (its own currency counts at 1)."""
    # The rates belong to the features' scoring, an app built on this one: its table is read by
    # name (as the feedback hub reads triage's), so that both count ARR the same way.
    rate_table = apps.get_model("features", "CurrencyRate")
    per_unit = dict(rate_table.objects.filter(organisation_id=organisation_id)
                    .values_list("currency", "rate"))
    currency = Organisation.objects.values_list("currency", flat=True).get(pk=organisation_id)
    per_unit[currency] = Decimal(1)
    return Rates(currency=currency, per_unit=per_unit)


def arr_reported(sums: Iterable[tuple[str | None, Decimal | float | int | None]], *,
                 rates: Rates) -> ReportedArr:
    """Add up (currency, amount) pairs — amounts already summed per distinct customer — into
    the reporting currency; amounts in a currency without a rate are kept apart."""
    total = Decimal(0)
    unconverted: dict[str, Decimal] = {}
    for code, amount in sums:
        if not amount:
            continue
        value = Decimal(str(amount))
        code = code or rates.currency
        rate = rates.per_unit.get(code)
        if rate is None:
            unconverted[code] = unconverted.get(code, Decimal(0)) + value
        else:
            total += value * rate
    return ReportedArr(total=total.quantize(CENT), currency=rates.currency,
                       unconverted={code: value.quantize(CENT)
                                    for code, value in sorted(unconverted.items())})
