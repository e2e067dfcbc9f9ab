"""The feedback API: create one, bulk create/upsert up to 1,000, list with the inbox filters."""

from datetime import datetime

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from pydantic import BaseModel

from moulin.core import policy
from moulin.core.api import (
    CUSTOMER_DATA_FILTER,
    BulkOut,
    ObjectId,
    bulk_answer,
    page_schema,
    paginate,
    refuse_bad_filters,
    responses,
)
from moulin.core.errors import DomainError
from moulin.core.policy import Action
from moulin.customers.services import RowError
from moulin.feedback import selectors, services
from moulin.feedback.models import Feedback, Source

router = Router(tags=["Feedback"])
MODULE = "feedback"


class FeedbackIn(BaseModel):
    """One item. A plain pydantic model (not a ninja Schema): a bulk call validates 1,000 of
    them, and ninja's per-object resolver hook is not needed for input."""

    text: str = Field(..., description="The verbatim, any length up to 10 MB.")
    title: str = ""
    external_id: str | None = Field(None, description="Your id: a retry with the same source "
                                                      "and external_id updates, never duplicates.")
    source: str = Field("api", description="api, web_form or survey. The integrations' and "
                        "imports' sources (" + ", ".join(
                            s for s in Source.values if s not in services.OPEN_SOURCES)
                        + ") only for members who may change feedback (to backfill them).")
    customer_external_id: str | None = None
    customer_id: ObjectId | None = None
    contact_email: str | None = None
    contact_name: str | None = None
    created_at: datetime | str | None = Field(None, description="When the customer said it "
                                                               "(ISO 8601).")
    importance: str | None = Field(None, description="nice_to_have, important or critical")
    product_area: str | None = None
    tags: list[str] = []
    links: list[str] = []


class CustomerRef(Schema):
    """Who said it: the customer's id, name and CRM id, for every member who may see feedback.
    A customer's business data (ARR, plan, segment, lifecycle, health, renewal, owner) is never
    part of a feedback item: read it from ``/customers``, which needs the Customers module."""

    id: int
    name: str
    external_id: str | None


class FeedbackOut(Schema):
    id: int
    title: str
    text: str
    source: str
    external_id: str | None
    status: str
    importance: str
    language: str
    received_at: datetime
    created_at: datetime
    customer: CustomerRef | None
    contact_email: str | None
    product_area: str | None
    tags: list[str]

    @staticmethod
    def resolve_contact_email(obj: Feedback) -> str | None:
        return obj.contact.email if obj.contact_id else None

    @staticmethod
    def resolve_product_area(obj: Feedback) -> str | None:
        return obj.product_area.name if obj.product_area_id else None

    @staticmethod
    def resolve_tags(obj: Feedback) -> list[str]:
        return [t.name for t in obj.tags.all()]


FeedbackPage = page_schema(FeedbackOut)


def _raw(item: FeedbackIn) -> dict:
    raw = item.model_dump()
    if isinstance(raw.get("created_at"), datetime):
        raw["created_at"] = raw["created_at"].isoformat()
    return raw


@router.post("/feedback", response=responses({201: FeedbackOut, 200: FeedbackOut}),
             summary="Create one feedback item (or update it, for a known external_id)",
             description="Updating an existing item (a known source and external_id, with "
                         "different values) needs the right to change feedback: 403 otherwise. "
                         "An unchanged retry answers 200.")
@policy.requires(MODULE, Action.CREATE)
def create_feedback(request: HttpRequest, payload: FeedbackIn):
    try:
        item, created = services.feedback_create(
            organisation=request.member.organisation, actor=request.member, raw=_raw(payload),
            default_source=Source.API, sources=services.api_sources(actor=request.member))
    except services.ChangeNotAllowed:
        raise  # 403, naming the field
    except RowError as error:
        raise DomainError(error.message, field=error.field) from error
    item = selectors.feedback_get(member=request.member, pk=item.pk)
    return Status(201 if created else 200, item)


class BulkIn(Schema):
    items: list[FeedbackIn] = Field(..., max_length=1000, min_length=1)


@router.post("/feedback/bulk", response=responses({200: BulkOut}),
             summary="Create or update up to 1,000 items; one result per item",
             description="An item that would change existing feedback is an error (its "
                         "message says so) unless the member may change feedback.")
@policy.requires(MODULE, Action.CREATE)
def bulk_feedback(request: HttpRequest, payload: BulkIn):
    results = services.feedback_bulk_upsert(
        organisation=request.member.organisation, actor=request.member,
        raw_items=[_raw(item) for item in payload.items], default_source=Source.API,
        sources=services.api_sources(actor=request.member))
    return bulk_answer(results)


class FeedbackQuery(Schema):
    q: str = ""
    status: str = Field("", description="Comma-separated statuses")
    source: str = ""
    importance: str = ""
    language: str = ""
    lifecycle: str = Field("", description="trial, customer or churned (comma-separated). "
                           + CUSTOMER_DATA_FILTER)
    plan: str = Field("", description="Comma-separated plans. " + CUSTOMER_DATA_FILTER)
    segment: str = Field("", description="Comma-separated segment ids. " + CUSTOMER_DATA_FILTER)
    product_area: str = ""
    tag: str = ""
    theme: str = Field("", description="Comma-separated theme ids (triage taxonomy)")
    outcome: str = Field("", description="Triage outcome: pending, suggested, automatic, "
                                         "unknown or reviewed (comma-separated)")
    sentiment: str = Field("", description="negative, neutral or positive (comma-separated)")
    customer: ObjectId | None = None
    submitted_by: ObjectId | None = None
    department: ObjectId | None = None
    date_from: str = ""
    date_to: str = ""
    arr_min: str = Field("", description="The customer's ARR, at least (50k, 12 500). "
                         + CUSTOMER_DATA_FILTER)
    arr_max: str = Field("", description="The customer's ARR, at most. " + CUSTOMER_DATA_FILTER)


@router.get("/feedback", response=responses({200: FeedbackPage}),
            summary="List feedback with the inbox's filters (newest first)",
            description="Filtering by customers' business data (lifecycle, plan, segment, "
                        "arr_min, arr_max) needs the right to view the Customers module: 403 "
                        "otherwise, naming the filter.")
@policy.requires(MODULE, Action.VIEW)
def list_feedback(request: HttpRequest, query: Query[FeedbackQuery],
                  cursor: str | None = None, limit: int = Query(50, ge=1, le=200)):
    filters = selectors.FeedbackFilters.from_query(
        {k: v for k, v in query.dict().items() if v not in (None, "")}, member=request.member)
    refuse_bad_filters(filters)
    items = selectors.feedback_list(member=request.member, filters=filters)
    return paginate(items, cursor=cursor, limit=limit, ordering=("-received_at", "-id"))


@router.get("/feedback/{feedback_id}", response=responses({200: FeedbackOut}),
            summary="One feedback item")
@policy.requires(MODULE, Action.VIEW)
def get_feedback(request: HttpRequest, feedback_id: ObjectId):
    return selectors.feedback_get(member=request.member, pk=feedback_id)
