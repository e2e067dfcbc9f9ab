"""The "why this priority" page of a feature, to share with Sales and Customer Success: its
rank, its score and what drives it, the manual move's reason, and the customers and verbatims
behind it. Customer names and ARR appear only for members who may view customers; the others
read the aggregates."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import render

from moulin.core import policy
from moulin.core.policy import Action
from moulin.features import selectors, services
from moulin.features.models import Feature

MODULE = "features"


def contributions(breakdown: dict, maxima: dict[str, float] | None = None) -> list[dict]:
    """Each driver with a bar: its value against the highest value of that driver on the
    board (drivers are in different units, and a formula may divide by one, so comparing a
    driver with its peers is what reads honestly whatever the formula)."""
    maxima = maxima or {}
    out = []
    for d in breakdown.get("drivers") or []:
        top = maxima.get(d["key"]) or 0
        value = d.get("value")
        percent = round(100 * abs(value) / top) if value is not None and top else 0
        out.append({**d, "percent": min(percent, 100)})
    return out


@policy.requires(MODULE, Action.VIEW)
def feature_why(request: HttpRequest, pk: int) -> HttpResponse:
    """Why this feature sits where it does on the board."""
    member = request.member
    feature = selectors.feature_get(member=member, pk=pk)
    if request.method not in ("GET", "HEAD"):  # 404 first, then the method
        return HttpResponseNotAllowed(["GET", "HEAD"])
    if feature.demand_stale:
        services.demand_refresh_stale(organisation_id=member.organisation_id)
        feature = selectors.feature_get(member=member, pk=pk)
    services.scores_in_reader_language(organisation_id=member.organisation_id,
                                       features=[feature])
    why = selectors.feature_why(member=member, feature=feature)
    return render(request, "features/feature_why.html", {
        "feature": feature, "why": why, "insights": why.insights,
        "contributions": contributions(why.breakdown, selectors.driver_maxima(member=member)),
        "currency": why.insights.currency,
        "share_url": request.build_absolute_uri(),
        "total": Feature.objects.filter(organisation_id=member.organisation_id).count(),
    })
