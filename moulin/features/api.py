"""The features API: the feature tree, feedback links, demand insights, scoring frameworks,
the prioritisation board (with manual moves), currency rates and exports."""

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from moulin.accounts.audit import Origin
from moulin.accounts.models import Member, Squad
from moulin.core import policy
from moulin.core.api import (
    CUSTOMER_DATA_FILTER,
    ObjectId,
    page_schema,
    paginate,
    refuse_bad_filters,
    responses,
)
from moulin.core.errors import DomainError
from moulin.core.policy import Action
from moulin.features import selectors, services
from moulin.features.export import FORMATS, XLSX_TYPE, board_export
from moulin.features.models import CurrencyRate, Feature, FeedbackLink, ScoringFramework
from moulin.features.selectors.link_sources import cluster_get
from moulin.features.services.frameworks import compiled
from moulin.feedback import selectors as feedback_selectors
from moulin.feedback.models import Feedback, ProductArea
from moulin.triage import selectors as triage_selectors

router = Router(tags=["Features"])
MODULE = "features"


def _origin(request: HttpRequest) -> Origin:
    return Origin.from_request(request, via="api")


# --- Schemas ------------------------------------------------------------------------------------

class Ref(Schema):
    id: int
    name: str


class FeatureOut(Schema):
    id: int
    title: str
    description: str
    status: str
    product_area: Ref | None
    parent_id: int | None
    squad: Ref | None
    owner: Ref | None
    target_quarter: str
    effort: Decimal | None
    delivery_url: str
    score_inputs: dict[str, Any]
    feedback_count: int
    customer_count: int
    arr_total: Decimal
    currency: str
    unconverted_arr: dict[str, str]
    renewal_arr_90d: Decimal
    at_risk_arr: Decimal
    trend: int
    score: Decimal | None
    score_error: str
    score_breakdown: dict[str, Any]
    manual_rank: int | None
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_product_area(obj: Feature) -> dict | None:
        return {"id": obj.product_area_id, "name": obj.product_area.name} \
            if obj.product_area_id else None

    @staticmethod
    def resolve_squad(obj: Feature) -> dict | None:
        return {"id": obj.squad_id, "name": obj.squad.name} if obj.squad_id else None

    @staticmethod
    def resolve_owner(obj: Feature) -> dict | None:
        return {"id": obj.owner_id, "name": obj.owner.user.full_name} if obj.owner_id else None

    @staticmethod
    def resolve_currency(obj: Feature) -> str:
        return obj.organisation.currency


FeaturePage = page_schema(FeatureOut)


class FeatureIn(Schema):
    title: str = Field(..., min_length=1, max_length=200)
    description: str = ""
    status: str = Field("idea", description="idea, discovery, planned, in_progress, shipped, "
                                            "released or wont_do")
    product_area_id: ObjectId | None = None
    parent_id: ObjectId | None = Field(None, description="The parent feature (a sub-feature).")
    squad_id: ObjectId | None = None
    owner_id: ObjectId | None = None
    target_quarter: str = Field("", description="YYYY-QN, e.g. 2027-Q1")
    effort: Decimal | None = Field(None, ge=0, le=999999,
                                   description="Person-weeks (needs the Change right on "
                                               "features, as scoring inputs do)")
    delivery_url: str = Field("", description="Jira, Linear or GitHub issue URL")
    score_inputs: dict[str, float | int | None] = Field(
        default_factory=dict, description="Hand-entered scoring inputs by driver key, e.g. "
                                          '{"impact": 2, "confidence": 80}; only members '
                                          "with the Change right on features may give them")


class FeaturePatch(Schema):
    title: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = None
    status: str | None = None
    product_area_id: ObjectId | None = None
    parent_id: ObjectId | None = None
    squad_id: ObjectId | None = None
    owner_id: ObjectId | None = None
    target_quarter: str | None = None
    effort: Decimal | None = Field(None, ge=0, le=999999)
    delivery_url: str | None = None
    score_inputs: dict[str, float | int | None] | None = None


class FeatureQuery(Schema):
    q: str = ""
    status: str = Field("", description="Comma-separated statuses")
    squad: str = Field("", description="Comma-separated squad ids")
    product_area: str = Field("", description="Comma-separated product area ids")
    segment: str = Field("", description="Comma-separated segment ids: features requested by "
                                         "customers of these segments. "
                                         + CUSTOMER_DATA_FILTER)


def _filters(request: HttpRequest, query: FeatureQuery) -> selectors.FeatureFilters:
    """The board's filters; a filter on customers' business data the member may not see is
    refused (403, naming it), never silently dropped: the answer would not be what was asked."""
    filters = selectors.FeatureFilters.from_query(
        {k: v for k, v in query.dict().items() if v not in (None, "")}, member=request.member)
    refuse_bad_filters(filters)
    return filters


def _related(member: Member, payload: dict) -> dict:
    """Turn ``*_id`` fields into objects of the member's organisation (422 when unknown)."""
    models = {"product_area_id": ("product_area", ProductArea),
              "parent_id": ("parent", Feature), "squad_id": ("squad", Squad),
              "owner_id": ("owner", Member)}
    missing = {"product_area": _("No such product area in your organisation."),
               "parent": _("No such parent feature in your organisation."),
               "squad": _("No such squad in your organisation."),
               "owner": _("No such owner in your organisation.")}
    out = {}
    for key, value in payload.items():
        if key in models:
            name, model = models[key]
            if value is None:
                out[name] = None
                continue
            obj = model.objects.filter(organisation_id=member.organisation_id, pk=value).first()
            if obj is None:
                raise DomainError(missing[name], field=key)
            out[name] = obj
        else:
            out[key] = value
    return out


def _feature(request: HttpRequest, feature_id: int, action: str = Action.VIEW) -> Feature:
    return selectors.feature_get(member=request.member, pk=feature_id, action=action)


# --- Features -----------------------------------------------------------------------------------

@router.get("/features", response=responses({200: FeaturePage}),
            summary="List features (newest first) with the board's filters")
@policy.requires(MODULE, Action.VIEW)
def list_features(request: HttpRequest, query: Query[FeatureQuery], cursor: str | None = None,
                  limit: int = Query(50, ge=1, le=200)):
    filters = _filters(request, query)
    features = selectors.feature_list(member=request.member, filters=filters)
    return paginate(features.select_related("organisation"), cursor=cursor, limit=limit,
                    ordering=("-id",))


@router.post("/features", response=responses({201: FeatureOut}), summary="Create a feature")
@policy.requires(MODULE, Action.CREATE)
def create_feature(request: HttpRequest, payload: FeatureIn):
    values = _related(request.member, payload.dict())
    feature = services.feature_create(actor=request.member, **values)
    return Status(201, _feature(request, feature.pk))


@router.get("/features/{feature_id}", response=responses({200: FeatureOut}),
            summary="One feature, with its stored demand and score breakdown")
@policy.requires(MODULE, Action.VIEW)
def get_feature(request: HttpRequest, feature_id: ObjectId):
    return _feature(request, feature_id)


@router.patch("/features/{feature_id}", response=responses({200: FeatureOut}),
              summary="Change a feature (only the fields sent)")
@policy.requires(MODULE, Action.CHANGE)
def update_feature(request: HttpRequest, feature_id: ObjectId, payload: FeaturePatch):
    feature = _feature(request, feature_id, Action.CHANGE)
    values = _related(request.member, payload.dict(exclude_unset=True))
    services.feature_update(actor=request.member, feature=feature, **values)
    return _feature(request, feature_id)


@router.delete("/features/{feature_id}", response=responses({204: None}),
               summary="Delete a feature (refused while it has sub-features)")
@policy.requires(MODULE, Action.DELETE)
def delete_feature(request: HttpRequest, feature_id: ObjectId):
    feature = _feature(request, feature_id, Action.DELETE)
    services.feature_delete(actor=request.member, feature=feature, origin=_origin(request))
    return Status(204, None)


class EventOut(Schema):
    kind: str
    changes: dict[str, Any]
    actor: str | None
    created_at: datetime

    @staticmethod
    def resolve_actor(obj) -> str | None:
        return obj.actor.user.full_name if obj.actor_id else None


class SnapshotOut(Schema):
    score: Decimal | None
    framework: str | None
    breakdown: dict[str, Any]
    computed_at: datetime

    @staticmethod
    def resolve_framework(obj) -> str | None:
        return obj.framework.name if obj.framework_id else None


class OverrideOut(Schema):
    from_position: int | None
    to_position: int
    reason: str
    actor: str | None
    created_at: datetime

    @staticmethod
    def resolve_actor(obj) -> str | None:
        return obj.actor.user.full_name if obj.actor_id else None


class HistoryOut(Schema):
    events: list[EventOut]
    scores: list[SnapshotOut]
    overrides: list[OverrideOut]


@router.get("/features/{feature_id}/history", response=responses({200: HistoryOut}),
            summary="A feature's changes, score history and manual moves (newest first)")
@policy.requires(MODULE, Action.VIEW)
def feature_history(request: HttpRequest, feature_id: ObjectId):
    return selectors.feature_history(member=request.member, feature=_feature(request,
                                                                              feature_id))


# --- Links --------------------------------------------------------------------------------------

class LinkOut(Schema):
    feedback_id: int
    text: str
    importance: str
    origin: str
    customer: str | None
    received_at: datetime
    created_at: datetime

    @staticmethod
    def resolve_text(obj: FeedbackLink) -> str:
        return obj.feedback.text

    @staticmethod
    def resolve_received_at(obj: FeedbackLink) -> datetime:
        return obj.feedback.received_at

    @staticmethod
    def resolve_customer(obj: FeedbackLink, context) -> str | None:
        member = context["request"].member
        if obj.feedback.customer_id and policy.can_see_customer_data(member):
            return obj.feedback.customer.name
        return None


LinkPage = page_schema(LinkOut)


class LinkIn(Schema):
    feedback_ids: list[ObjectId] = Field(..., min_length=1, max_length=1000)
    importance: str | None = Field(None, description="nice_to_have, important or critical; "
                                                     "defaults to each item's own")
    origin: str = Field("manual", description="manual, suggestion or bulk")


class BulkLinkIn(Schema):
    theme_id: ObjectId | None = Field(None, description="Link every item of this theme")
    cluster_id: ObjectId | None = Field(None, description="…or of this emerging cluster")
    importance: str | None = None


class LinkResultOut(Schema):
    created: int
    updated: int
    unchanged: int
    feature: FeatureOut


@router.get("/features/{feature_id}/links", response=responses({200: LinkPage}),
            summary="The feedback linked to a feature (most important first)")
@policy.requires(MODULE, Action.VIEW)
def list_links(request: HttpRequest, feature_id: ObjectId, cursor: str | None = None,
               limit: int = Query(50, ge=1, le=200)):
    feature = _feature(request, feature_id)
    links = selectors.feature_links(member=request.member, feature=feature)
    return paginate(links, cursor=cursor, limit=limit, ordering=("-id",))


@router.post("/features/{feature_id}/links", response=responses({200: LinkResultOut}),
             summary="Link feedback items to a feature (idempotent)")
@policy.requires(MODULE, Action.CREATE)
def link_feedback(request: HttpRequest, feature_id: ObjectId, payload: LinkIn):
    feature = _feature(request, feature_id, Action.CREATE)
    # The feedback the member may see, as on the feature page: linking needs both rights.
    policy.check(request.member, "feedback", Action.VIEW)
    items = feedback_selectors.feedback_by_ids(member=request.member,
                                               ids=list(payload.feedback_ids))
    missing = set(payload.feedback_ids) - {item.pk for item in items}
    if missing:
        raise DomainError(_("No feedback %d in your organisation, or you may not see it.")
                          % sorted(missing)[0], field="feedback_ids")
    result = services.feature_link_feedback(actor=request.member, feature=feature,
                                            feedback_items=items, importance=payload.importance,
                                            origin=payload.origin)
    return {"created": result.created, "updated": result.updated,
            "unchanged": result.unchanged, "feature": _feature(request, feature_id)}


@router.post("/features/{feature_id}/links/bulk", response=responses({200: LinkResultOut}),
             summary="Link a whole theme or emerging cluster to a feature")
@policy.requires(MODULE, Action.CREATE)
def bulk_link(request: HttpRequest, feature_id: ObjectId, payload: BulkLinkIn):
    feature = _feature(request, feature_id, Action.CREATE)
    if (payload.theme_id is None) == (payload.cluster_id is None):
        raise DomainError(_("Send either theme_id or cluster_id."), field="theme_id")
    if payload.theme_id is not None:
        theme = triage_selectors.theme_get(member=request.member, pk=payload.theme_id)
        result = services.feature_link_theme(actor=request.member, feature=feature,
                                             theme=theme, importance=payload.importance)
    else:
        cluster = cluster_get(member=request.member, pk=payload.cluster_id)
        result = services.feature_link_cluster(actor=request.member, feature=feature,
                                               cluster=cluster, importance=payload.importance)
    return {"created": result.created, "updated": result.updated,
            "unchanged": result.unchanged, "feature": _feature(request, feature_id)}


@router.delete("/features/{feature_id}/links/{feedback_id}", response=responses({204: None}),
               summary="Unlink a feedback item from a feature (idempotent)")
@policy.requires(MODULE, Action.CREATE)
def unlink_feedback(request: HttpRequest, feature_id: ObjectId, feedback_id: ObjectId):
    feature = _feature(request, feature_id, Action.CREATE)
    item = get_object_or_404(Feedback, pk=feedback_id,
                             organisation_id=request.member.organisation_id)
    services.feature_unlink_feedback(actor=request.member, feature=feature,
                                     feedback_items=[item])
    return Status(204, None)


class FeatureSuggestionOut(Schema):
    feature_id: int
    title: str
    status: str
    similarity: float
    reason: str


@router.get("/feedback/{feedback_id}/feature-suggestions",
            response=responses({200: list[FeatureSuggestionOut]}),
            summary="The features a feedback item most likely asks for")
@policy.requires(MODULE, Action.VIEW)
def feature_suggestions(request: HttpRequest, feedback_id: ObjectId,
                        limit: int = Query(5, ge=1, le=20)):
    item = get_object_or_404(policy.scope(Feedback.objects.all(), request.member, "feedback"),
                             pk=feedback_id)
    found = selectors.feedback_feature_suggestions(member=request.member, feedback=item,
                                                   limit=limit)
    return [{"feature_id": s.feature.pk, "title": s.feature.title, "status": s.feature.status,
             "similarity": s.similarity, "reason": s.reason} for s in found]


# --- Insights -----------------------------------------------------------------------------------

class SliceOut(Schema):
    key: str | None
    label: str
    customer_count: int
    arr_total: Decimal
    unconverted: dict[str, Decimal]

    @staticmethod
    def resolve_key(obj) -> str | None:
        return None if obj.key in (None, "") else str(obj.key)


class WeekOut(Schema):
    week: date
    count: int


class VerbatimOut(Schema):
    id: int
    title: str
    text: str
    importance: str
    received_at: datetime
    customer: str | None
    arr: Decimal | None
    currency: str | None


class CustomerAskOut(Schema):
    id: int
    name: str
    arr: Decimal | None
    currency: str
    segment: str | None
    plan: str
    lifecycle: str
    health_score: int | None
    renewal_date: date | None
    feedback_count: int
    renewing: bool
    at_risk: bool
    owner: str | None


class ContactAskOut(Schema):
    id: int
    name: str
    email: str | None
    role: str
    customer: str | None
    feedback_count: int


class CsmOut(Schema):
    id: int
    name: str
    email: str
    customers: int


class FeatureInsightsOut(Schema):
    feature_id: int
    currency: str
    feedback_count: int
    customer_count: int
    arr_total: Decimal
    unconverted_arr: dict[str, str] = Field(
        ..., description="ARR of customers whose currency has no rate, per currency (never "
                         "added to arr_total)")
    renewal_arr_90d: Decimal
    at_risk_arr: Decimal
    renewing_customers: int
    at_risk_customers: int
    feedback_recent: int
    feedback_previous: int
    trend: int
    by_segment: list[SliceOut]
    by_plan: list[SliceOut]
    weekly: list[WeekOut]
    verbatims: list[VerbatimOut]
    customers: list[CustomerAskOut] | None = Field(
        None, description="Who asked; null for members who may not view customers")
    contacts: list[ContactAskOut] | None = None
    csms: list[CsmOut] | None = None
    score: Decimal | None
    score_error: str
    score_breakdown: dict[str, Any]
    position: int


@router.get("/features/{feature_id}/insights", response=responses({200: FeatureInsightsOut}),
            summary="The business demand behind a feature, and why it ranks where it does")
@policy.requires(MODULE, Action.VIEW)
def feature_insights(request: HttpRequest, feature_id: ObjectId):
    services.demand_refresh_stale(organisation_id=request.member.organisation_id)
    feature = _feature(request, feature_id)
    why = selectors.feature_why(member=request.member, feature=feature)
    insights = why.insights
    return {
        "feature_id": feature.pk, "currency": insights.currency,
        "feedback_count": insights.feedback_count, "customer_count": insights.customer_count,
        "arr_total": insights.arr_total, "unconverted_arr": insights.unconverted_arr,
        "renewal_arr_90d": insights.renewal_arr_90d, "at_risk_arr": insights.at_risk_arr,
        "renewing_customers": insights.renewing_customers,
        "at_risk_customers": insights.at_risk_customers,
        "feedback_recent": insights.feedback_recent,
        "feedback_previous": insights.feedback_previous, "trend": insights.trend,
        "by_segment": insights.by_segment, "by_plan": insights.by_plan,
        "weekly": insights.weekly, "verbatims": insights.verbatims,
        "customers": insights.customers, "contacts": insights.contacts, "csms": insights.csms,
        "score": feature.score, "score_error": feature.score_error,
        "score_breakdown": feature.score_breakdown, "position": why.position}


# --- Board --------------------------------------------------------------------------------------

class BoardItemOut(FeatureOut):
    position: int = Field(..., description="Place in this (possibly filtered) list, from 1")
    rank: int = Field(..., description="Place on the organisation's whole board, from 1 (what "
                                       "the board shows and a move's to_position refers to)")
    override_reason: str | None


class BoardPageOut(Schema):
    items: list[BoardItemOut]
    next_cursor: str | None
    start_position: int


@router.get("/board", response=responses({200: BoardPageOut}),
            summary="The prioritisation board: pinned features first, then by standard score")
@policy.requires(MODULE, Action.VIEW)
def board(request: HttpRequest, query: Query[FeatureQuery], cursor: str | None = None,
          limit: int = Query(50, ge=1, le=200)):
    filters = _filters(request, query)
    services.demand_refresh_stale(organisation_id=request.member.organisation_id)
    page = selectors.board_page(member=request.member, filters=filters, cursor=cursor,
                                limit=limit)
    ranks = services.board_ranks(request.member.organisation_id)
    for item in page["items"]:
        item.organisation = request.member.organisation
        item.rank = ranks.get(item.pk, item.position)
    return page


class MoveIn(Schema):
    to_position: int = Field(..., ge=1, le=services.MAX_PINNED)
    reason: str = Field(..., max_length=500, description="Why; shown on the board")


class MoveOut(Schema):
    feature_id: int
    from_position: int | None
    to_position: int
    reason: str


@router.post("/features/{feature_id}/rank", response=responses({200: MoveOut}),
             summary="Move a feature on the board by hand (the reason is required)")
@policy.requires(MODULE, Action.CHANGE)
def move_feature(request: HttpRequest, feature_id: ObjectId, payload: MoveIn):
    feature = _feature(request, feature_id, Action.CHANGE)
    override = services.feature_move(actor=request.member, feature=feature,
                                     to_position=payload.to_position, reason=payload.reason)
    return {"feature_id": feature.pk, "from_position": override.from_position,
            "to_position": override.to_position, "reason": override.reason}


@router.delete("/features/{feature_id}/rank", response=responses({204: None}),
               summary="Give a feature back to its score (remove its manual position)")
@policy.requires(MODULE, Action.CHANGE)
def clear_rank(request: HttpRequest, feature_id: ObjectId):
    feature = _feature(request, feature_id, Action.CHANGE)
    services.feature_rank_clear(actor=request.member, feature=feature)
    return Status(204, None)


class SquadComparisonOut(Schema):
    squad_id: int | None
    name: str
    features: int
    scored: int
    mean_score: Decimal | None
    median_score: Decimal | None
    arr_total: Decimal
    customers: int
    by_status: dict[str, int]


@router.get("/board/squads", response=responses({200: list[SquadComparisonOut]}),
            summary="Compare squads: features, mean and median standard score, requested ARR")
@policy.requires(MODULE, Action.VIEW)
def squad_comparison(request: HttpRequest, query: Query[FeatureQuery]):
    filters = _filters(request, query)
    return selectors.squad_comparison(member=request.member, filters=filters)


class PointOut(Schema):
    id: int
    title: str
    squad: str
    status: str
    effort: Decimal
    value: Decimal
    score: Decimal | None
    customer_count: int


class MatrixOut(Schema):
    points: list[PointOut]
    median_effort: Decimal | None
    median_value: Decimal | None
    without_effort: int


@router.get("/board/matrix", response=responses({200: MatrixOut}),
            summary="Value (requesting ARR) versus effort, one point per feature")
@policy.requires(MODULE, Action.VIEW)
def value_effort(request: HttpRequest, query: Query[FeatureQuery]):
    filters = _filters(request, query)
    return selectors.value_effort_points(member=request.member, filters=filters)


FILE_RESPONSES = {"200": {"description": "The ranked list as a file", "content": {
    "text/csv": {"schema": {"type": "string"}},
    XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}}}}}


@router.get("/board/export", response=responses({}), openapi_extra={"responses": FILE_RESPONSES},
            summary="Export the ranked list (same filters) as CSV or XLSX")
@policy.requires(MODULE, Action.EXPORT)
def export_board(request: HttpRequest, query: Query[FeatureQuery],
                 format: str = Query("csv", pattern="^(csv|xlsx)$")):
    if format not in FORMATS:
        raise DomainError(_("The format is csv or xlsx."), field="format")
    return board_export(member=request.member, filters=_filters(request, query), fmt=format,
                        origin=_origin(request))


# --- Scoring frameworks -------------------------------------------------------------------------

class DriverIn(Schema):
    key: str = Field(..., max_length=40)
    label: str = Field("", max_length=100)
    source: str = Field("manual", description="manual, or computed: arr_total, customer_count, "
                                              "feedback_count, trend, renewal_arr_90d, "
                                              "at_risk_arr, effort")
    weight: float = 1
    default: float | None = None
    fallback: str | None = None


class FrameworkOut(Schema):
    id: int
    kind: str
    name: str
    drivers: list[dict[str, Any]]
    formula: str
    is_standard: bool

    @staticmethod
    def resolve_drivers(obj: ScoringFramework) -> list[dict]:
        return compiled(obj).drivers if obj.kind != "custom" \
            else obj.drivers

    @staticmethod
    def resolve_formula(obj: ScoringFramework) -> str:
        return compiled(obj).formula.source if obj.kind != "custom" \
            else obj.formula


FrameworkPage = page_schema(FrameworkOut)


class FrameworkIn(Schema):
    kind: str = Field(..., description="rice, ice, wsjf, value_effort or custom")
    name: str = Field(..., min_length=1, max_length=100)
    drivers: list[DriverIn] = Field(default_factory=list, max_length=20)
    formula: str = Field("", max_length=500, description="Custom only: driver names, numbers, "
                                                         "+ - * / **, (), min max log sqrt abs")
    make_standard: bool = False


class FrameworkPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=100)
    drivers: list[DriverIn] | None = Field(None, max_length=20)
    formula: str | None = Field(None, max_length=500)


class FrameworkCheckIn(Schema):
    kind: str
    drivers: list[DriverIn] = Field(default_factory=list, max_length=20)
    formula: str = Field("", max_length=500)


class FrameworkCheckOut(Schema):
    ok: bool
    message: str
    position: int | None
    field: str | None
    scored: int
    failing: int
    examples: list[dict[str, str]]


def _drivers(items: list[DriverIn] | None) -> list[dict] | None:
    if items is None:
        return None
    return [item.dict(exclude_none=True) for item in items]


@router.get("/frameworks", response=responses({200: FrameworkPage}),
            summary="The organisation's scoring frameworks (the standard first)")
@policy.requires(MODULE, Action.VIEW)
def list_frameworks(request: HttpRequest, cursor: str | None = None,
                    limit: int = Query(50, ge=1, le=200)):
    services.framework_standard(organisation_id=request.member.organisation_id)
    return paginate(selectors.framework_list(member=request.member), cursor=cursor,
                    limit=limit, ordering=("id",))


@router.post("/frameworks", response=responses({201: FrameworkOut}),
             summary="Create a scoring framework (custom formulas are checked first)")
@policy.requires(MODULE, Action.CHANGE)
def create_framework(request: HttpRequest, payload: FrameworkIn):
    framework = services.framework_create(
        actor=request.member, kind=payload.kind, name=payload.name,
        drivers=_drivers(payload.drivers), formula=payload.formula,
        make_standard=payload.make_standard, origin=_origin(request))
    return Status(201, framework)


@router.post("/frameworks/validate", response=responses({200: FrameworkCheckOut}),
             summary="Check a formula without saving it; preview it on every feature")
@policy.requires(MODULE, Action.VIEW)
def validate_framework(request: HttpRequest, payload: FrameworkCheckIn):
    return services.framework_check(organisation_id=request.member.organisation_id,
                                    kind=payload.kind, drivers=_drivers(payload.drivers),
                                    formula=payload.formula)


@router.get("/frameworks/{framework_id}", response=responses({200: FrameworkOut}),
            summary="One scoring framework")
@policy.requires(MODULE, Action.VIEW)
def get_framework(request: HttpRequest, framework_id: ObjectId):
    return selectors.framework_get(member=request.member, pk=framework_id)


@router.patch("/frameworks/{framework_id}", response=responses({200: FrameworkOut}),
              summary="Rename a framework, or change a custom one's drivers and formula")
@policy.requires(MODULE, Action.CHANGE)
def update_framework(request: HttpRequest, framework_id: ObjectId, payload: FrameworkPatch):
    framework = selectors.framework_get(member=request.member, pk=framework_id,
                                        action=Action.CHANGE)
    sent = payload.dict(exclude_unset=True)
    return services.framework_update(
        actor=request.member, framework=framework, name=sent.get("name"),
        drivers=_drivers(payload.drivers) if "drivers" in sent else None,
        formula=sent.get("formula"), origin=_origin(request))


@router.post("/frameworks/{framework_id}/standard", response=responses({200: FrameworkOut}),
             summary="Make this framework the organisation's standard (rescores everything)")
@policy.requires(MODULE, Action.CHANGE)
def set_standard(request: HttpRequest, framework_id: ObjectId):
    framework = selectors.framework_get(member=request.member, pk=framework_id,
                                        action=Action.CHANGE)
    return services.framework_set_standard(actor=request.member, framework=framework,
                                           origin=_origin(request))


@router.delete("/frameworks/{framework_id}", response=responses({204: None}),
               summary="Delete a framework (not the standard)")
@policy.requires(MODULE, Action.DELETE)
def delete_framework(request: HttpRequest, framework_id: ObjectId):
    framework = selectors.framework_get(member=request.member, pk=framework_id,
                                        action=Action.DELETE)
    services.framework_delete(actor=request.member, framework=framework,
                              origin=_origin(request))
    return Status(204, None)


# --- Currency rates -----------------------------------------------------------------------------

class RateOut(Schema):
    currency: str
    rate: Decimal


RatePage = page_schema(RateOut)


class RateIn(Schema):
    currency: str = Field(..., min_length=3, max_length=3, description="ISO 4217, e.g. USD")
    rate: Decimal = Field(..., gt=0, le=99999999,
                          description="Units of the reporting currency per unit")


@router.get("/currency-rates", response=responses({200: RatePage}),
            summary="Currency rates used to convert requesting ARR")
@policy.requires(MODULE, Action.VIEW)
def list_rates(request: HttpRequest, cursor: str | None = None,
               limit: int = Query(50, ge=1, le=200)):
    return paginate(selectors.currency_rate_list(member=request.member), cursor=cursor,
                    limit=limit, ordering=("id",))


@router.put("/currency-rates", response=responses({200: RateOut}),
            summary="Set a currency's rate (recomputes every feature's ARR)")
@policy.requires(MODULE, Action.CHANGE)
def set_rate(request: HttpRequest, payload: RateIn):
    return services.currency_rate_set(actor=request.member, currency=payload.currency,
                                      rate=payload.rate, origin=_origin(request))


@router.delete("/currency-rates/{currency}", response=responses({204: None}),
               summary="Remove a currency's rate (its customers' ARR is then reported apart)")
@policy.requires(MODULE, Action.CHANGE)
def delete_rate(request: HttpRequest, currency: str):
    rate = get_object_or_404(CurrencyRate, organisation_id=request.member.organisation_id,
                             currency=currency.strip().upper()[:3])
    services.currency_rate_delete(actor=request.member, rate=rate, origin=_origin(request))
    return Status(204, None)
