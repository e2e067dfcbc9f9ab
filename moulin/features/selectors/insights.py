"""The demand behind one feature, for its page, the API and the "why this priority" page.

Totals come from the feature's stored demand; breakdowns are grouped in SQL over the
feature's *demand items* (linked feedback plus the duplicates merged into it). Who asked
(customer names, their ARR, contacts, CSMs) is only returned to members who may view
customers; others get the aggregate numbers. Verbatims need the right to view feedback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, TruncWeek
from django.utils import timezone

from moulin.accounts.models import Member
from moulin.core import policy
from moulin.core.policy import Action
from moulin.customers.models import Contact, Customer, Lifecycle, Segment
from moulin.features.models import Feature, FeedbackLink
from moulin.features.selectors.board import board_position
from moulin.features.selectors.features import IMPORTANCE_ORDER, linked_feedback_order
from moulin.features.services.demand import currency_rates
from moulin.feedback.models import Feedback

AT_RISK_HEALTH = 40  # same rule as services.demand (kept here: selectors never import services)
RENEWAL_DAYS = 90
WEEKS = 12
CENT = Decimal("0.01")


def demand_items(feature: Feature) -> QuerySet[Feedback]:
    """The feature's linked feedback plus the duplicates merged into it."""
    linked = FeedbackLink.objects.filter(feature=feature).values("feedback_id")
    return Feedback.objects.filter(organisation_id=feature.organisation_id).filter(
        Q(pk__in=linked) | Q(merged_into_id__in=linked))


@dataclass
class Slice:
    """Distinct customers and their ARR in one group (segment, plan…)."""

    key: object
    label: str
    customer_count: int = 0
    arr_total: Decimal = Decimal(0)  # converted into the organisation's currency
    unconverted: dict[str, Decimal] = field(default_factory=dict)


@dataclass
class FeatureInsights:
    feature: Feature
    currency: str
    feedback_count: int
    customer_count: int
    arr_total: Decimal
    unconverted_arr: dict[str, str]
    renewal_arr_90d: Decimal
    at_risk_arr: Decimal
    feedback_recent: int
    feedback_previous: int
    stale: bool  # the stored demand waits for a recompute (call demand_refresh_stale first)
    by_segment: list[Slice]
    by_plan: list[Slice]
    renewing_customers: int
    at_risk_customers: int
    weekly: list[dict]  # [{"week": date, "count": n}] oldest first, WEEKS weeks
    verbatims: list[dict]  # [{"feedback": Feedback, "importance", "customer", "arr"}]
    can_see_customers: bool
    can_see_feedback: bool
    customers: list[dict] | None = None  # who asked; None without the right to see customers
    contacts: list[dict] | None = None
    csms: list[dict] | None = None

    @property
    def trend(self) -> int:
        return self.feedback_recent - self.feedback_previous


def _slices(customers: QuerySet[Customer], group: str, rates: dict[str, Decimal],
            labels: dict) -> list[Slice]:
    out: dict[object, Slice] = {}
    rows = customers.values(group, "currency").annotate(n=Count("id"), arr=_arr_sum())
    for row in rows:
        key = row[group]
        piece = out.setdefault(key, Slice(key, str(labels.get(key, key or "—"))))
        piece.customer_count += row["n"]
        amount = Decimal(str(row["arr"] or 0))
        rate = rates.get(row["currency"])
        if rate is None:
            piece.unconverted[row["currency"]] = piece.unconverted.get(
                row["currency"], Decimal(0)) + amount
        else:
            piece.arr_total += amount * rate
    for piece in out.values():
        piece.arr_total = piece.arr_total.quantize(CENT)
    return sorted(out.values(), key=lambda s: (-s.arr_total, -s.customer_count, s.label))


def _arr_sum() -> Coalesce:
    return Coalesce(Sum("arr"), Value(Decimal(0)))


def feature_insights(*, member: Member, feature: Feature, now: datetime | None = None,
                     verbatim_limit: int = 10, people_limit: int = 50) -> FeatureInsights:
    """Everything about the demand behind ``feature`` the member may see."""
    policy.check(member, "features", Action.VIEW, feature)
    now = now or timezone.now()
    today = timezone.localdate(now)
    see_customers = policy.can_see_customer_data(member)
    see_feedback = policy.can(member, "feedback", Action.VIEW)
    rates = currency_rates(feature.organisation_id)
    items = demand_items(feature)
    customers = Customer.objects.filter(
        organisation_id=feature.organisation_id,
        pk__in=items.exclude(customer=None).values("customer_id"))
    segments = dict(Segment.objects.filter(organisation_id=feature.organisation_id)
                    .values_list("pk", "name"))
    renewing = customers.filter(renewal_date__gte=today,
                                renewal_date__lte=today + timedelta(days=RENEWAL_DAYS)).exclude(
        lifecycle=Lifecycle.CHURNED)
    at_risk = customers.filter(lifecycle=Lifecycle.CUSTOMER, health_score__lt=AT_RISK_HEALTH)
    start = now - timedelta(weeks=WEEKS)
    weekly = {row["week"].date() if hasattr(row["week"], "date") else row["week"]: row["n"]
              for row in items.filter(received_at__gte=start)
              .annotate(week=TruncWeek("received_at")).values("week").annotate(n=Count("id"))}
    first_monday = timezone.localdate(start) - timedelta(days=timezone.localdate(start).weekday())
    weeks = [first_monday + timedelta(weeks=i) for i in range(WEEKS + 1)]
    insights = FeatureInsights(
        feature=feature, currency=feature.organisation.currency,
        feedback_count=feature.feedback_count, customer_count=feature.customer_count,
        arr_total=feature.arr_total, unconverted_arr=feature.unconverted_arr,
        renewal_arr_90d=feature.renewal_arr_90d, at_risk_arr=feature.at_risk_arr,
        feedback_recent=feature.feedback_recent, feedback_previous=feature.feedback_previous,
        stale=feature.demand_stale,
        by_segment=_slices(customers, "segment_id", rates, segments),
        by_plan=_slices(customers, "plan", rates, {}),
        renewing_customers=renewing.count(), at_risk_customers=at_risk.count(),
        weekly=[{"week": week, "count": weekly.get(week, 0)} for week in weeks],
        verbatims=[], can_see_customers=see_customers, can_see_feedback=see_feedback)
    if see_feedback:
        links = (FeedbackLink.objects.filter(feature=feature)
                 .select_related("feedback__customer", "feedback__contact")
                 .annotate(importance_order=IMPORTANCE_ORDER)
                 .order_by(*linked_feedback_order(member))[:verbatim_limit])
        for link in links:
            item = link.feedback
            insights.verbatims.append({
                "feedback": item, "id": item.pk, "text": item.text, "title": item.title,
                "importance": link.importance, "received_at": item.received_at,
                "customer": item.customer.name if see_customers and item.customer else None,
                "arr": item.customer.arr if see_customers and item.customer else None,
                "currency": item.customer.currency if see_customers and item.customer
                else None})
    if see_customers:
        counts = dict(items.exclude(customer=None).values("customer_id")
                      .annotate(n=Count("id")).values_list("customer_id", "n"))
        renewing_ids = set(renewing.values_list("pk", flat=True))
        at_risk_ids = set(at_risk.values_list("pk", flat=True))
        rows = list(customers.select_related("segment", "owner__user")
                    .order_by("-arr", "name")[:people_limit])
        insights.customers = [{
            "id": c.pk, "name": c.name, "arr": c.arr, "currency": c.currency,
            "segment": c.segment.name if c.segment else None, "plan": c.plan,
            "lifecycle": c.lifecycle, "health_score": c.health_score,
            "renewal_date": c.renewal_date, "feedback_count": counts.get(c.pk, 0),
            "renewing": c.pk in renewing_ids, "at_risk": c.pk in at_risk_ids,
            "owner": c.owner.user.full_name if c.owner else None} for c in rows]
        contact_counts = dict(items.exclude(contact=None).values("contact_id")
                              .annotate(n=Count("id")).values_list("contact_id", "n"))
        contacts = (Contact.objects.filter(pk__in=list(contact_counts), erased_at=None)
                    .select_related("customer")[:people_limit])
        insights.contacts = sorted(({
            "id": c.pk, "name": c.name, "email": c.email, "role": c.role,
            "customer": c.customer.name if c.customer else None,
            "feedback_count": contact_counts.get(c.pk, 0)} for c in contacts),
            key=lambda row: (-row["feedback_count"], row["name"] or ""))
        csms = {}
        for c in customers.exclude(owner=None).select_related("owner__user"):
            row = csms.setdefault(c.owner_id, {"id": c.owner_id, "name": c.owner.user.full_name,
                                               "email": c.owner.user.email, "customers": 0})
            row["customers"] += 1
        insights.csms = sorted(csms.values(), key=lambda r: (-r["customers"], r["name"]))
    return insights


@dataclass
class FeatureWhy:
    """The "why this priority" page: rank, score and its drivers, and the demand behind it."""

    feature: Feature
    position: int
    pinned_reason: str | None
    breakdown: dict
    insights: FeatureInsights


def feature_why(*, member: Member, feature: Feature) -> FeatureWhy:
    """What Sales and CS read to understand a feature's priority (same permission rules as
    the insights: customer names only for members who may view customers)."""
    insights = feature_insights(member=member, feature=feature, verbatim_limit=5)
    latest = feature.rank_overrides.first() if feature.manual_rank is not None else None
    return FeatureWhy(feature=feature, position=board_position(member=member, feature=feature),
                      pinned_reason=latest.reason if latest else None,
                      breakdown=feature.score_breakdown or {}, insights=insights)
