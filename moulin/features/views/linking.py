"""Linking feedback to features from the feedback hub: the "Features" panel of the feedback
page (linked features, suggested ones, a picker) and the inbox's bulk "Link to feature…"
action. The feedback templates only include a loader; these views answer the fragments."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from moulin.core import parsing, policy
from moulin.core.errors import DomainError
from moulin.core.policy import Action
from moulin.features import selectors, services
from moulin.features.forms import BulkLinkForm, LinkForm
from moulin.features.models import FeedbackLink, LinkOrigin
from moulin.feedback import search as feedback_search
from moulin.feedback import selectors as feedback_selectors
from moulin.feedback.models import Feedback, Importance
from moulin.feedback.selectors import FeedbackFilters

MODULE = "features"


def feature_choices(member) -> list[dict]:
    """Features for a picker, grouped by product area (sub-features after their parent)."""
    groups: list[dict] = []
    for tree in selectors.feature_tree(member=member):
        options = []
        for feature in tree.features:
            options.append({"pk": feature.pk, "title": feature.title,
                            "status": feature.get_status_display()})
            options.extend({"pk": child.pk, "title": f"{feature.title} › {child.title}",
                            "status": child.get_status_display()}
                           for child in feature.sub_features)
        groups.append({"label": str(tree.area) if tree.area else _("No product area"),
                       "options": options})
    return groups


def _panel_context(request: HttpRequest, item: Feedback) -> dict:
    member = request.member
    links = (FeedbackLink.objects.filter(feedback=item, organisation_id=member.organisation_id)
             .select_related("feature__squad").order_by("feature__title"))
    can_link = policy.can(member, MODULE, Action.CREATE)
    return {
        "item": item, "links": list(links), "can_link": can_link,
        "suggestions": selectors.feedback_feature_suggestions(member=member, feedback=item)
        if can_link else [],
        "choices": feature_choices(member) if can_link else [],
        "importances": Importance.choices, "default_importance": item.importance,
    }


def _panel(request: HttpRequest, item: Feedback, *, message: str = "", error: bool = False,
           status: int = 200) -> HttpResponse:
    if not request.htmx:
        if message:
            (messages.error if error else messages.success)(request, message)
        return redirect("feedback:detail", pk=item.pk)
    context = _panel_context(request, item)
    context.update({"message": message, "error": error})
    return render(request, "features/_feedback_features_panel.html", context, status=status)


@policy.requires(MODULE, Action.VIEW)
def feedback_panel(request: HttpRequest, feedback_pk: int) -> HttpResponse:
    """The "Features" card of a feedback page (loaded by htmx)."""
    item = feedback_selectors.feedback_get(member=request.member, pk=feedback_pk)
    if request.method not in ("GET", "HEAD"):  # 404 first, then the method
        return HttpResponseNotAllowed(["GET", "HEAD"])
    context = _panel_context(request, item)
    return render(request, "features/_feedback_features_panel.html", context)


@policy.requires(MODULE, Action.CREATE)
@require_POST
def feedback_link(request: HttpRequest, feedback_pk: int) -> HttpResponse:
    """Link this feedback item to a feature (picked, or a suggestion accepted)."""
    member = request.member
    item = feedback_selectors.feedback_get(member=member, pk=feedback_pk)
    form = LinkForm(request.POST)
    if not form.is_valid() or form.cleaned_data["feature"] is None:
        return _panel(request, item, message=_("Choose a feature to link."), error=True,
                      status=422)
    feature = selectors.feature_get(member=member, pk=form.cleaned_data["feature"],
                                    action=Action.CREATE)
    origin = LinkOrigin.SUGGESTION if request.POST.get("suggested") else LinkOrigin.MANUAL
    try:
        services.feature_link_feedback(actor=member, feature=feature, feedback_items=[item],
                                       importance=form.cleaned_data["importance"],
                                       origin=origin)
    except DomainError as error:
        return _panel(request, item, message=error.message, error=True, status=422)
    return _panel(request, item, message=_("Linked to “%s”.") % feature.title)


@policy.requires(MODULE, Action.CREATE)
@require_POST
def feedback_unlink(request: HttpRequest, feedback_pk: int, feature_pk: int) -> HttpResponse:
    """Remove this feedback item from a feature."""
    member = request.member
    item = feedback_selectors.feedback_get(member=member, pk=feedback_pk)
    feature = selectors.feature_get(member=member, pk=feature_pk, action=Action.CREATE)
    try:
        removed = services.feature_unlink_feedback(actor=member, feature=feature,
                                                   feedback_items=[item])
    except DomainError as error:
        return _panel(request, item, message=error.message, error=True, status=422)
    message = _("Unlinked from “%s”.") % feature.title if removed else _("It was not linked.")
    return _panel(request, item, message=message)


@policy.requires(MODULE, Action.CREATE)
@require_GET
def inbox_link_picker(request: HttpRequest) -> HttpResponse:
    """The inbox toolbar's feature picker (loaded by htmx into the bulk-action bar)."""
    return render(request, "features/_inbox_link_picker.html", {
        "choices": feature_choices(request.member), "importances": Importance.choices})


def _back(request: HttpRequest) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return reverse("feedback:inbox")


def _changed_rows(request: HttpRequest, ids: list[int]) -> list[Feedback]:
    """The inbox rows just linked, as the inbox draws them (their status badge now says
    "linked"), to swap in place out of band."""
    member = request.member
    if not ids:
        return []
    rows = list(feedback_selectors.feedback_list(member=member, filters=FeedbackFilters())
                .filter(pk__in=ids))
    q = FeedbackFilters.from_query({"q": request.POST.get("q", "")}).q
    for item in rows:
        item.title_html = feedback_search.highlight(item.title, q, limit=None) \
            if item.title else ""
        item.excerpt_html = feedback_search.highlight(item.text, q, limit=260)
    return rows


def _toast(request: HttpRequest, message: str, *, error: bool = False,
           status: int = 200, ids: list[int] | None = None) -> HttpResponse:
    if not request.htmx:
        (messages.error if error else messages.success)(request, message)
        return redirect(_back(request))
    return render(request, "features/_inbox_link_toast.html", {
        "message": message, "error": error, "rows": _changed_rows(request, ids or []),
        "oob": True, "can_triage": policy.can(request.member, "feedback", Action.CHANGE),
    }, status=status)


@policy.requires(MODULE, Action.CREATE)
@require_POST
def inbox_link(request: HttpRequest) -> HttpResponse:
    """Link the selected inbox items to one feature."""
    member = request.member
    form = BulkLinkForm(request.POST)
    if not form.is_valid():
        return _toast(request, " ".join(str(e) for errors in form.errors.values()
                                        for e in errors), error=True, status=422)
    feature_id = parsing.parse_id(str(form.cleaned_data["feature"]))
    feature = selectors.feature_get(member=member, pk=feature_id, action=Action.CREATE)
    items = feedback_selectors.feedback_by_ids(member=member, ids=form.cleaned_data["ids"])
    try:
        result = services.feature_link_feedback(
            actor=member, feature=feature, feedback_items=items,
            importance=form.cleaned_data["importance"] or None, origin=LinkOrigin.BULK)
    except DomainError as error:
        return _toast(request, error.message, error=True, status=422)
    message = ngettext("%(n)d item linked to “%(feature)s”.",
                       "%(n)d items linked to “%(feature)s”.", result.created) % {
        "n": result.created, "feature": feature.title}
    already = result.unchanged + result.updated
    if already:
        message += " " + ngettext("%(n)d item was already linked.",
                                  "%(n)d items were already linked.", already) % {"n": already}
    return _toast(request, message, ids=[item.pk for item in items])
