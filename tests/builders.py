"""Small builders for test data: one ``make_<entity>()`` per thing a test needs."""

from __future__ import annotations

import itertools

from moulin.accounts import services
from moulin.accounts.audit import CLI
from moulin.accounts.models import ApiToken, Department, Member, Organisation, Squad
from moulin.core.policy import Role

PASSWORD = "correct-horse-battery-staple"
_counter = itertools.count(1)


def make_organisation(name: str | None = None, language: str = "en") -> Organisation:
    n = next(_counter)
    return services.organisation_create(name=name or f"Org {n}", slug=f"org-{n}",
                                        language=language)


def department(organisation: Organisation, key: str) -> Department:
    return Department.objects.get(organisation=organisation, key=key)


def make_squad(organisation: Organisation, name: str | None = None) -> Squad:
    return Squad.objects.create(organisation=organisation, name=name or f"Squad {next(_counter)}")


def make_member(organisation: Organisation, *, role: str = Role.CONTRIBUTOR,
                department_key: str = "product", email: str | None = None,
                full_name: str | None = None, language: str = "") -> Member:
    n = next(_counter)
    return services.member_create(
        organisation=organisation, email=email or f"person{n}@{organisation.slug}.test",
        full_name=full_name or f"Person {n}", role=role,
        department=department(organisation, department_key), password=PASSWORD,
        language=language,
    )


def make_token(member: Member, scope: str = ApiToken.WRITE) -> str:
    _token, secret = services.api_token_create(actor=member, origin=CLI, name="tests",
                                               scope=scope)
    return secret


# --- Features (issue 5) --------------------------------------------------------------------------

def make_customer(organisation: Organisation, name: str | None = None, *, arr=None,
                  currency: str | None = None, segment: str = "", plan: str = "",
                  **fields):
    """A customer with the business fields a test needs (segment by name, created if new)."""
    from moulin.customers.models import Customer, Segment

    segment_obj = None
    if segment:
        segment_obj, _created = Segment.objects.get_or_create(organisation=organisation,
                                                              name=segment)
    return Customer.objects.create(organisation=organisation,
                                   name=name or f"Customer {next(_counter)}", arr=arr,
                                   currency=currency or organisation.currency,
                                   segment=segment_obj, plan=plan, **fields)


def make_feedback(organisation: Organisation, text: str | None = None, *, customer=None,
                  **fields):
    from django.utils import timezone

    from moulin.feedback.models import Feedback

    fields.setdefault("received_at", timezone.now())
    return Feedback.objects.create(organisation=organisation,
                                   text=text or f"Feedback {next(_counter)}", source="api",
                                   customer=customer,
                                   customer_arr=(customer.arr or 0) if customer else 0,
                                   **fields)


def make_feature(member: Member, title: str | None = None, **fields):
    """A feature created through the service (history, standard score) by ``member``."""
    from moulin.features import services as feature_services

    return feature_services.feature_create(actor=member,
                                           title=title or f"Feature {next(_counter)}", **fields)


def make_theme(organisation: Organisation, name_en: str, name_fr: str = "", *,
               description: str = "", examples: list[str] | None = None, product_area=None,
               **fields):
    """A theme of the triage taxonomy, written directly (no retraining is queued)."""
    from moulin.triage.models import Theme

    return Theme.objects.create(organisation=organisation, name_en=name_en,
                                name_fr=name_fr or name_en, description=description,
                                examples=examples or [], product_area=product_area, **fields)
