"""The customers pages: the list (filters, sort, CSV export) and a customer's page with its
business data, contacts and feedback. Each view: check access → validate → one call → render."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from moulin.accounts.audit import Origin, audit_record
from moulin.core import policy
from moulin.core.csv_export import csv_download
from moulin.core.policy import Action
from moulin.customers import selectors, services
from moulin.customers.forms import CustomerFilterForm, CustomerForm
from moulin.customers.services import RowError

MODULE = "customers"
PAGE_SIZE = 50
RENEWAL_SOON_DAYS = 60
# Service fields named as the form names them.
FORM_FIELDS = {"owner_email": "owner"}


def _dates() -> dict:
    """Today and the horizon under which a renewal is flagged as close."""
    today = timezone.localdate()
    return {"today": today, "renewal_soon": today + timedelta(days=RENEWAL_SOON_DAYS)}


def _filter_form(request: HttpRequest) -> CustomerFilterForm:
    member = request.member
    return CustomerFilterForm(request.GET or None, organisation_id=member.organisation_id,
                              plans=selectors.plan_list(member=member))


@policy.requires(MODULE, Action.VIEW)
def customer_list(request: HttpRequest) -> HttpResponse:
    """Customers with their business data and feedback activity, filterable and sortable."""
    member = request.member
    form = _filter_form(request)
    filters = form.filters()
    customers = selectors.customer_list(member=member, **filters)
    page = Paginator(customers, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    sort_links = {}
    for key in selectors.CUSTOMER_SORTS:
        sorted_query = query.copy()
        sorted_query["sort"] = key
        sort_links[key] = sorted_query.urlencode()
    context = {"form": form, "page": page, "query": query.urlencode(), "sort": filters["sort"],
               "sort_links": sort_links,
               **_dates(),
               "can_export": policy.can(member, MODULE, Action.EXPORT)}
    template = "customers/_customer_rows.html" if request.htmx and request.htmx.target == \
        "customer-rows" else "customers/customer_list.html"
    return render(request, template, context)


@policy.requires(MODULE, Action.EXPORT)
def customer_export(request: HttpRequest) -> StreamingHttpResponse:
    """The filtered customer list as CSV (the export itself is audited)."""
    member = request.member
    filters = _filter_form(request).filters()
    customers = selectors.customer_list(member=member, **filters)
    audit_record(organisation=member.organisation, actor=member, action="export.customers",
                 origin=Origin.from_request(request),
                 changes={"filters": {k: str(v) for k, v in filters.items() if v}})
    header = ["id", "external_id", "name", "domains", "segment", "plan", "lifecycle", "arr",
              "currency", "renewal_date", "health_score", "owner_email", "industry", "country",
              "feedback_count", "last_feedback_at"]
    rows = ([c.pk, c.external_id, c.name, " ".join(c.domains),
             c.segment.name if c.segment_id else "", c.plan, c.lifecycle, c.arr, c.currency,
             c.renewal_date.isoformat() if c.renewal_date else "", c.health_score,
             c.owner.user.email if c.owner_id else "", c.industry, c.country, c.feedback_count,
             c.last_feedback_at.isoformat() if c.last_feedback_at else ""]
            for c in customers.iterator(chunk_size=2000))
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    return csv_download(rows, filename=f"moulin-customers-{stamp}.csv", header=header)


@policy.requires(MODULE, Action.VIEW)
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A customer's card, contacts and newest feedback; admins and Product Ops edit it here."""
    member = request.member
    customer = selectors.customer_get(member=member, pk=pk)
    can_edit = policy.can(member, MODULE, Action.CHANGE)
    form = None
    if request.method == "POST":
        policy.check(member, MODULE, Action.CHANGE, customer)
        form = CustomerForm(request.POST, customer=customer)
        if form.is_valid():
            try:
                services.customer_update(actor=member, customer=customer, raw=form.to_raw())
            except RowError as error:
                field = FORM_FIELDS.get(error.field, error.field)
                form.add_error(field if field in form.fields else None, error.message)
            else:
                messages.success(request, _("%s is saved.") % customer.name)
                return redirect("customers:customer_detail", pk=customer.pk)
        # The card shows what is stored, not the rejected values.
        customer = selectors.customer_get(member=member, pk=pk)
    elif can_edit:
        form = CustomerForm(customer=customer)
    context = {
        "customer": customer, "form": form, "can_edit": can_edit,
        "can_erase": policy.can(member, MODULE, Action.DELETE),
        "contacts": selectors.contact_list(member=member, customer=customer),
        "feedback": selectors.customer_feedback(member=member, customer=customer),
        "can_submit": policy.can(member, "feedback", Action.CREATE),
        "segments": selectors.segment_list(member=member),
        **_dates(),
    }
    return render(request, "customers/customer_detail.html", context,
                  status=422 if form is not None and form.errors else 200)
