"""Creating and updating customers and contacts, one at a time or in bulk (CRM sync, imports),
and erasing a contact everywhere (GDPR)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db import DataError, IntegrityError, transaction
from django.utils.translation import gettext as _

from moulin.accounts.models import Member, Organisation
from moulin.core import parsing, policy
from moulin.core.errors import DomainError, RowError  # RowError: re-exported
from moulin.core.parsing import parse_field
from moulin.core.policy import Action
from moulin.customers.models import Contact, Customer, CustomerDomain, Lifecycle, Segment

DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
# Free-mail domains never identify a customer.
PUBLIC_EMAIL_DOMAINS = frozenset(
    [
        "gmail.com", "googlemail.com", "yahoo.com", "yahoo.fr", "hotmail.com", "hotmail.fr",
        "outlook.com", "outlook.fr", "live.com", "live.fr", "msn.com", "icloud.com", "me.com",
        "aol.com", "orange.fr", "wanadoo.fr", "free.fr", "sfr.fr", "laposte.net", "gmx.com",
        "gmx.fr", "proton.me", "protonmail.com",
    ]
)
MODULE = "customers"
CUSTOMER_FIELDS = ("name", "external_id", "domains", "plan", "segment", "industry", "country",
                   "lifecycle", "arr", "currency", "renewal_date", "owner_email",
                   "health_score", "custom_fields")


class ChangeNotAllowed(RowError):
    """An upsert would change an existing customer, and the actor may only add customers."""

    status = 403
    code = "forbidden"


@dataclass
class CustomerInput:
    """A customer as it arrives from a form, the API or a spreadsheet row, cleaned."""

    name: str
    external_id: str | None = None
    domains: list[str] = field(default_factory=list)
    plan: str = ""
    segment: str = ""
    industry: str = ""
    country: str = ""
    lifecycle: str = Lifecycle.CUSTOMER
    arr: Decimal | None = None
    currency: str = ""
    renewal_date: date | None = None
    owner_email: str = ""
    health_score: int | None = None
    custom_fields: dict = field(default_factory=dict)
    # Which fields the source actually sent: an upsert only overwrites those.
    present: frozenset[str] = frozenset(CUSTOMER_FIELDS)


def normalise_domain(value: str) -> str:
    text = value.strip().lower()
    text = re.sub(r"^https?://", "", text).split("/")[0].removeprefix("www.")
    text = text.split("@")[-1]
    if not DOMAIN.match(text):
        raise ValueError(_("“%s” is not a domain name such as example.com.") % value[:100])
    return text


LIFECYCLE_WORDS = {
    "trial": Lifecycle.TRIAL, "essai": Lifecycle.TRIAL, "poc": Lifecycle.TRIAL,
    "customer": Lifecycle.CUSTOMER, "client": Lifecycle.CUSTOMER, "active": Lifecycle.CUSTOMER,
    "actif": Lifecycle.CUSTOMER, "churned": Lifecycle.CHURNED, "churn": Lifecycle.CHURNED,
    "perdu": Lifecycle.CHURNED, "résilié": Lifecycle.CHURNED, "resilie": Lifecycle.CHURNED,
}


def customer_input(raw: dict) -> CustomerInput:
    """Clean a raw mapping (API body, import row) into a ``CustomerInput``; raises RowError."""
    present = frozenset(k for k in CUSTOMER_FIELDS if k in raw)
    name = parse_field("name", lambda v: parsing.clean_text(v, max_length=200, field="name"),
                  raw.get("name"))
    external_id = parse_field("external_id", lambda v: parsing.clean_text(v, max_length=100,
                                                                      field="external_id"),
                         raw.get("external_id")) or None
    if not name and not external_id:
        raise RowError(_("A customer needs a name (or an external id to update one)."),
                       field="name")
    # "A.com", "www.a.com" and "https://a.com/" are one domain: kept once, in the order sent.
    domains = list(dict.fromkeys(parse_field("domains", normalise_domain, d)
                                 for d in parsing.split_list(raw.get("domains"))))
    lifecycle_raw = parsing.clean_text(raw.get("lifecycle")).lower()
    lifecycle = Lifecycle.CUSTOMER
    if lifecycle_raw:
        lifecycle = LIFECYCLE_WORDS.get(lifecycle_raw)
        if lifecycle is None:
            raise RowError(_("Lifecycle must be trial, customer or churned; got “%s”.")
                           % lifecycle_raw, field="lifecycle")
    arr = parse_field("arr", parsing.parse_decimal, raw.get("arr"))
    if arr is not None and (arr < 0 or arr >= Decimal("1e12")):
        raise RowError(_("ARR must be between 0 and 999,999,999,999."), field="arr")
    health = parse_field("health_score", parsing.parse_decimal, raw.get("health_score"))
    if health is not None and not 0 <= health <= 100:
        raise RowError(_("The health score goes from 0 to 100."), field="health_score")
    country = parsing.clean_text(raw.get("country")).upper()
    if country and not re.fullmatch(r"[A-Z]{2}", country):
        raise RowError(_("Country must be a two-letter ISO code such as FR."), field="country")
    custom = raw.get("custom_fields") or {}
    if not isinstance(custom, dict):
        raise RowError(_("Custom fields must be an object of names to values."),
                       field="custom_fields")
    return CustomerInput(
        name=name, external_id=external_id, domains=domains,
        plan=parsing.clean_text(raw.get("plan"))[:80],
        segment=parsing.clean_text(raw.get("segment"))[:80],
        industry=parsing.clean_text(raw.get("industry"))[:120], country=country,
        lifecycle=lifecycle, arr=arr,
        currency=parse_field("currency", lambda v: parsing.parse_currency(v, default=""),
                        raw.get("currency")),
        renewal_date=parse_field("renewal_date", parsing.parse_date, raw.get("renewal_date")),
        owner_email=parsing.clean_text(raw.get("owner_email")).lower(),
        health_score=int(health) if health is not None else None,
        custom_fields={_without_nul(str(k))[:60]: _without_nul(v) for k, v in custom.items()},
        present=present,
    )


def _without_nul(value: object) -> object:
    """``value`` with the NUL bytes of every string in it removed: PostgreSQL's text and jsonb
    refuse them, and no CRM field needs one."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    if isinstance(value, dict):
        return {_without_nul(str(key)): _without_nul(item) for key, item in value.items()}
    return value


class CustomerWriter:
    """Upserts many customers for one organisation with few queries (segments, owners and
    existing rows are looked up once per batch).

    With an ``actor``, an upsert that would change an existing customer needs the right to
    change customers (as on the customer's page); adding one needs only the right to create,
    which the caller checks. Without one (the demo generator) nothing is checked."""

    # What an upsert may change on an existing customer.
    TRACKED = ("name", "external_id", "plan", "industry", "country", "lifecycle", "arr",
               "currency", "renewal_date", "health_score", "owner_id", "custom_fields",
               "domains")

    def __init__(self, organisation: Organisation, *, actor: Member | None = None):
        self.organisation = organisation
        self.actor = actor
        self.segments = {s.name.lower(): s for s in Segment.objects.filter(
            organisation=organisation)}
        self.owners = {m.user.email.lower(): m for m in Member.objects.filter(
            organisation=organisation).select_related("user")}

    def segment(self, name: str) -> Segment | None:
        if not name:
            return None
        segment = self.segments.get(name.lower())
        if segment is None:
            segment, _created = Segment.objects.get_or_create(
                organisation=self.organisation, name=name,
                defaults={"position": len(self.segments)})
            self.segments[name.lower()] = segment
        return segment

    def upsert(self, data: CustomerInput) -> tuple[Customer, bool]:
        """Create or update one customer by external id (or by exact name when none)."""
        org = self.organisation
        customer = None
        if data.external_id:
            customer = Customer.objects.filter(organisation=org,
                                               external_id=data.external_id).first()
        elif data.name:
            customer = Customer.objects.filter(organisation=org, external_id=None,
                                               name__iexact=data.name).first()
        created = customer is None
        if created:
            if not data.name:
                raise RowError(_("No customer has the external id “%s”: give a name to "
                                 "create it.") % data.external_id, field="name")
            customer = Customer(organisation=org, currency=org.currency)
        owner = None
        if data.owner_email:
            owner = self.owners.get(data.owner_email)
            if owner is None:
                raise RowError(_("No member signs in with %s (owner).") % data.owner_email,
                               field="owner_email")
        present = data.present if not created else frozenset(CUSTOMER_FIELDS)
        before = None if created else {key: getattr(customer, key) for key in self.TRACKED}
        updates = {
            "name": data.name or customer.name, "external_id": data.external_id,
            "plan": data.plan, "industry": data.industry, "country": data.country,
            "lifecycle": data.lifecycle, "arr": data.arr,
            "currency": data.currency or customer.currency or org.currency,
            "renewal_date": data.renewal_date, "health_score": data.health_score,
        }
        for key, value in updates.items():
            if key in present or created:
                setattr(customer, key, value)
        if "owner_email" in present:
            customer.owner = owner
        if "custom_fields" in present:
            customer.custom_fields = {**customer.custom_fields, **data.custom_fields}
        if "domains" in present:
            customer.domains = data.domains
        if before is not None:
            self._check_change(customer, before, data)
        if "segment" in present:
            customer.segment = self.segment(data.segment)
        customer.save()
        if "domains" in present:
            self._set_domains(customer, data.domains)
        return customer, created

    def _check_change(self, customer: Customer, before: dict, data: CustomerInput) -> None:
        """Refuse to change an existing customer without the right to; sending again what is
        stored (a retried create) changes nothing and is allowed."""
        if self.actor is None or policy.can(self.actor, MODULE, Action.CHANGE, customer):
            return
        current = customer.segment.name.lower() if customer.segment_id else ""
        changed = any(getattr(customer, key) != value for key, value in before.items()) or (
            "segment" in data.present and data.segment.lower() != current)
        if changed:
            raise ChangeNotAllowed(
                _("Changing an existing customer needs the right to change customers; yours "
                  "only allows adding new ones."),
                field="external_id" if data.external_id else "name")

    def _set_domains(self, customer: Customer, domains: list[str]) -> None:
        domains = list(dict.fromkeys(domains))  # the unique constraint allows each once
        CustomerDomain.objects.filter(customer=customer).exclude(domain__in=domains).delete()
        taken = dict(CustomerDomain.objects.filter(
            organisation=self.organisation, domain__in=domains).values_list("domain",
                                                                            "customer_id"))
        for domain in domains:
            owner = taken.get(domain)
            if owner is not None and owner != customer.pk:
                raise RowError(_("The domain %s already belongs to another customer.") % domain,
                               field="domains")
            if owner is None:
                CustomerDomain.objects.create(organisation=self.organisation,
                                              customer=customer, domain=domain)


def customer_upsert(*, organisation: Organisation, raw: dict,
                    actor: Member | None = None) -> tuple[Customer, bool]:
    """Clean and upsert one customer (API, form); raises RowError with the field to fix
    (``ChangeNotAllowed`` when ``actor`` may not change the existing customer)."""
    with transaction.atomic():
        return CustomerWriter(organisation, actor=actor).upsert(customer_input(raw))


def contact_upsert(*, organisation: Organisation, email: str, name: str = "", role: str = "",
                   customer: Customer | None = None) -> Contact:
    """Find or create the contact with this address; fill in what is missing."""
    email = parsing.clean_text(email).lower()
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email) or len(email) > 254:
        raise RowError(_("“%s” is not an email address.") % email[:80], field="contact_email")
    contact = Contact.objects.filter(organisation=organisation, email=email).first()
    if contact is None:
        return Contact.objects.create(
            organisation=organisation, email=email, name=name[:200], role=role[:120],
            customer=customer or customer_for_email(organisation=organisation, email=email))
    changed = []
    if name and not contact.name:
        contact.name, changed = name[:200], [*changed, "name"]
    if role and not contact.role:
        contact.role, changed = role[:120], [*changed, "role"]
    if customer and contact.customer_id is None:
        contact.customer, changed = customer, [*changed, "customer"]
    if changed:
        contact.save(update_fields=[*changed, "updated_at"])
    return contact


def customer_for_email(*, organisation: Organisation, email: str) -> Customer | None:
    """The customer behind an address: its known contact first, then its email domain."""
    email = email.strip().lower()
    contact = (Contact.objects.filter(organisation=organisation, email=email)
               .exclude(customer=None).select_related("customer").first())
    if contact:
        return contact.customer
    domain = email.rpartition("@")[2]
    if not domain or domain in PUBLIC_EMAIL_DOMAINS:
        return None
    row = (CustomerDomain.objects.filter(organisation=organisation, domain=domain)
           .select_related("customer").first())
    return row.customer if row else None


@dataclass
class CustomerResult:
    index: int
    status: str  # created | updated | error
    id: int | None = None
    external_id: str | None = None
    field: str | None = None
    message: str = ""


def customer_bulk_upsert(*, organisation: Organisation, raw_items: list[dict],
                         actor: Member | None = None) -> list[CustomerResult]:
    """Upsert many customers by external id (CRM sync); one result per item. Each item is
    written in its own savepoint, so one bad row never undoes the others."""
    writer = CustomerWriter(organisation, actor=actor)
    results = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(raw_items):
        segments_known = len(writer.segments)
        try:
            data = customer_input(raw)
            if data.external_id and data.external_id in seen:
                raise RowError(_("Duplicate of item %d in this batch (same external id).")
                               % seen[data.external_id], field="external_id")
            if data.external_id:
                seen[data.external_id] = index
            with transaction.atomic():
                customer, created = writer.upsert(data)
        except (RowError, IntegrityError, DataError) as error:
            # IntegrityError: another request took the same external id or domain meanwhile.
            message = getattr(error, "message", None) or _(
                "This row could not be saved (%s).") % str(error)[:200]
            results.append(CustomerResult(index, "error", external_id=raw.get("external_id"),
                                          field=getattr(error, "field", None),
                                          message=message))
            if len(writer.segments) != segments_known:
                # The savepoint took back the segment the writer created and cached.
                writer = CustomerWriter(organisation, actor=actor)
            continue
        results.append(CustomerResult(index, "created" if created else "updated",
                                      id=customer.pk, external_id=customer.external_id))
    return results


def customer_update(*, actor: Member, customer: Customer, raw: dict) -> Customer:
    """Change a customer from its page: the fields in ``raw`` are cleaned as for the API and
    replace the current values (custom fields too: a line removed is a field removed)."""
    if customer.organisation_id != actor.organisation_id:
        raise DomainError(_("This customer is not in your organisation."))
    data = customer_input(raw)
    present = data.present
    if "name" in present and not data.name:
        raise RowError(_("A customer needs a name."), field="name")
    organisation = actor.organisation
    if data.external_id and Customer.objects.filter(
            organisation=organisation, external_id=data.external_id).exclude(
            pk=customer.pk).exists():
        raise RowError(_("Another customer has the CRM id “%s”.") % data.external_id,
                       field="external_id")
    writer = CustomerWriter(organisation)
    owner = writer.owners.get(data.owner_email) if data.owner_email else None
    if data.owner_email and owner is None:
        raise RowError(_("No member signs in with %s (owner).") % data.owner_email,
                       field="owner_email")
    for key in ("name", "external_id", "plan", "industry", "country", "lifecycle", "arr",
                "renewal_date", "health_score", "custom_fields", "domains"):
        if key in present:
            setattr(customer, key, getattr(data, key))
    if "currency" in present and data.currency:
        customer.currency = data.currency
    if "owner_email" in present:
        customer.owner = owner
    # One savepoint: a domain owned by another customer undoes the new segment and the save.
    with transaction.atomic():
        if "segment" in present:
            customer.segment = writer.segment(data.segment)
        customer.save()
        if "domains" in present:
            writer._set_domains(customer, data.domains)
    return customer
