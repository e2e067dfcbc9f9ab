"""Read queries over customers and contacts, scoped by the permission policy."""

from __future__ import annotations

from django.db.models import Count, F, Max, Q, QuerySet
from django.shortcuts import get_object_or_404

from moulin.accounts.models import Member
from moulin.core import policy
from moulin.core.policy import Action
from moulin.customers.models import Contact, Customer, Segment

MODULE = "customers"


# The orders the customer list offers; each ends with the primary key so pages are stable.
CUSTOMER_SORTS = {
    "name": ("name", "id"),
    "arr": (F("arr").desc(nulls_last=True), "name", "id"),
    "renewal": (F("renewal_date").asc(nulls_last=True), "name", "id"),
}


def customer_list(*, member: Member, search: str = "", segment_id: int | None = None,
                  lifecycle: str = "", plan: str = "", sort: str = "name") -> QuerySet[Customer]:
    """Customers with their feedback count and last feedback date."""
    qs = policy.scope(Customer.objects.all(), member, MODULE)
    # PostgreSQL text cannot hold NUL; no name, plan or lifecycle has one.
    search, lifecycle, plan = (value.replace("\x00", "") for value in (search, lifecycle, plan))
    if search:
        qs = qs.filter(Q(name__icontains=search) | Q(external_id__iexact=search)
                       | Q(domain_rows__domain__istartswith=search.lower())).distinct()
    if segment_id:
        qs = qs.filter(segment_id=segment_id)
    if lifecycle:
        qs = qs.filter(lifecycle=lifecycle)
    if plan:
        qs = qs.filter(plan=plan)
    return (qs.select_related("segment", "owner__user")
            .annotate(feedback_count=Count("feedback", distinct=True),
                      last_feedback_at=Max("feedback__received_at"))
            .order_by(*CUSTOMER_SORTS.get(sort, CUSTOMER_SORTS["name"])))


def customer_get(*, member: Member, pk: int, action: str = Action.VIEW) -> Customer:
    customer = get_object_or_404(Customer.objects.select_related("segment", "owner__user"),
                                 pk=pk, organisation_id=member.organisation_id)
    policy.check(member, MODULE, action, customer)
    return customer


def customer_autocomplete(*, member: Member, text: str, limit: int = 10) -> list[Customer]:
    """Customers whose name or domain starts like ``text`` (for the intake form)."""
    text = text.replace("\x00", "").strip()[:100]  # PostgreSQL text cannot hold NUL
    if not text or not policy.can(member, "feedback", Action.CREATE):
        return []
    qs = Customer.objects.filter(organisation_id=member.organisation_id).filter(
        Q(name__istartswith=text) | Q(name__icontains=f" {text}")
        | Q(domain_rows__domain__istartswith=text.lower()) | Q(external_id__iexact=text))
    return list(qs.select_related("segment").distinct().order_by("name")[:limit])


def contact_list(*, member: Member, customer: Customer | None = None,
                 search: str = "") -> QuerySet[Contact]:
    qs = policy.scope(Contact.objects.all(), member, MODULE).filter(erased_at=None)
    if customer is not None:
        qs = qs.filter(customer=customer)
    search = search.replace("\x00", "")  # PostgreSQL text cannot hold NUL
    if search:
        qs = qs.filter(Q(name__icontains=search) | Q(email__icontains=search))
    return qs.select_related("customer").order_by("name", "email")


def contact_get(*, member: Member, pk: int, action: str = Action.VIEW) -> Contact:
    contact = get_object_or_404(Contact.objects.select_related("customer"), pk=pk,
                                organisation_id=member.organisation_id)
    policy.check(member, MODULE, action, contact)
    return contact


def segment_list(*, member: Member) -> QuerySet[Segment]:
    return Segment.objects.filter(organisation_id=member.organisation_id)


def plan_list(*, member: Member) -> list[str]:
    return list(Customer.objects.filter(organisation_id=member.organisation_id)
                .exclude(plan="").values_list("plan", flat=True).distinct().order_by("plan"))


def customer_by_id(*, member: Member, pk: int) -> Customer | None:
    """A customer the member may file feedback for (the intake form's "same customer again")."""
    if not policy.can(member, "feedback", Action.CREATE):
        return None
    return (Customer.objects.filter(organisation_id=member.organisation_id, pk=pk)
            .select_related("segment").first())


def customer_feedback(*, member: Member, customer: Customer, limit: int = 20) -> list:
    """The customer's newest feedback, for its page (empty without the right to see feedback).

    Feedback sits in a later layer: it is reached through the reverse relation, never imported.
    """
    qs = policy.scope(customer.feedback.all(), member, "feedback")
    return list(qs.select_related("contact", "product_area").order_by("-received_at", "-id")
                [:limit])
