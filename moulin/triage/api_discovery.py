"""The triage API, discovery side: similar feedback and merging duplicates, emerging themes
(list, run, convert, dismiss) and the insights figures. Same services as the pages."""

from datetime import datetime
from decimal import Decimal

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from moulin.accounts.audit import Origin
from moulin.core import policy
from moulin.core.api import ObjectId, page_schema, paginate, responses
from moulin.core.errors import DomainError
from moulin.core.policy import Action
from moulin.feedback import selectors as feedback_selectors
from moulin.feedback.models import Feedback
from moulin.triage import selectors_insights
from moulin.triage.models import EmergingCluster
from moulin.triage.services import duplicates, emerging

router = Router(tags=["Triage"])
MODULE = "feedback"


class SimilarOut(Schema):
    id: int
    title: str
    text: str
    customer: str | None
    received_at: datetime
    status: str
    similarity: float = Field(..., description="Cosine similarity, 0–1 (1 for an exact "
                                                "duplicate)")
    exact_duplicate: bool
    near_duplicate: bool
    same_customer: bool


def _similar_out(items: list[duplicates.SimilarItem]) -> list[dict]:
    return [{"id": s.feedback.pk, "title": s.feedback.title, "text": s.feedback.text[:2000],
             "customer": s.feedback.customer.name if s.feedback.customer_id else None,
             "received_at": s.feedback.received_at, "status": s.feedback.status,
             "similarity": round(s.similarity, 4), "exact_duplicate": s.exact,
             "near_duplicate": s.near_duplicate, "same_customer": s.same_customer}
            for s in items]


@router.get("/feedback/{feedback_id}/similar", response=responses({200: list[SimilarOut]}),
            summary="The feedback most similar to an item (same customer first)")
@policy.requires(MODULE, Action.VIEW)
def similar_feedback(request: HttpRequest, feedback_id: ObjectId,
                     limit: int = Query(8, ge=1, le=50)):
    item = feedback_selectors.feedback_get(member=request.member, pk=feedback_id)
    return _similar_out(duplicates.feedback_similar(member=request.member, feedback=item,
                                                    limit=limit))


class SimilarTextIn(Schema):
    text: str = Field(..., max_length=1_000_000, description="A verbatim not recorded yet.")
    customer_id: ObjectId | None = None


@router.post("/triage/similar", response=responses({200: list[SimilarOut]}),
             summary="Recorded feedback similar to a text (check before creating an item)")
@policy.requires(MODULE, Action.CREATE)
def similar_to_text(request: HttpRequest, payload: SimilarTextIn):
    return _similar_out(duplicates.text_similar(member=request.member, text=payload.text,
                                                customer_id=payload.customer_id, limit=10))


class MergeIn(Schema):
    into: ObjectId = Field(..., description="The item kept; this one becomes its duplicate.")


class MergedOut(Schema):
    id: int
    status: str
    merged_into: int | None
    customers: int = Field(..., description="Distinct customers behind the kept item now "
                                            "(after an undo: the item it was merged into)")
    arr: Decimal | None = Field(..., description="Their ARR, each customer once, in the "
                                                 "organisation's reporting currency; null for "
                                                 "members without access to the Customers "
                                                 "module (it is usually one customer's ARR)")
    currency: str = Field(..., description="The reporting currency of arr")
    arr_unconverted: dict[str, Decimal] | None = Field(
        ..., description="ARR of customers whose currency has no rate, per currency: never "
                         "added to arr; null like arr")


def _merged_out(member, item: Feedback, kept: Feedback) -> dict:
    demand = duplicates.feedback_demand(feedback=kept)
    business = policy.can_see_customer_data(member)
    return {"id": item.pk, "status": item.status, "merged_into": item.merged_into_id,
            "customers": demand.customers, "arr": demand.arr if business else None,
            "currency": demand.currency,
            "arr_unconverted": demand.arr_unconverted if business else None}


@router.post("/feedback/{feedback_id}/merge", response=responses({200: MergedOut}),
             summary="Merge an item into another (it keeps its row; its customer counts for "
                     "the kept item)")
@policy.requires(MODULE, Action.CHANGE)
def merge_feedback(request: HttpRequest, feedback_id: ObjectId, payload: MergeIn):
    member = request.member
    duplicate = feedback_selectors.feedback_get(member=member, pk=feedback_id,
                                                action=Action.CHANGE)
    kept = feedback_selectors.feedback_get(member=member, pk=payload.into,
                                           action=Action.CHANGE)
    item = duplicates.feedback_merge(actor=member, duplicate=duplicate, kept=kept,
                                     origin=Origin.from_request(request, via="api"))
    return _merged_out(member, item, kept)


@router.post("/feedback/{duplicate_id}/unmerge", response=responses({200: MergedOut}),
             summary="Undo a merge: the duplicate is an item of its own again")
@policy.requires(MODULE, Action.CHANGE)
def unmerge_feedback(request: HttpRequest, duplicate_id: ObjectId):
    member = request.member
    duplicate = feedback_selectors.feedback_get(member=member, pk=duplicate_id,
                                                action=Action.CHANGE)
    kept_id = duplicate.merged_into_id  # None when not merged: the service answers 409
    item = duplicates.feedback_unmerge(actor=member, duplicate=duplicate,
                                       origin=Origin.from_request(request, via="api"))
    # The figures are those of the item it left (what that item counts now), as after a merge.
    kept = feedback_selectors.feedback_get(member=member, pk=kept_id)
    return _merged_out(member, item, kept)


# --- Emerging themes ----------------------------------------------------------------------------

class WeekCount(Schema):
    week: str
    count: int


class ClusterOut(Schema):
    id: int
    label: str
    keywords: list[str]
    size: int = Field(..., description="Items of the group today: those merged into another "
                                       "item or archived since the search are left out (the "
                                       "list is ordered by the size at the search)")
    cohesion: float
    state: str
    weekly_counts: list[WeekCount]
    representative_ids: list[int]
    customer_count: int
    arr_total: Decimal | None = Field(
        ..., description="Their ARR, each customer once, in the organisation's reporting "
                         "currency at the run. Null when it is one customer's ARR and the "
                         "caller may not view the Customers module.")
    arr_unconverted: dict[str, Decimal] = Field(
        ..., description="ARR of customers whose currency had no rate, per currency: never "
                         "added to arr_total (empty when arr_total is withheld)")
    theme_id: int | None
    created_at: datetime

    @staticmethod
    def resolve_weekly_counts(obj: EmergingCluster) -> list[dict]:
        return [{"week": str(w.get("week", "")), "count": int(w.get("count", 0))}
                for w in obj.weekly_counts if isinstance(w, dict)]

    @staticmethod
    def resolve_size(obj: EmergingCluster) -> int:
        return emerging.cluster_size_now(obj)

    @staticmethod
    def resolve_arr_total(obj: EmergingCluster, context) -> Decimal | None:
        if not policy.can_see_customer_total(context["request"].member, obj.customer_count):
            return None
        return obj.arr_total

    @staticmethod
    def resolve_arr_unconverted(obj: EmergingCluster, context) -> dict[str, Decimal]:
        if not policy.can_see_customer_total(context["request"].member, obj.customer_count):
            return {}
        stored = obj.arr_unconverted if isinstance(obj.arr_unconverted, dict) else {}
        return {str(code): Decimal(str(amount)) for code, amount in stored.items()}


ClusterPage = page_schema(ClusterOut)


class ClusterQuery(Schema):
    state: str = Field("open", description="open, converted or dismissed")


@router.get("/triage/emerging", response=responses({200: ClusterPage}),
            summary="Emerging themes: groups of recent feedback no theme covers")
@policy.requires(MODULE, Action.VIEW)
def list_clusters(request: HttpRequest, query: Query[ClusterQuery],
                  cursor: str | None = None, limit: int = Query(50, ge=1, le=200)):
    if query.state not in EmergingCluster.State.values:
        raise DomainError(_("Unknown state; use one of: %s.")
                          % ", ".join(EmergingCluster.State.values), field="state")
    clusters = emerging.cluster_list(member=request.member, state=query.state)
    return paginate(clusters, cursor=cursor, limit=limit, ordering=("-size", "id"))


class JobOut(Schema):
    id: int
    kind: str
    status: str = Field(..., description="queued, running, done or failed (a job whose worker "
                                         "stopped reporting for 15 minutes is failed; run it "
                                         "again)")
    progress_done: int
    progress_total: int
    message: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class RunIn(Schema):
    weeks: int = Field(emerging.WEEKS, ge=1, le=104,
                       description="How many weeks of recent feedback to group")


@router.post("/triage/emerging/run", response=responses({202: JobOut}),
             summary="Start a search for emerging themes (a background job)")
@policy.requires(MODULE, Action.CHANGE)
def run_clustering(request: HttpRequest, payload: RunIn):
    job = emerging.cluster_job_request(organisation_id=request.member.organisation_id,
                                       actor=request.member, weeks=payload.weeks,
                                       origin=Origin.from_request(request, via="api"))
    return Status(202, job)


@router.get("/triage/jobs/{job_id}", response=responses({200: JobOut}),
            summary="A clustering job and its progress")
@policy.requires(MODULE, Action.VIEW)
def get_job(request: HttpRequest, job_id: ObjectId):
    return emerging.cluster_job_get(member=request.member, pk=job_id)


class ConvertIn(Schema):
    name_en: str = Field("", max_length=500, description="Defaults to the cluster's label")
    name_fr: str = Field("", max_length=500)
    description: str = Field("", max_length=5000)
    product_area_id: ObjectId | None = None


class ThemeRef(Schema):
    id: int
    name_en: str
    name_fr: str
    items: int = Field(..., description="Items of the group that got the theme now (those "
                                        "merged into another item or archived since the "
                                        "search are left out)")


def _theme_ref(converted: emerging.ClusterConverted) -> dict:
    theme = converted.theme
    return {"id": theme.pk, "name_en": theme.name_en, "name_fr": theme.name_fr,
            "items": converted.items}


@router.post("/triage/emerging/{cluster_id}/convert", response=responses({201: ThemeRef}),
             summary="Turn an emerging theme into a theme with its items")
@policy.requires(MODULE, Action.CHANGE)
def convert_cluster(request: HttpRequest, cluster_id: ObjectId, payload: ConvertIn):
    cluster = emerging.cluster_get(member=request.member, pk=cluster_id)
    converted = emerging.cluster_convert(
        actor=request.member, cluster=cluster, name_en=payload.name_en or cluster.label,
        name_fr=payload.name_fr, description=payload.description,
        product_area_id=payload.product_area_id,
        origin=Origin.from_request(request, via="api"))
    return Status(201, _theme_ref(converted))


class AssignIn(Schema):
    theme_id: ObjectId = Field(..., description="An existing, not archived theme")


@router.post("/triage/emerging/{cluster_id}/assign", response=responses({200: ThemeRef}),
             summary="Give an emerging theme's items an existing theme (it was not new)")
@policy.requires(MODULE, Action.CHANGE)
def assign_cluster(request: HttpRequest, cluster_id: ObjectId, payload: AssignIn):
    cluster = emerging.cluster_get(member=request.member, pk=cluster_id)
    converted = emerging.cluster_assign(actor=request.member, cluster=cluster,
                                        theme_id=payload.theme_id,
                                        origin=Origin.from_request(request, via="api"))
    return _theme_ref(converted)


@router.post("/triage/emerging/{cluster_id}/dismiss", response=responses({200: ClusterOut}),
             summary="Dismiss an emerging theme (it is not proposed again)")
@policy.requires(MODULE, Action.CHANGE)
def dismiss_cluster(request: HttpRequest, cluster_id: ObjectId):
    cluster = emerging.cluster_get(member=request.member, pk=cluster_id)
    return emerging.cluster_dismiss(actor=request.member, cluster=cluster,
                                    origin=Origin.from_request(request, via="api"))


# --- Insights -----------------------------------------------------------------------------------

class SegmentOut(Schema):
    segment: str
    customers: int
    items: int


class ThemeInsightOut(Schema):
    theme_id: int
    name: str
    items: int
    customers: int
    arr: Decimal | None = Field(
        ..., description="Their ARR, each customer once, in the organisation's reporting "
                         "currency. Null (and segments empty) when it is one customer's and "
                         "the caller may not view the Customers module.")
    arr_unconverted: dict[str, Decimal] = Field(
        ..., description="ARR of customers whose currency has no rate, per currency: never "
                         "added to arr")
    negative: int
    neutral: int
    positive: int
    recent: int = Field(..., description="Items in the last 4 weeks")
    before: int = Field(..., description="Items in the 8 weeks before")
    change: float | None = Field(..., description="% change of the weekly rate (null: none "
                                                  "before)")
    segments: list[SegmentOut]

    @staticmethod
    def resolve_arr(obj, context) -> Decimal | None:
        return obj.arr if _total_shown(obj, context) else None

    @staticmethod
    def resolve_arr_unconverted(obj, context) -> dict[str, Decimal]:
        return obj.arr_unconverted if _total_shown(obj, context) else {}

    @staticmethod
    def resolve_segments(obj, context) -> list:
        return obj.segments if _total_shown(obj, context) else []


def _total_shown(theme: selectors_insights.ThemeInsight, context) -> bool:
    """A theme's ARR and segment split, unless they are one customer's and the caller may not
    see customers' business data (``policy.can_see_customer_total``)."""
    return policy.can_see_customer_total(context["request"].member, theme.customers)


class SeriesOut(Schema):
    theme_id: int
    label: str
    data: list[int]


class InsightsOut(Schema):
    currency: str = Field(..., description="The reporting currency of every arr")
    weeks: list[str] = Field(..., description="Monday of each week, oldest first")
    themes: list[ThemeInsightOut]
    series: list[SeriesOut]
    rising: list[ThemeInsightOut]


class InsightsQuery(Schema):
    weeks: int = Field(selectors_insights.DEFAULT_PERIOD,
                       description="Period: 4, 12, 26 or 52 weeks")
    product_area: ObjectId | None = None


@router.get("/triage/insights", response=responses({200: InsightsOut}),
            summary="Volume per theme per week, rising themes, customers/ARR, sentiment")
@policy.requires(MODULE, Action.VIEW)
def insights(request: HttpRequest, query: Query[InsightsQuery]):
    filters = selectors_insights.InsightFilters.from_query(
        {k: v for k, v in query.dict().items() if v is not None})
    if filters.errors:
        name, message = next(iter(filters.errors.items()))
        raise DomainError(message, field=name)
    data = selectors_insights.insights(member=request.member, filters=filters)
    return {"currency": data.currency, "weeks": data.weeks, "themes": data.themes,
            "series": data.series, "rising": data.rising}
