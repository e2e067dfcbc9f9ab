"""Read queries of the feedback hub. One filter definition (``FeedbackFilters``) serves the
inbox, the API and the exports; every query goes through the permission policy."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.apps import apps
from django.db.models import Count, Min, Q, QuerySet
from django.db.models.functions import TruncWeek
from django.http import QueryDict
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _

from moulin.accounts.models import Member
from moulin.core import parsing, policy
from moulin.core.api import paginate
from moulin.core.policy import Action
from moulin.customers.models import Contact, Customer
from moulin.feedback.models import (
    Feedback,
    FeedbackEvent,
    Importance,
    Language,
    ProductArea,
    SavedView,
    Source,
    Status,
    Tag,
)
from moulin.feedback.search import apply_search

MODULE = "feedback"
SORTS = {
    "newest": ("-received_at", "-id"),
    "oldest": ("received_at", "id"),
    "arr": ("-customer_arr", "-received_at", "-id"),
}


# The filters and the sort on customers' business data: only for members who may see that data
# (policy.can_see_customer_data). For the others they are refused, never silently applied: a
# filter on ARR would tell which customers are above an amount as surely as the amount itself.
CUSTOMER_DATA_FILTERS = ("segment", "plan", "lifecycle", "arr_min", "arr_max")
CUSTOMER_DATA_SORTS = ("arr",)


# Dates outside these years cannot be shifted to UTC safely (year 1 minus an offset overflows).
DATE_YEARS = range(1900, 3000)
MAX_AMOUNT = Decimal("1e15")


@dataclass
class FeedbackFilters:
    """Every inbox filter. Empty values mean "no filter"."""

    q: str = ""
    status: list[str] = field(default_factory=list)
    source: list[str] = field(default_factory=list)
    importance: list[str] = field(default_factory=list)
    language: list[str] = field(default_factory=list)
    lifecycle: list[str] = field(default_factory=list)
    plan: list[str] = field(default_factory=list)
    segment: list[int] = field(default_factory=list)
    product_area: list[int] = field(default_factory=list)
    tag: list[int] = field(default_factory=list)
    # Triage intelligence (moulin.triage, which builds on this app): applied theme, analysis
    # outcome and sentiment, read through the reverse relations it adds to Feedback.
    theme: list[int] = field(default_factory=list)
    outcome: list[str] = field(default_factory=list)
    sentiment: list[str] = field(default_factory=list)
    customer: int | None = None
    submitted_by: int | None = None
    department: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    arr_min: Decimal | None = None
    arr_max: Decimal | None = None
    sort: str = "newest"
    errors: dict[str, str] = field(default_factory=dict)
    # The filters (and sort) dropped because the member may not see customers' business data;
    # each is also explained in ``errors``.
    refused: list[str] = field(default_factory=list)

    @classmethod
    def from_query(cls, query: QueryDict | dict, *, member: Member | None = None
                   ) -> FeedbackFilters:
        """Parse a query string leniently: a bad value is dropped and reported in ``errors``.
        With ``member``, the filters on customers' business data are refused when that member
        may not see it (see ``without_customer_data``)."""
        def many(name: str) -> list[str]:
            if isinstance(query, QueryDict):
                values = query.getlist(name)
            else:
                raw = query.get(name, [])
                values = raw if isinstance(raw, list) else [raw]
            out = []
            for value in values:
                # NUL bytes are refused by PostgreSQL in any text value: never pass them on.
                out.extend(v for v in str(value).replace("\x00", "").split(",") if v.strip())
            return [v.strip()[:100] for v in out][:50]

        def one(name: str) -> str:
            values = many(name)
            return values[0] if values else ""

        filters = cls(q=str(query.get("q", "") or "").replace("\x00", "")[:200])
        errors = filters.errors
        for name, allowed in (("status", Status.values), ("source", Source.values),
                              ("importance", Importance.values),
                              ("language", Language.values),
                              ("lifecycle", ["trial", "customer", "churned"]),
                              ("outcome", TRIAGE_OUTCOMES), ("sentiment", SENTIMENTS)):
            values = many(name)
            setattr(filters, name, [v for v in values if v in allowed])
            if len(getattr(filters, name)) != len(values):
                errors[name] = _("Unknown value; use one of: %s.") % ", ".join(allowed)
        filters.plan = many("plan")
        for name in ("segment", "product_area", "tag", "theme"):
            numbers = []
            for value in many(name):
                if (number := parsing.parse_id(value)) is not None:
                    numbers.append(number)
                else:
                    errors[name] = _("Expected ids (numbers).")
            setattr(filters, name, numbers)
        for name in ("customer", "submitted_by", "department"):
            value = one(name)
            if value:
                if (number := parsing.parse_id(value)) is not None:
                    setattr(filters, name, number)
                else:
                    errors[name] = _("Expected an id (a number).")
        for name in ("date_from", "date_to"):
            value = one(name)
            if value:
                try:
                    day = parsing.parse_date(value)
                except (ValueError, OverflowError) as exc:
                    errors[name] = str(exc)[:200]
                    continue
                if day.year in DATE_YEARS:
                    setattr(filters, name, day)
                else:
                    errors[name] = _("Expected a date between 1900 and 2999.")
        for name in ("arr_min", "arr_max"):
            value = one(name)
            if value:
                try:
                    amount = parsing.parse_decimal(value)
                except ValueError as exc:
                    errors[name] = str(exc)[:200]
                    continue
                # PostgreSQL refuses to compare with a numeric beyond its range ("1e999999").
                if amount is not None and abs(amount) < MAX_AMOUNT:
                    setattr(filters, name, amount)
                else:
                    errors[name] = _("Expected an amount below 1,000,000,000,000,000.")
        sort = one("sort")
        if sort in SORTS:
            filters.sort = sort
        elif sort:
            errors["sort"] = _("Sort by one of: %s.") % ", ".join(SORTS)
        if member is not None:
            filters = filters_for_member(member, filters)
        return filters

    def without_customer_data(self) -> FeedbackFilters:
        """A copy without the filters and the sort on customers' business data, each one named
        in ``refused`` and explained in ``errors``."""
        changes: dict[str, object] = {}
        for name in CUSTOMER_DATA_FILTERS:
            value = getattr(self, name)
            if value not in (None, []):
                changes[name] = [] if isinstance(value, list) else None
        if self.sort in CUSTOMER_DATA_SORTS:
            changes["sort"] = "newest"
        if not changes:
            return self
        message = str(policy.CUSTOMER_DATA_REFUSED)
        return replace(self, **changes, refused=[*self.refused, *changes],
                       errors={**self.errors, **dict.fromkeys(changes, message)})

    def to_query(self) -> QueryDict:
        """The filters as a query string (for links, saved views and exports)."""
        query = QueryDict(mutable=True)
        for spec in fields(self):
            if spec.name in ("errors", "refused"):
                continue
            value = getattr(self, spec.name)
            if value in (None, "", []) or (spec.name == "sort" and value == "newest"):
                continue
            if isinstance(value, list):
                query.setlist(spec.name, [str(v) for v in value])
            else:
                query[spec.name] = str(value)
        return query

    @property
    def active(self) -> bool:
        return bool(self.to_query().dict())


# Values of moulin.triage.models.Outcome and Sentiment (this app cannot import triage).
TRIAGE_OUTCOMES = ["pending", "suggested", "automatic", "unknown", "reviewed"]
SENTIMENTS = ["negative", "neutral", "positive"]


def _triage_table(model_name: str) -> QuerySet:
    """A table of the triage app, looked up by name: filtering by it needs no import."""
    return apps.get_model("triage", model_name).objects.all()


def filters_for_member(member: Member, filters: FeedbackFilters) -> FeedbackFilters:
    """``filters`` as ``member`` may use them: without the ones on customers' business data
    when the policy hides that data from them."""
    if policy.can_see_customer_data(member):
        return filters
    return filters.without_customer_data()


def feedback_list(*, member: Member, filters: FeedbackFilters) -> QuerySet[Feedback]:
    """The feedback a member may see, filtered, searched and sorted."""
    filters = filters_for_member(member, filters)  # whoever parsed them, never applied
    qs = policy.scope(Feedback.objects.all(), member, MODULE)
    if filters.status:
        qs = qs.filter(status__in=filters.status)
    if filters.source:
        qs = qs.filter(source__in=filters.source)
    if filters.importance:
        qs = qs.filter(importance__in=filters.importance)
    if filters.language:
        qs = qs.filter(language__in=filters.language)
    if filters.product_area:
        qs = qs.filter(product_area_id__in=filters.product_area)
    if filters.tag:
        qs = qs.filter(tags__id__in=filters.tag).distinct()
    if filters.theme:
        # As the taxonomy and the insights count a theme's items: a duplicate merged into
        # another item stands under the kept item's themes, not under its own.
        with_theme = _triage_table("feedbacktheme").filter(
            theme_id__in=filters.theme).values("feedback_id")
        qs = qs.filter(Q(pk__in=with_theme, merged_into__isnull=True)
                       | Q(merged_into_id__in=with_theme))
    if filters.outcome:
        analysed = _triage_table("feedbackanalysis")
        condition = Q(pk__in=analysed.filter(outcome__in=filters.outcome).values("feedback_id"))
        if "pending" in filters.outcome:  # not analysed yet counts as pending
            condition |= ~Q(pk__in=analysed.values("feedback_id"))
        qs = qs.filter(condition)
    if filters.sentiment:
        qs = qs.filter(pk__in=_triage_table("feedbackanalysis").filter(
            sentiment__in=filters.sentiment).values("feedback_id"))
    if filters.customer:
        qs = qs.filter(customer_id=filters.customer)
    if filters.submitted_by:
        qs = qs.filter(submitted_by_id=filters.submitted_by)
    if filters.department:
        qs = qs.filter(submitted_by__department_id=filters.department)
    if filters.segment:
        qs = qs.filter(customer__segment_id__in=filters.segment)
    if filters.plan:
        qs = qs.filter(customer__plan__in=filters.plan)
    if filters.lifecycle:
        qs = qs.filter(customer__lifecycle__in=filters.lifecycle)
    if filters.arr_min is not None or filters.arr_max is not None:
        # An ARR range is about customers: items without one (ARR stored as 0) never match.
        qs = qs.exclude(customer_id=None)
    if filters.arr_min is not None:
        qs = qs.filter(customer_arr__gte=filters.arr_min)
    if filters.arr_max is not None:
        qs = qs.filter(customer_arr__lte=filters.arr_max)
    zone = timezone.get_current_timezone()
    if filters.date_from:
        qs = qs.filter(received_at__gte=datetime.combine(filters.date_from, time.min, zone))
    if filters.date_to:
        qs = qs.filter(received_at__lte=datetime.combine(filters.date_to, time.max, zone))
    if filters.q:
        qs = apply_search(qs, filters.q)
    ordering = SORTS[filters.sort]
    return (qs.select_related("customer", "customer__segment", "contact", "product_area",
                              "submitted_by__user")
            .prefetch_related("tags").order_by(*ordering))


def feedback_get(*, member: Member, pk: int, action: str = Action.VIEW) -> Feedback:
    """One feedback item of the member's organisation (404 outside it, 403 without right)."""
    item = get_object_or_404(
        Feedback.objects.select_related("customer", "customer__segment", "customer__owner__user",
                                        "contact", "product_area", "submitted_by__user",
                                        "submitted_by__department")
        .prefetch_related("tags"),
        pk=pk, organisation_id=member.organisation_id)
    policy.check(member, MODULE, action, item)
    return item


def feedback_history(*, feedback: Feedback) -> QuerySet[FeedbackEvent]:
    return feedback.events.select_related("actor__user").order_by("-created_at", "-id")[:50]


def feedback_same_customer(*, member: Member, feedback: Feedback, limit: int = 10):
    if feedback.customer_id is None:
        return Feedback.objects.none()
    return (policy.scope(Feedback.objects.all(), member, MODULE)
            .filter(customer_id=feedback.customer_id).exclude(pk=feedback.pk)
            .select_related("contact").order_by("-received_at")[:limit])


def saved_view_list(*, member: Member) -> QuerySet[SavedView]:
    """The member's own views and the ones shared with the organisation."""
    return (policy.scope(SavedView.objects.all(), member, MODULE)
            .filter(Q(owner=member) | Q(shared=True)).select_related("owner__user"))


@dataclass
class InboxCounters:
    untriaged: int
    oldest_untriaged_days: int | None
    median_hours_to_triage: float | None
    per_source_per_week: list[dict]


def inbox_counters(*, member: Member, weeks: int = 8) -> InboxCounters:
    """The numbers Product Ops watch: backlog, its age, time to triage, intake per source."""
    qs = policy.scope(Feedback.objects.all(), member, MODULE)
    now = timezone.now()
    backlog = qs.filter(status=Status.NEW).aggregate(n=Count("id"), oldest=Min("received_at"))
    recent = qs.filter(triaged_at__isnull=False, triaged_at__gte=now - timedelta(days=90))
    durations = [
        (triaged - created).total_seconds() / 3600
        for created, triaged in recent.values_list("created_at", "triaged_at")[:5000]
    ]
    since = now - timedelta(weeks=weeks)
    rows = (qs.filter(received_at__gte=since).annotate(week=TruncWeek("received_at"))
            .values("week", "source").annotate(n=Count("id")).order_by("week", "source"))
    return InboxCounters(
        untriaged=backlog["n"],
        oldest_untriaged_days=(now - backlog["oldest"]).days if backlog["oldest"] else None,
        median_hours_to_triage=round(statistics.median(durations), 1) if durations else None,
        per_source_per_week=list(rows),
    )


# --- Inbox helpers: filter choices, bulk selection, saved views, readable history -------------

def product_area_list(*, member: Member) -> QuerySet[ProductArea]:
    return policy.scope(ProductArea.objects.all(), member, MODULE).order_by("name")


def tag_list(*, member: Member) -> QuerySet[Tag]:
    return policy.scope(Tag.objects.all(), member, MODULE).order_by("name")


def feedback_by_ids(*, member: Member, ids: list[int], action: str = Action.VIEW
                    ) -> list[Feedback]:
    """The items among ``ids`` the member may act on (others are silently left out)."""
    qs = policy.scope(Feedback.objects.all(), member, MODULE, action)
    return list(qs.filter(pk__in=ids).order_by("-received_at", "-id"))


def saved_view_get(*, member: Member, pk: int) -> SavedView:
    """One saved view the member can see: their own or a shared one (404 otherwise)."""
    return get_object_or_404(saved_view_list(member=member), pk=pk)


@dataclass
class HistoryEntry:
    """One line of a feedback item's history, with names instead of ids."""

    event: FeedbackEvent
    # (field, before, after) for each change; (field, value) for facts such as the source.
    changes: list[tuple[str, object, object]]
    facts: list[tuple[str, object]] = field(default_factory=list)


def feedback_history_entries(*, feedback: Feedback) -> list[HistoryEntry]:
    """The last 50 changes, newest first, with product areas and customers named. The first
    line is the item's arrival, read from the item itself (intake writes no event for it)."""
    events = list(feedback_history(feedback=feedback))
    if len(events) < 50 and not any(e.kind == "created" for e in events):
        events.append(FeedbackEvent(feedback=feedback, kind="created",
                                    actor=feedback.submitted_by,
                                    created_at=feedback.created_at,
                                    changes={"source": feedback.source}))
    area_ids, customer_ids, contact_ids = set(), set(), set()
    for event in events:
        for key, ids in (("product_area_id", area_ids), ("customer_id", customer_ids),
                         ("contact_id", contact_ids)):
            pair = event.changes.get(key) if isinstance(event.changes, dict) else None
            if isinstance(pair, list):
                ids.update(v for v in pair if isinstance(v, int))
    names = {("product_area_id", pk): name for pk, name in ProductArea.objects.filter(
        organisation_id=feedback.organisation_id, pk__in=area_ids).values_list("pk", "name")}
    names.update({("customer_id", pk): name for pk, name in Customer.objects.filter(
        organisation_id=feedback.organisation_id, pk__in=customer_ids).values_list("pk",
                                                                                   "name")})
    if contact_ids:  # an update from the source may move the item to another contact
        names.update({("contact_id", pk): name or email for pk, name, email in
                      Contact.objects.filter(organisation_id=feedback.organisation_id,
                                             pk__in=contact_ids)
                      .values_list("pk", "name", "email")})
    entries = []
    for event in events:
        changes, facts = [], []
        for key, value in (event.changes.items() if isinstance(event.changes, dict) else []):
            if isinstance(value, list) and len(value) == 2:
                before, after = (names.get((key, v), v) if isinstance(v, int) else v
                                 for v in value)
                changes.append((key, before, after))
            else:
                facts.append((key, value))
        entries.append(HistoryEntry(event=event, changes=changes, facts=facts))
    return entries


# The inbox's keyset orders (each ends with the unique id), each served by an index.
PAGE_ORDERINGS = {
    "newest": ("-received_at", "-id"),
    "oldest": ("received_at", "id"),
    "arr": ("-customer_arr", "-received_at", "-id"),
}


def _with_triage(qs: QuerySet[Feedback]) -> QuerySet[Feedback]:
    """What an inbox row shows of the triage intelligence (its themes and suggestions), loaded
    with the rows rather than two queries per row."""
    if apps.is_installed("moulin.triage"):
        qs = qs.select_related("analysis").defer("analysis__vector").prefetch_related(
            "theme_links")
    return qs


def feedback_page(*, member: Member, filters: FeedbackFilters, cursor: str | None = None,
                  size: int = 50) -> dict:
    """One page of ``feedback_list`` by keyset: ``{"items", "next_cursor"}``, the same cost on
    page 1 and page 20,000 (no COUNT, no OFFSET). Raises InvalidCursor for a forged cursor."""
    filters = filters_for_member(member, filters)
    qs = _with_triage(feedback_list(member=member, filters=filters))
    return paginate(qs, cursor=cursor, limit=size, ordering=PAGE_ORDERINGS[filters.sort])


def feedback_rows(*, member: Member, ids: list[int]) -> list[Feedback]:
    """The inbox rows of ``ids`` the member may see (after a triage action or its undo), loaded
    like a page of the inbox."""
    if not ids:
        return []
    return list(_with_triage(feedback_list(member=member, filters=FeedbackFilters()))
                .filter(pk__in=ids))


def feedback_event_list(*, member: Member, ids: list[int]) -> list[FeedbackEvent]:
    """Changes of the member's organisation among ``ids`` that can be undone."""
    return list(FeedbackEvent.objects.filter(
        pk__in=ids, kind="updated", feedback__organisation_id=member.organisation_id)
        .select_related("feedback"))


def feedback_customer(*, member: Member, pk: int) -> Customer | None:
    """The customer a feedback filter names, for its label (None outside the organisation)."""
    if not policy.can(member, MODULE, Action.VIEW):
        return None
    return Customer.objects.filter(organisation_id=member.organisation_id, pk=pk).first()
