"""The intake form Customer Success and Sales use to record what a customer said, its embeddable
version for internal tools, and the customer suggestions of its combobox."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_sameorigin

from moulin.core import parsing, policy
from moulin.core.policy import Action
from moulin.customers import selectors as customer_selectors
from moulin.customers.models import Customer
from moulin.customers.services import RowError
from moulin.feedback import services
from moulin.feedback.forms import FeedbackIntakeForm

MODULE = "feedback"
def _intake(request: HttpRequest, *, template: str, url_name: str) -> HttpResponse:
    """The form page, shared by the full and the embedded layout."""
    member = request.member
    initial, chosen = _initial(request) if request.method == "GET" else ({}, None)
    form = FeedbackIntakeForm(request.POST or None, member=member, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            item = services.feedback_submit(actor=member, raw=form.to_raw())
        except RowError as error:
            form.add_error(_form_field(form, error.field), error.message)
        else:
            messages.success(request, format_html(
                '{} <a href="{}">{}</a>', _("Thanks — feedback recorded."),
                reverse("feedback:detail", args=[item.pk]), _("Open it")))
            url = reverse(url_name)
            if "add_another" in request.POST:
                kept = {"customer": item.customer_id or "", "source": item.source}
                url += "?" + urlencode({k: v for k, v in kept.items() if v})
            return redirect(url)
    if form.is_bound:
        chosen = getattr(form, "cleaned_data", {}).get("customer")
    context = {"form": form, "form_action": reverse(url_name), "chosen": chosen}
    return render(request, template, context, status=422 if form.errors else 200)


def _initial(request: HttpRequest) -> tuple[dict, Customer | None]:
    """A second entry for the same customer starts with the customer (and channel) filled in;
    also returns that customer, for its summary under the field."""
    initial: dict = {}
    found = None
    customer_id = parsing.parse_id(request.GET.get("customer"))
    if customer_id is not None:
        found = customer_selectors.customer_by_id(member=request.member, pk=customer_id)
        if found is not None:
            initial.update(customer=found.pk, customer_search=found.name)
    if request.GET.get("source"):
        initial["source"] = request.GET["source"]
    return initial, found


def _form_field(form: FeedbackIntakeForm, field: str | None) -> str | None:
    """The form field a service error is about (the service names its raw keys)."""
    field = {"customer_id": "customer_search", "created_at": "received_on"}.get(field, field)
    return field if field in form.fields else None


@policy.requires(MODULE, Action.CREATE)
def submit_feedback(request: HttpRequest) -> HttpResponse:
    """Record what a customer said: verbatim, customer, contact, importance, area, tags."""
    return _intake(request, template="feedback/intake.html", url_name="feedback:submit")


@policy.requires(MODULE, Action.CREATE)
@xframe_options_sameorigin
def submit_feedback_embed(request: HttpRequest) -> HttpResponse:
    """The same form without the menu, for an iframe in an internal tool served from the same
    origin (X-Frame-Options: SAMEORIGIN here only; every other page keeps DENY)."""
    return _intake(request, template="feedback/intake_embed.html",
                   url_name="feedback:submit_embed")


@policy.requires(MODULE, Action.CREATE)
def customer_suggestions(request: HttpRequest) -> HttpResponse:
    """The combobox's options for what was typed (an htmx fragment)."""
    text = (request.GET.get("customer_search") or request.GET.get("q") or "")[:100]
    customers = customer_selectors.customer_autocomplete(member=request.member, text=text)
    return render(request, "feedback/_customer_suggestions.html", {
        "customers": customers, "text": text.strip()})
