"""Organisation-level currency rates: how requesting ARR in other currencies is converted."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext as _

from moulin.accounts.audit import Origin, audit_record
from moulin.accounts.models import Member
from moulin.core import parsing
from moulin.core.errors import DomainError
from moulin.features.models import CurrencyRate
from moulin.features.services.demand import demand_recompute

MAX_RATE = Decimal("99999999")


def currency_rate_set(*, actor: Member, currency: str, rate: Decimal | str,
                      origin: Origin | None = None) -> CurrencyRate:
    """Create or change the rate of ``currency`` (reporting-currency units per unit), then
    recompute the organisation's demand (its ARR totals change)."""
    try:
        code = parsing.parse_currency(currency, default="")
    except ValueError as error:
        raise DomainError(str(error), field="currency") from error
    if not code:
        raise DomainError(_("Give a three-letter currency code such as USD."), field="currency")
    organisation = actor.organisation
    if code == organisation.currency:
        raise DomainError(_("%s is the reporting currency: its rate is always 1.") % code,
                          field="currency")
    try:
        value = parsing.parse_decimal(rate)
    except ValueError as error:
        raise DomainError(_("The rate must be a number, e.g. 0.92."), field="rate") from error
    if value is None or not Decimal(0) < value <= MAX_RATE:
        raise DomainError(_("The rate must be a positive number, e.g. 0.92."), field="rate")
    value = value.quantize(Decimal("0.000001"))
    if value == 0:
        raise DomainError(_("The rate must be a positive number, e.g. 0.92."), field="rate")
    with transaction.atomic():
        row, created = CurrencyRate.objects.get_or_create(
            organisation=organisation, currency=code, defaults={"rate": value})
        before = None if created else row.rate
        if not created and row.rate != value:
            row.rate = value
            row.save(update_fields=["rate", "updated_at"])
        if created or before != value:
            audit_record(organisation=organisation, actor=actor, action="currency.rate_set",
                         origin=origin or Origin(), target=row,
                         changes={"currency": code, "rate": [str(before) if before else None,
                                                             str(value)]})
            demand_recompute(organisation_id=organisation.pk)
    return row


def currency_rate_delete(*, actor: Member, rate: CurrencyRate,
                         origin: Origin | None = None) -> None:
    """Remove a rate: customers in that currency are then reported apart, never summed."""
    if rate.organisation_id != actor.organisation_id:
        raise DomainError(_("This rate is not in your organisation."))
    with transaction.atomic():
        audit_record(organisation=actor.organisation, actor=actor,
                     action="currency.rate_deleted", origin=origin or Origin(), target=rate,
                     changes={"currency": rate.currency, "rate": str(rate.rate)})
        rate.delete()
        demand_recompute(organisation_id=actor.organisation_id)
