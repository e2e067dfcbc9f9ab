"""The page of one feature: its fields, the business demand behind it (trend, segments, plans,
who asked, top verbatims), the linked feedback (importance, unlink, link more through a search
box), the score with its breakdown and history, and the feature's own history.

Linking and unlinking answer with the links section and, out of band, the demand summary and
the score panel, so the ARR, score, breakdown and rank visibly move as feedback is attached."""

from __future__ import annotations

import math
from decimal import Decimal

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext_lazy
from django.views.decorators.http import require_POST

from moulin.core import parsing, policy
from moulin.core.errors import DomainError
from moulin.core.policy import Action
from moulin.features import selectors, services
from moulin.features.forms import ImportanceForm, LinkForm
from moulin.features.models import Feature, FeatureStatus, FeedbackLink, LinkOrigin
from moulin.features.selectors.link_sources import cluster_choices, cluster_get
from moulin.feedback import selectors as feedback_selectors
from moulin.feedback.models import Importance
from moulin.feedback.selectors import FeedbackFilters
from moulin.triage import selectors as triage_selectors

MODULE = "features"
LINKS_SHOWN = 100
SEARCH_RESULTS = 12
FIELD_LABELS = {
    "title": gettext_lazy("Title"), "description": gettext_lazy("Description"),
    "status": gettext_lazy("Status"), "product_area": gettext_lazy("Product area"),
    "parent": gettext_lazy("Parent feature"), "squad": gettext_lazy("Squad"),
    "owner": pgettext_lazy("feature", "Owner"), "target_quarter": gettext_lazy("Target quarter"),
    "effort": gettext_lazy("Effort"), "delivery_url": gettext_lazy("Delivery link"),
    "score_inputs": gettext_lazy("Scoring inputs"),
}


def _value(field: str, value: object) -> str:
    if value in (None, "", [], {}):
        return "—"
    if field == "status":
        return str(dict(FeatureStatus.choices).get(value, value))
    if isinstance(value, dict):
        return ", ".join(f"{k} = {v}" for k, v in value.items())
    return str(value)


def history_entries(events) -> list[dict]:
    """The feature's events as people read them."""
    out = []
    for event in events:
        changes = event.changes or {}
        entry = {"event": event, "actor": event.actor.name if event.actor else _("Moulin"),
                 "changes": [], "text": ""}
        if event.kind in ("updated", "status"):
            entry["changes"] = [{"field": str(FIELD_LABELS.get(k, k)),
                                 "before": _value(k, v[0] if isinstance(v, list) else None),
                                 "after": _value(k, v[1] if isinstance(v, list) else v)}
                                for k, v in changes.items()]
        elif event.kind == "linked":
            count = changes.get("count", 0)
            entry["text"] = ngettext("linked %(n)d feedback item", "linked %(n)d feedback items",
                                     count) % {"n": count}
            if changes.get("importance_changed"):
                changed = changes["importance_changed"]
                entry["text"] += " · " + ngettext("importance changed on %(n)d item",
                                                  "importance changed on %(n)d items",
                                                  changed) % {"n": changed}
        elif event.kind == "unlinked":
            count = changes.get("count", 0)
            entry["text"] = ngettext("unlinked %(n)d feedback item",
                                     "unlinked %(n)d feedback items", count) % {"n": count}
        elif event.kind == "importance":
            before, after = (changes.get("importance") or [None, None])[:2]
            entry["text"] = _("importance of feedback #%(id)s: %(before)s → %(after)s") % {
                "id": changes.get("feedback"),
                "before": dict(Importance.choices).get(before, before),
                "after": dict(Importance.choices).get(after, after)}
        elif event.kind == "rank":
            before, after = (changes.get("position") or [None, None])[:2]
            entry["text"] = _("moved from #%(before)s to #%(after)s: “%(reason)s”") % {
                "before": before, "after": after, "reason": changes.get("reason", "")}
        elif event.kind == "rank_cleared":
            entry["text"] = _("gave the place back to the score")
        elif event.kind == "created":
            entry["text"] = _("created it")
        else:
            entry["text"] = event.kind
        out.append(entry)
    return out


def _weekly_chart(insights) -> dict:
    return {"labels": [row["week"].strftime("%d/%m") for row in insights.weekly],
            "values": [row["count"] for row in insights.weekly],
            "label": _("Feedback received per week")}


def _slices(slices) -> list[dict]:
    top = max([s.arr_total for s in slices] or [0]) or 1
    return [{"label": s.label, "customers": s.customer_count, "arr": s.arr_total,
             "unconverted": s.unconverted, "percent": round(100 * float(s.arr_total / top))}
            for s in slices]


def summary_context(member, feature: Feature) -> dict:
    """The demand figures, rank and score (re-rendered after every link change)."""
    return {
        "feature": feature, "currency": member.organisation.currency,
        "position": selectors.board_position(member=member, feature=feature),
        "can_see_customers": policy.can_see_customer_data(member),
    }


def links_context(member, feature: Feature) -> dict:
    links = selectors.feature_links(member=member, feature=feature)
    return {
        "feature": feature, "links": list(links[:LINKS_SHOWN]),
        "links_total": feature.feedback_links.count(),
        "can_see_feedback": policy.can(member, "feedback", Action.VIEW),
        "can_see_customers": policy.can_see_customer_data(member),
        "can_link": policy.can(member, MODULE, Action.CREATE),
        "importances": Importance.choices,
    }


def score_context(member, feature: Feature, history=None) -> dict:
    """The score panel: the standard's breakdown, the other frameworks, the score history
    (re-rendered after every link change, since the demand feeds the drivers)."""
    if history is None:
        history = selectors.feature_history(member=member, feature=feature)
    services.scores_in_reader_language(organisation_id=member.organisation_id,
                                       features=[feature])
    other_scores = []
    for framework in selectors.framework_list(member=member):
        if framework.is_standard:
            continue
        result = services.feature_score_with(framework=framework, feature=feature)
        other_scores.append({"framework": framework, "score": result.score,
                             "error": result.error})
    return {"breakdown": feature.score_breakdown or {}, "other_scores": other_scores,
            "scores": history.scores[:20]}


def _plural_count(value: Decimal | None) -> int:
    """The whole number that picks the plural form of a decimal quantity (gettext wants one):
    itself when whole (1 person-week, 3 person-weeks); for a fraction, 0 below 1 and the next
    whole number above, so English says “0.5 person-weeks”, “1.5 person-weeks” and French
    “0,5 semaine-personne”."""
    if value is None:
        return 0
    whole = math.floor(value)
    if value == whole:
        return int(whole)
    return 0 if value < 1 else int(math.ceil(value))


def _context(request: HttpRequest, feature: Feature) -> dict:
    member = request.member
    insights = selectors.feature_insights(member=member, feature=feature)
    history = selectors.feature_history(member=member, feature=feature)
    can_link = policy.can(member, MODULE, Action.CREATE)
    context = {
        **summary_context(member, feature), **links_context(member, feature),
        **score_context(member, feature, history),
        "insights": insights, "history": history_entries(history.events),
        "overrides": history.overrides[:10],
        "weekly_chart": _weekly_chart(insights),
        "segments": _slices(insights.by_segment), "plans": _slices(insights.by_plan),
        "children": list(feature.children.select_related("squad").order_by("title")),
        "can_change": policy.can(member, MODULE, Action.CHANGE),
        "can_delete": policy.can(member, MODULE, Action.DELETE),
        "can_create": can_link,
        "effort_count": _plural_count(feature.effort),
    }
    if can_link and policy.can(member, "feedback", Action.VIEW):
        context["themes"] = triage_selectors.theme_choices(member=member)
        context["clusters"] = cluster_choices(member=member)
    return context


@policy.requires(MODULE, Action.VIEW)
def feature_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Everything about one feature."""
    member = request.member
    feature = selectors.feature_get(member=member, pk=pk)  # 404 first, then the method
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    if feature.demand_stale:
        services.demand_refresh_stale(organisation_id=member.organisation_id)
        feature = selectors.feature_get(member=member, pk=pk)
    return render(request, "features/feature_detail.html", _context(request, feature))


def _links_answer(request: HttpRequest, feature: Feature, message: str, *,
                  error: bool = False, status: int = 200) -> HttpResponse:
    """The links section, the summary (out of band) and a toast; a redirect without htmx."""
    member = request.member
    if not request.htmx:
        (messages.error if error else messages.success)(request, message)
        return redirect("features:feature_detail", pk=feature.pk)
    feature = selectors.feature_get(member=member, pk=feature.pk)
    context = {**links_context(member, feature), **summary_context(member, feature),
               **score_context(member, feature),
               "message": message, "error": error, "oob": True}
    return render(request, "features/_feature_links_answer.html", context, status=status)


@policy.requires(MODULE, Action.CREATE)
def link_search(request: HttpRequest, pk: int) -> HttpResponse:
    """Feedback matching the words typed (or ``#id``), not linked yet, to link from here."""
    member = request.member
    feature = selectors.feature_get(member=member, pk=pk)
    if request.method not in ("GET", "HEAD"):  # 404 first, then the method
        return HttpResponseNotAllowed(["GET", "HEAD"])
    text = request.GET.get("q", "").replace("\x00", "").strip()[:200]
    results = []
    if text and policy.can(member, "feedback", Action.VIEW):
        linked = FeedbackLink.objects.filter(feature=feature).values("feedback_id")
        number = parsing.parse_id(text.removeprefix("#"))
        if number is not None:
            rows = feedback_selectors.feedback_by_ids(member=member, ids=[number])
            results = [item for item in rows if not feature.feedback_links.filter(
                feedback_id=item.pk).exists()]
        else:
            filters = FeedbackFilters.from_query({"q": text})
            results = list(feedback_selectors.feedback_list(member=member, filters=filters)
                           .exclude(pk__in=linked).select_related("customer")
                           [:SEARCH_RESULTS])
    return render(request, "features/_link_search_results.html", {
        "feature": feature, "results": results, "q": text, "importances": Importance.choices,
        "can_see_customers": policy.can_see_customer_data(member)})


@policy.requires(MODULE, Action.CREATE)
@require_POST
def link_add(request: HttpRequest, pk: int) -> HttpResponse:
    """Link one feedback item to this feature with its importance."""
    member = request.member
    feature = selectors.feature_get(member=member, pk=pk, action=Action.CREATE)
    form = LinkForm(request.POST)
    if not form.is_valid() or form.cleaned_data["feedback"] is None:
        return _links_answer(request, feature, _("Choose a feedback item and its importance."),
                             error=True, status=422)
    items = feedback_selectors.feedback_by_ids(member=member,
                                               ids=[form.cleaned_data["feedback"]])
    if not items:
        return _links_answer(request, feature, _("That feedback item does not exist or you "
                                                 "may not see it."), error=True, status=422)
    try:
        result = services.feature_link_feedback(
            actor=member, feature=feature, feedback_items=items,
            importance=form.cleaned_data["importance"], origin=LinkOrigin.MANUAL)
    except DomainError as error:
        return _links_answer(request, feature, error.message, error=True, status=422)
    message = _("Linked.") if result.created else (
        _("Importance updated.") if result.updated else _("Already linked."))
    return _links_answer(request, feature, message)


def _link_of(request: HttpRequest, pk: int, link_pk: int) -> tuple[Feature, FeedbackLink]:
    member = request.member
    feature = selectors.feature_get(member=member, pk=pk, action=Action.CREATE)
    link = get_object_or_404(FeedbackLink.objects.select_related("feature"), pk=link_pk,
                             feature=feature, organisation_id=member.organisation_id)
    return feature, link


@policy.requires(MODULE, Action.CREATE)
@require_POST
def link_importance(request: HttpRequest, pk: int, link_pk: int) -> HttpResponse:
    """Change how important one linked item is for this feature."""
    feature, link = _link_of(request, pk, link_pk)
    form = ImportanceForm(request.POST)
    if not form.is_valid():
        return _links_answer(request, feature, _("Choose an importance."), error=True,
                             status=422)
    try:
        services.feature_link_set_importance(actor=request.member, link=link,
                                             importance=form.cleaned_data["importance"])
    except DomainError as error:
        return _links_answer(request, feature, error.message, error=True, status=422)
    return _links_answer(request, feature, _("Importance updated."))


@policy.requires(MODULE, Action.CREATE)
@require_POST
def link_remove(request: HttpRequest, pk: int, link_pk: int) -> HttpResponse:
    """Unlink one feedback item from this feature."""
    feature, link = _link_of(request, pk, link_pk)
    try:
        services.feature_unlink_feedback(actor=request.member, feature=feature,
                                         feedback_items=[link.feedback])
    except DomainError as error:
        return _links_answer(request, feature, error.message, error=True, status=422)
    return _links_answer(request, feature, _("Unlinked."))


@policy.requires(MODULE, Action.CREATE)
@require_POST
def link_group(request: HttpRequest, pk: int) -> HttpResponse:
    """Link every item of a triage theme or of an emerging cluster to this feature."""
    member = request.member
    feature = selectors.feature_get(member=member, pk=pk, action=Action.CREATE)
    theme_id = parsing.parse_id(request.POST.get("theme", ""))
    cluster_id = parsing.parse_id(request.POST.get("cluster", ""))
    importance = request.POST.get("importance") or None
    if importance is not None and importance not in Importance.values:
        importance = None
    try:
        if theme_id is not None:
            theme = triage_selectors.theme_get(member=member, pk=theme_id)
            result = services.feature_link_theme(actor=member, feature=feature, theme=theme,
                                                 importance=importance)
        elif cluster_id is not None:
            cluster = cluster_get(member=member, pk=cluster_id)
            result = services.feature_link_cluster(actor=member, feature=feature,
                                                   cluster=cluster, importance=importance)
        else:
            raise DomainError(_("Choose a theme or an emerging theme to link."))
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("features:feature_detail", pk=feature.pk)
    already = result.updated + result.unchanged
    messages.success(request, " ".join([
        ngettext("%(n)d item linked.", "%(n)d items linked.", result.created)
        % {"n": result.created},
        ngettext("%(n)d item was already linked.", "%(n)d items were already linked.", already)
        % {"n": already}]))
    return redirect("features:feature_detail", pk=feature.pk)
