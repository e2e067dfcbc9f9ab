"""Insights: volume per theme over time, rising themes, customers/ARR and segments behind each
theme, sentiment per theme; filtered by period and product area."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import render

from moulin.core import policy
from moulin.core.policy import Action
from moulin.triage import selectors_insights

MODULE = "feedback"


@policy.requires(MODULE, Action.VIEW)
def insights(request: HttpRequest) -> HttpResponse:
    """The insights page."""
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    filters = selectors_insights.InsightFilters.from_query(request.GET)
    data = selectors_insights.insights(member=request.member, filters=filters)
    chart = {"weeks": data.weeks, "series": data.series}
    return render(request, "triage/insights.html", {
        "data": data, "filters": filters, "chart": chart,
        "periods": selectors_insights.PERIODS,
    }, status=422 if filters.errors else 200)
