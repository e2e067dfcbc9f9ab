"""Similar feedback and duplicates: the panel on a feedback page (loaded by htmx), merging a
duplicate into the kept item and undoing it, and the intake form's "already said" warning."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from moulin.accounts.audit import Origin
from moulin.core import parsing, policy
from moulin.core.errors import DomainError
from moulin.core.policy import Action
from moulin.feedback import selectors as feedback_selectors
from moulin.feedback.models import Feedback
from moulin.triage.services import duplicates

MODULE = "feedback"


def _panel_context(request: HttpRequest, item: Feedback) -> dict:
    member = request.member
    kept = None
    if item.merged_into_id:
        kept = Feedback.objects.filter(organisation_id=member.organisation_id,
                                       pk=item.merged_into_id).first()
    return {
        "item": item, "kept": kept,
        "similar": [] if kept else duplicates.feedback_similar(member=member, feedback=item),
        "merged_here": list(item.merged_duplicates.select_related("customer")
                            .order_by("-received_at")[:50]),
        "demand": duplicates.feedback_demand(feedback=item),
        "can_merge": policy.can(member, MODULE, Action.CHANGE),
    }


@policy.requires(MODULE, Action.VIEW)
def similar_panel(request: HttpRequest, pk: int) -> HttpResponse:
    """The "similar feedback" card of a feedback page (an htmx fragment)."""
    item = feedback_selectors.feedback_get(member=request.member, pk=pk)
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    return render(request, "triage/_similar_panel.html", _panel_context(request, item))


def _answer(request: HttpRequest, page: Feedback, *, message: str, error: bool = False
            ) -> HttpResponse:
    """htmx: the panel of the page the member is on, with the message; otherwise back to it."""
    if request.htmx:
        page = feedback_selectors.feedback_get(member=request.member, pk=page.pk)
        context = _panel_context(request, page)
        context.update({"message": message, "error": error})
        return render(request, "triage/_similar_panel.html", context,
                      status=422 if error else 200)
    (messages.error if error else messages.success)(request, message)
    return redirect("feedback:detail", pk=page.pk)


def _page(request: HttpRequest, default: Feedback) -> Feedback:
    """The feedback page the action was taken from (to answer with its panel)."""
    page_id = parsing.parse_id(request.POST.get("page"))
    if page_id is None:
        return default
    return Feedback.objects.filter(organisation_id=request.member.organisation_id,
                                   pk=page_id).first() or default


@policy.requires(MODULE, Action.CHANGE)
@require_POST
def feedback_merge(request: HttpRequest, pk: int) -> HttpResponse:
    """Merge item ``pk`` (the duplicate) into the item named by ``into`` (the one kept)."""
    member = request.member
    duplicate = feedback_selectors.feedback_get(member=member, pk=pk, action=Action.CHANGE)
    page = _page(request, duplicate)
    into = parsing.parse_id(request.POST.get("into"))
    if into is None:
        return _answer(request, page, error=True,
                       message=_("Choose the item to keep (“into”)."))
    kept = Feedback.objects.filter(organisation_id=member.organisation_id, pk=into).first()
    if kept is None:
        return _answer(request, page, error=True,
                       message=_("The item to keep does not exist in your organisation."))
    try:
        duplicates.feedback_merge(actor=member, duplicate=duplicate, kept=kept,
                                  origin=Origin.from_request(request))
    except DomainError as error:
        return _answer(request, page, message=error.message, error=True)
    if page.pk == duplicate.pk and not request.htmx:
        page = kept  # the merged item's page is no longer where the work happens
    return _answer(request, page, message=_("Merged #%(dup)s into #%(kept)s. Its customer "
                                            "now counts for the kept item.")
                   % {"dup": duplicate.pk, "kept": kept.pk})


@policy.requires(MODULE, Action.CHANGE)
@require_POST
def feedback_unmerge(request: HttpRequest, pk: int) -> HttpResponse:
    """Undo a merge: the duplicate is an item of its own again."""
    member = request.member
    duplicate = feedback_selectors.feedback_get(member=member, pk=pk, action=Action.CHANGE)
    page = _page(request, duplicate)
    try:
        duplicates.feedback_unmerge(actor=member, duplicate=duplicate,
                                    origin=Origin.from_request(request))
    except DomainError as error:
        return _answer(request, page, message=error.message, error=True)
    return _answer(request, page, message=_("#%(dup)s is a separate item again.")
                   % {"dup": duplicate.pk})


@policy.requires(MODULE, Action.CREATE)
def intake_similar(request: HttpRequest) -> HttpResponse:
    """Items already recorded that look like the text being typed (an htmx fragment). The
    form posts the text (a long verbatim does not fit in a URL); GET works for short ones."""
    data = request.POST if request.method == "POST" else request.GET
    text = str(data.get("text", ""))
    customer_id = parsing.parse_id(data.get("customer"))
    found = duplicates.text_similar(member=request.member, text=text, customer_id=customer_id)
    return render(request, "triage/_similar_intake.html", {
        "similar": found, "strong": any(s.near_duplicate for s in found)})
