"""The public endpoints vendors post to, and the settings pages of each integration.

Endpoints answer fast: verify, store, queue, answer — processing happens in a task. Settings
pages follow the house flow: check access → validate → one service call → render.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from moulin.accounts.audit import Origin
from moulin.core import policy
from moulin.core.api import error_body
from moulin.core.errors import DomainError
from moulin.core.views import render_form
from moulin.integrations import selectors, services
from moulin.integrations.forms import IntegrationCreateForm, IntegrationUpdateForm
from moulin.integrations.inbound import InboundRequest
from moulin.integrations.models import DeliveryStatus, Vendor

ORG, CHANGE = selectors.MODULE, selectors.ACTION


# --- Public endpoints ---------------------------------------------------------------------------

def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(status, code, message), status=status)


def _read_body(request: HttpRequest, limit: int) -> bytes | None:
    """The raw body, or None when it is larger than ``limit`` bytes.

    Read from the stream (not ``request.body``) so the limit is ours, per vendor, and a large
    body is refused before it is read whole.
    """
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None
    body = request.read(limit + 1)
    return None if len(body) > limit else body


@policy.public("vendor webhook: verified by URL key and signature")
@csrf_exempt
@require_POST
def hook_receive(request: HttpRequest, url_key: str) -> HttpResponse:
    """Where Intercom, Zendesk, HubSpot, Slack and inbound-email services post."""
    # Answers to vendors are in English, like the API's errors (the delivery log, shown in
    # Moulin, is in the organisation's language).
    integration = selectors.integration_for_url_key(url_key=url_key)
    if integration is None:
        return _error(404, "not_found", "No integration has this URL. Copy it again from the "
                                        "integration's settings page in Moulin.")
    if not integration.enabled:
        return _error(410, "disabled", "This integration is disabled in Moulin.")
    body = _read_body(request, services.max_body_bytes(integration.vendor))
    if body is None:
        limit = services.max_body_bytes(integration.vendor) // (1024 * 1024)
        return _error(413, "too_large", f"The request body is larger than {limit} MB.")
    inbound = InboundRequest(body=body, headers={k.lower(): v for k, v in request.headers.items()},
                             method=request.method, url=request.build_absolute_uri())
    receipt = services.delivery_receive(integration=integration, request=inbound)
    if receipt.outcome == "rejected":
        return _error(401, "invalid_signature", receipt.message)
    if receipt.reply is not None:
        return JsonResponse(receipt.reply)
    if integration.vendor == Vendor.SLACK:
        return HttpResponse(status=200)  # a message shortcut expects an empty 200
    return JsonResponse({"status": receipt.outcome, "delivery": receipt.delivery.pk,
                         "message": receipt.message})


# --- Settings pages -----------------------------------------------------------------------------

def _form_error(form, error: DomainError) -> None:
    form.add_error(error.field if error.field in form.fields else None, error.message)


def _hook_urls(request: HttpRequest, integration) -> dict:
    url = request.build_absolute_uri(reverse("integrations:hook_receive",
                                             args=[integration.url_key]))
    urls = {"webhook_url": url}
    if integration.vendor == Vendor.EMAIL:
        urls["mime_url"] = request.build_absolute_uri(
            reverse("integrations:hook_receive_mime", args=[integration.url_key]))
    return urls


@policy.requires(ORG, CHANGE)
@require_GET
def integration_list(request: HttpRequest) -> HttpResponse:
    """Every inbound channel of the organisation and how its deliveries went this week."""
    return render(request, "integrations/integration_list.html", {
        "integrations": selectors.integration_list(member=request.member),
        "vendors": Vendor.choices,
    })


@policy.requires(ORG, CHANGE)
def integration_new(request: HttpRequest) -> HttpResponse:
    """Connect a tool: pick the vendor, name it, paste its signing secret."""
    vendor = request.GET.get("vendor", "")
    form = IntegrationCreateForm(request.POST or None, initial={
        "vendor": vendor if vendor in Vendor.values else None})
    if request.method == "POST" and form.is_valid():
        try:
            integration = services.integration_create(
                actor=request.member, origin=Origin.from_request(request), **form.cleaned_data)
        except DomainError as error:
            _form_error(form, error)
        else:
            messages.success(request, _("The integration is ready: paste its URL in %s.")
                             % integration.get_vendor_display())
            return redirect("integrations:integration_detail", pk=integration.pk)
    return render_form(request, "integrations/integration_new.html", {"form": form},
                       invalid=bool(form.errors))


@policy.requires(ORG, CHANGE)
def integration_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The URL to paste in the vendor's tool, the settings, and the last 50 deliveries."""
    integration = selectors.integration_get(member=request.member, pk=pk)
    form = IntegrationUpdateForm(request.POST or None, initial={"name": integration.name})
    if request.method == "POST" and form.is_valid():
        try:
            services.integration_update(actor=request.member,
                                        origin=Origin.from_request(request),
                                        integration=integration, **form.cleaned_data)
        except DomainError as error:
            _form_error(form, error)
        else:
            messages.success(request, _("Integration saved."))
            return redirect("integrations:integration_detail", pk=integration.pk)
    deliveries = selectors.delivery_list(integration=integration)
    context = {"integration": integration, "form": form, "deliveries": deliveries,
               "statuses": DeliveryStatus, **_hook_urls(request, integration)}
    if request.htmx and request.htmx.target == "delivery-rows":
        return render(request, "integrations/_delivery_rows.html", context)
    return render_form(request, "integrations/integration_detail.html", context,
                       invalid=bool(form.errors))


@policy.requires(ORG, CHANGE)
@require_POST
def integration_set_enabled(request: HttpRequest, pk: int) -> HttpResponse:
    """Stop (or resume) accepting deliveries; a disabled URL answers 410."""
    integration = selectors.integration_get(member=request.member, pk=pk)
    enabled = request.POST.get("enabled") == "1"
    services.integration_update(actor=request.member, origin=Origin.from_request(request),
                                integration=integration, enabled=enabled)
    messages.success(request, _("Integration enabled.") if enabled
                     else _("Integration disabled: its URL now answers 410 Gone."))
    return redirect("integrations:integration_detail", pk=integration.pk)


@policy.requires(ORG, CHANGE)
@require_POST
def integration_rotate_url_key(request: HttpRequest, pk: int) -> HttpResponse:
    """Replace the URL (after a leak); the vendor's tool needs the new one."""
    integration = selectors.integration_get(member=request.member, pk=pk)
    services.integration_rotate_url_key(actor=request.member,
                                        origin=Origin.from_request(request),
                                        integration=integration)
    messages.success(request, _("New URL generated: paste it in %s, the old one no longer "
                                "works.") % integration.get_vendor_display())
    return redirect("integrations:integration_detail", pk=integration.pk)


@policy.requires(ORG, CHANGE)
@require_POST
def delivery_retry(request: HttpRequest, pk: int) -> HttpResponse:
    """Process a failed delivery again, once its cause is fixed."""
    delivery = selectors.delivery_get(member=request.member, pk=pk)
    try:
        services.delivery_retry(actor=request.member, delivery=delivery)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("The delivery is queued again."))
    return redirect("integrations:integration_detail", pk=delivery.integration_id)
