"""The customers API: CRM sync by external id (one or up to 1,000 per call), lists."""

from datetime import date
from decimal import Decimal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from moulin.core import policy
from moulin.core.api import BulkOut, ObjectId, bulk_answer, page_schema, paginate, responses
from moulin.core.errors import DomainError
from moulin.core.policy import Action
from moulin.customers import selectors, services
from moulin.customers.models import Customer

router = Router(tags=["Customers"])
MODULE = "customers"


class CustomerIn(Schema):
    external_id: str | None = Field(None, description="The CRM id; the upsert key.")
    name: str | None = None
    domains: list[str] | None = None
    plan: str | None = None
    segment: str | None = Field(None, description="Segment name; created if new.")
    industry: str | None = None
    country: str | None = Field(None, description="ISO 3166 alpha-2, e.g. FR")
    lifecycle: str | None = Field(None, description="trial, customer or churned")
    arr: Decimal | str | None = None
    currency: str | None = None
    renewal_date: date | str | None = None
    owner_email: str | None = None
    health_score: int | None = Field(None, ge=0, le=100)
    custom_fields: dict | None = None


class CustomerOut(Schema):
    id: int
    external_id: str | None
    name: str
    domains: list[str]
    plan: str
    segment: str | None
    industry: str
    country: str
    lifecycle: str
    arr: Decimal | None
    currency: str
    renewal_date: date | None
    owner_email: str | None
    health_score: int | None
    custom_fields: dict

    @staticmethod
    def resolve_segment(obj: Customer) -> str | None:
        return obj.segment.name if obj.segment_id else None

    @staticmethod
    def resolve_owner_email(obj: Customer) -> str | None:
        return obj.owner.user.email if obj.owner_id else None


CustomerPage = page_schema(CustomerOut)


def _raw(item: CustomerIn) -> dict:
    # Only the fields the client sent: an upsert must not blank the others.
    raw = item.dict(exclude_unset=True)
    for key in ("arr", "renewal_date"):
        if key in raw and raw[key] is not None:
            raw[key] = str(raw[key])
    return raw


@router.put("/customers", response=responses({200: CustomerOut, 201: CustomerOut}),
            summary="Create or update one customer by external_id",
            description="Creating needs the right to create customers; changing an existing "
                        "one needs the right to change them (403 otherwise).")
@policy.requires(MODULE, Action.CREATE)
def upsert_customer(request: HttpRequest, payload: CustomerIn):
    try:
        customer, created = services.customer_upsert(organisation=request.member.organisation,
                                                     raw=_raw(payload), actor=request.member)
    except services.ChangeNotAllowed:
        raise  # 403: changing an existing customer needs the right to change customers
    except services.RowError as error:
        raise DomainError(error.message, field=error.field) from error
    return Status(201 if created else 200,
                  selectors.customer_get(member=request.member, pk=customer.pk))


class CustomerBulkIn(Schema):
    items: list[CustomerIn] = Field(..., min_length=1, max_length=1000)


@router.post("/customers/bulk", response=responses({200: BulkOut}),
             summary="Create or update up to 1,000 customers by external_id",
             description="An item that would change an existing customer without the right "
                         "to change customers is an error of its own (field external_id).")
@policy.requires(MODULE, Action.CREATE)
def bulk_customers(request: HttpRequest, payload: CustomerBulkIn):
    results = services.customer_bulk_upsert(organisation=request.member.organisation,
                                            raw_items=[_raw(item) for item in payload.items],
                                            actor=request.member)
    return bulk_answer(results)


@router.get("/customers", response=responses({200: CustomerPage}), summary="List customers")
@policy.requires(MODULE, Action.VIEW)
def list_customers(request: HttpRequest, q: str = "", segment_id: ObjectId | None = None,
                   lifecycle: str = "", plan: str = "", cursor: str | None = None,
                   limit: int = Query(50, ge=1, le=200)):
    customers = selectors.customer_list(member=request.member, search=q[:100],
                                        segment_id=segment_id, lifecycle=lifecycle, plan=plan)
    return paginate(customers, cursor=cursor, limit=limit, ordering=("id",))


@router.get("/customers/{customer_id}", response=responses({200: CustomerOut}),
            summary="One customer")
@policy.requires(MODULE, Action.VIEW)
def get_customer(request: HttpRequest, customer_id: ObjectId):
    return selectors.customer_get(member=request.member, pk=customer_id)
