"""The prioritisation board: one filter definition for the board, the API and the exports;
the ranked list, the squad comparison and the value-versus-effort matrix.

Everything reads the feature's denormalised columns (demand, score, manual rank) and the
per-segment demand rows: no link is touched, whatever the number of feedback links.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.db.models import Avg, Count, OuterRef, Q, QuerySet, Subquery
from django.http import QueryDict
from django.utils.translation import gettext as _

from moulin.accounts.models import Member
from moulin.core import parsing, policy
from moulin.core.api import paginate
from moulin.features.models import (
    BOARD_ORDERING,
    Feature,
    FeatureSegment,
    FeatureStatus,
    RankOverride,
    with_board_keys,
)
from moulin.features.services.demand import squad_demand

MODULE = "features"

# The filters on customers' business data: only for members who may see that data
# (policy.can_see_customer_data). For the others they are refused, never silently applied:
# the features a segment's customers asked for are that segment's data, not an aggregate.
CUSTOMER_DATA_FILTERS = ("segment",)


@dataclass
class FeatureFilters:
    """The board's filters; empty means "no filter". ``segment``: features requested by
    customers of these segments (see ``CUSTOMER_DATA_FILTERS``)."""

    q: str = ""
    squad: list[int] = field(default_factory=list)
    product_area: list[int] = field(default_factory=list)
    status: list[str] = field(default_factory=list)
    segment: list[int] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    # The filters dropped because the member may not see customers' business data; each is
    # also explained in ``errors``.
    refused: list[str] = field(default_factory=list)

    @classmethod
    def from_query(cls, query: QueryDict | dict, *, member: Member | None = None
                   ) -> FeatureFilters:
        """Parse leniently: a bad value is dropped and reported in ``errors``. With
        ``member``, the filters on customers' business data are refused when that member may
        not see it (see ``without_customer_data``)."""
        def many(name: str) -> list[str]:
            if isinstance(query, QueryDict):
                values = query.getlist(name)
            else:
                raw = query.get(name, [])
                values = raw if isinstance(raw, list | tuple) else [raw]
            out = []
            for value in values:
                out.extend(v.strip() for v in str(value).replace("\x00", "").split(",")
                           if v.strip())
            return [v[:100] for v in out][:50]

        filters = cls(q=str(query.get("q", "") or "").replace("\x00", "").strip()[:200])
        statuses = many("status")
        filters.status = [s for s in statuses if s in FeatureStatus.values]
        if len(filters.status) != len(statuses):
            filters.errors["status"] = _("Unknown status; use one of: %s.") \
                % ", ".join(FeatureStatus.values)
        for name in ("squad", "product_area", "segment"):
            ids = []
            for value in many(name):
                number = parsing.parse_id(value)
                if number is None:
                    filters.errors[name] = _("Expected ids (numbers).")
                else:
                    ids.append(number)
            setattr(filters, name, ids)
        if member is not None:
            filters = filters_for_member(member, filters)
        return filters

    def without_customer_data(self) -> FeatureFilters:
        """A copy without the filters on customers' business data, each one named in
        ``refused`` and explained in ``errors``."""
        changes = {name: [] for name in CUSTOMER_DATA_FILTERS if getattr(self, name)}
        if not changes:
            return self
        message = str(policy.CUSTOMER_DATA_REFUSED)
        return replace(self, **changes, refused=[*self.refused, *changes],
                       errors={**self.errors, **dict.fromkeys(changes, message)})

    def apply(self, qs: QuerySet[Feature]) -> QuerySet[Feature]:
        if self.q:  # the title or the description, as the search box says
            qs = qs.filter(Q(title__icontains=self.q) | Q(description__icontains=self.q))
        if self.squad:
            qs = qs.filter(squad_id__in=self.squad)
        if self.product_area:
            qs = qs.filter(product_area_id__in=self.product_area)
        if self.status:
            qs = qs.filter(status__in=self.status)
        if self.segment:
            qs = qs.filter(pk__in=FeatureSegment.objects.filter(
                segment_id__in=self.segment).values("feature_id"))
        return qs

    def as_query(self) -> dict[str, str]:
        """The filters as query-string values (for links and exports)."""
        out = {"q": self.q, "status": ",".join(self.status)}
        for name in ("squad", "product_area", "segment"):
            out[name] = ",".join(str(v) for v in getattr(self, name))
        return {k: v for k, v in out.items() if v}


def filters_for_member(member: Member, filters: FeatureFilters) -> FeatureFilters:
    """``filters`` as ``member`` may use them: without the ones on customers' business data
    when the policy hides that data from them."""
    if policy.can_see_customer_data(member):
        return filters
    return filters.without_customer_data()


def filtered_features(*, member: Member, filters: FeatureFilters | None
                      ) -> QuerySet[Feature]:
    """The features ``member`` may see, with the filters they may use (whoever parsed them:
    a filter on customers' business data is never applied for a member who may not see it)."""
    qs = policy.scope(Feature.objects.all(), member, MODULE)
    if filters is not None:
        qs = filters_for_member(member, filters).apply(qs)
    return qs


def _ranked(member: Member, filters: FeatureFilters | None) -> QuerySet[Feature]:
    """The filtered features with the two sort keys (no joins: cheap to sort)."""
    return with_board_keys(filtered_features(member=member, filters=filters))


def _with_rows(qs: QuerySet[Feature]) -> QuerySet[Feature]:
    latest_reason = (RankOverride.objects.filter(feature=OuterRef("pk"))
                     .order_by("-created_at", "-id").values("reason")[:1])
    return (qs.select_related("squad", "product_area", "owner__user")
            .annotate(override_reason=Subquery(latest_reason)))


def board_list(*, member: Member, filters: FeatureFilters | None = None) -> QuerySet[Feature]:
    """The ranked board: pinned features first (manual rank), then score, highest first.
    Each row carries ``override_reason`` (the latest manual move's reason, if pinned)."""
    return _with_rows(_ranked(member, filters)).order_by(*BOARD_ORDERING)


def _before(row: Feature) -> Q:
    """Rows ranked before ``row`` in BOARD_ORDERING."""
    return (Q(pin_order__lt=row.pin_order)
            | Q(pin_order=row.pin_order, score_order__gt=row.score_order)
            | Q(pin_order=row.pin_order, score_order=row.score_order, id__lt=row.pk))


def board_page(*, member: Member, filters: FeatureFilters | None = None,
               cursor: str | None = None, limit: int = 50) -> dict:
    """One page of the board (keyset pagination): ``{"items", "next_cursor",
    "start_position"}``; ``start_position`` is the first item's rank (1-based) in this
    filtered list, and each item gets ``position``.

    The page's ids are ranked on the sort keys alone (a narrow sort over thousands of
    features), then only those rows are read in full."""
    ranked = _ranked(member, filters)
    page = paginate(ranked.only("id", "manual_rank", "score"), cursor=cursor, limit=limit,
                    ordering=BOARD_ORDERING)
    keys = page["items"]
    rows = {row.pk: row for row in _with_rows(ranked).filter(pk__in=[k.pk for k in keys])}
    page["items"] = [rows[k.pk] for k in keys if k.pk in rows]
    start = ranked.filter(_before(keys[0])).count() + 1 if cursor and keys else 1
    for offset, row in enumerate(page["items"]):
        row.position = start + offset
    page["start_position"] = start
    return page


def board_position(*, member: Member, feature: Feature,
                   filters: FeatureFilters | None = None) -> int:
    """The feature's rank (1-based) on the board, filtered or not."""
    qs = board_list(member=member, filters=filters)
    row = qs.filter(pk=feature.pk).first()
    if row is None:
        return 0
    return qs.filter(_before(row)).count() + 1


@dataclass
class SquadRow:
    squad_id: int | None
    name: str
    features: int
    scored: int
    mean_score: Decimal | None
    median_score: Decimal | None
    arr_total: Decimal  # requesting customers' ARR, each customer once per squad
    customers: int  # distinct requesting customers of the squad's features
    by_status: dict[str, int]


def squad_comparison(*, member: Member, filters: FeatureFilters | None = None) -> list[SquadRow]:
    """Per squad: number of features, mean and median standard score, requested ARR."""
    qs = filtered_features(member=member, filters=filters)
    totals = {row["squad_id"]: row for row in qs.values("squad_id", "squad__name").annotate(
        n=Count("id"), scored=Count("score"), mean=Avg("score"))}
    demand = squad_demand(organisation_id=member.organisation_id, features=qs)
    statuses: dict[int | None, dict[str, int]] = {}
    for row in qs.values("squad_id", "status").annotate(n=Count("id")):
        statuses.setdefault(row["squad_id"], {})[row["status"]] = row["n"]
    scores: dict[int | None, list[Decimal]] = {}
    for squad_id, score in qs.exclude(score=None).values_list("squad_id", "score"):
        scores.setdefault(squad_id, []).append(score)
    rows = []
    for squad_id, row in totals.items():
        values = scores.get(squad_id, [])
        rows.append(SquadRow(
            squad_id=squad_id, name=row["squad__name"] or _("No squad"), features=row["n"],
            scored=row["scored"],
            mean_score=Decimal(str(row["mean"])).quantize(Decimal("0.01"))
            if row["mean"] is not None else None,
            median_score=Decimal(str(statistics.median(values))).quantize(Decimal("0.01"))
            if values else None,
            arr_total=demand.get(squad_id, (0, Decimal("0.00")))[1],
            customers=demand.get(squad_id, (0, Decimal(0)))[0],
            by_status=statuses.get(squad_id, {})))
    return sorted(rows, key=lambda r: (r.squad_id is None, r.name.lower()))


@dataclass
class MatrixPoint:
    id: int
    title: str
    squad: str
    status: str
    effort: Decimal
    value: Decimal  # requesting ARR in the organisation's currency
    score: Decimal | None
    customer_count: int


@dataclass
class ValueEffortMatrix:
    points: list[MatrixPoint]
    median_effort: Decimal | None
    median_value: Decimal | None
    without_effort: int  # features left out: no effort estimate yet


def value_effort_points(*, member: Member, filters: FeatureFilters | None = None,
                        limit: int = 1000) -> ValueEffortMatrix:
    """Features with an effort estimate, as (effort, value = requesting ARR) points; the
    medians split the chart into quick wins, big bets, fill-ins and money pits."""
    qs = filtered_features(member=member, filters=filters)
    without = qs.filter(effort=None).count()
    rows = list(qs.exclude(effort=None).select_related("squad")
                .order_by("-arr_total", "id")[:limit])
    points = [MatrixPoint(f.pk, f.title, f.squad.name if f.squad else "", f.status, f.effort,
                          f.arr_total, f.score, f.customer_count) for f in rows]
    return ValueEffortMatrix(
        points=points,
        median_effort=statistics.median([p.effort for p in points]) if points else None,
        median_value=statistics.median([p.value for p in points]) if points else None,
        without_effort=without)


def driver_maxima(*, member: Member) -> dict[str, float]:
    """The highest absolute value of each standard driver over the organisation's board (what
    the "why" page compares a feature's drivers with)."""
    maxima: dict[str, float] = {}
    qs = policy.scope(Feature.objects.all(), member, MODULE).exclude(score_breakdown={})
    for breakdown in qs.values_list("score_breakdown", flat=True).iterator(chunk_size=500):
        for driver in (breakdown or {}).get("drivers") or []:
            value = driver.get("value")
            if value is not None:
                key = driver.get("key")
                maxima[key] = max(maxima.get(key, 0.0), abs(float(value)))
    return maxima
