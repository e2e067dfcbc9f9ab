"""The prioritisation board: the ranked list with each score's breakdown, filters, manual moves
(drag and drop, with a reason), the value-versus-effort matrix, the squad comparison and the
export of the ranked list (CSV/XLSX).

The filter on the requesting customers' segment is customers' business data: for a member who
may not see it, a segment in the address (a shared link) is not applied, and the pages say why
(422, as the inbox); the export simply leaves it out."""

from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from moulin.accounts import selectors as account_selectors
from moulin.accounts.audit import Origin
from moulin.accounts.models import Member
from moulin.core import policy
from moulin.core.errors import DomainError
from moulin.core.forms import select_options
from moulin.core.policy import Action
from moulin.customers import selectors as customer_selectors
from moulin.features import selectors, services
from moulin.features.export import board_export
from moulin.features.forms import MoveForm
from moulin.features.models import FeatureStatus
from moulin.feedback import selectors as feedback_selectors

MODULE = "features"
PAGE_SIZE = 100
# Driver columns shown at first; the others fold away (a toggle shows them, and each score
# opens its full breakdown).
SHOWN_DRIVERS = 3


def board_filters(params: QueryDict, member: Member) -> selectors.FeatureFilters:
    """The board's filters from a query string, as ``member`` may use them (a filter on
    customers' business data is refused and explained for a member who may not see it)."""
    return selectors.FeatureFilters.from_query(params, member=member)


def _filter_choices(member, filters: selectors.FeatureFilters) -> dict:
    """The filter form's selects; the segment one only for members who may see customers'
    business data."""
    choices = {
        "squad": select_options(
            [(s.pk, s.name) for s in account_selectors.squad_list(member=member)],
            filters.squad, _("All squads")),
        "product_area": select_options(
            [(a.pk, a.name) for a in feedback_selectors.product_area_list(member=member)],
            filters.product_area, _("All product areas")),
        "status": select_options(FeatureStatus.choices, filters.status, _("Any status")),
    }
    if policy.can_see_customer_data(member):
        choices["segment"] = select_options(
            [(s.pk, s.name) for s in customer_selectors.segment_list(member=member)],
            filters.segment, _("All segments"))
    return choices


def _query(filters: selectors.FeatureFilters) -> str:
    query = QueryDict(mutable=True)
    query.update(filters.as_query())
    return query.urlencode()


def driver_columns(rows) -> list[dict]:
    """The standard framework's drivers, for the breakdown columns (from the first row that
    has a breakdown)."""
    for row in rows:
        drivers = (row.score_breakdown or {}).get("drivers")
        if drivers:
            return [{"key": d["key"], "label": d["label"], "extra": index >= SHOWN_DRIVERS}
                    for index, d in enumerate(drivers)]
    return []


def _annotate(rows, columns: list[dict]) -> None:
    for row in rows:
        values = {d["key"]: d for d in (row.score_breakdown or {}).get("drivers", [])}
        row.driver_values = [{"value": values.get(c["key"], {}).get("value"),
                              "extra": c["extra"]} for c in columns]
        row.breakdown = row.score_breakdown or {}


def _board_context(member, params: QueryDict) -> dict:
    filters = board_filters(params, member)
    services.demand_refresh_stale(organisation_id=member.organisation_id)
    try:
        page = selectors.board_page(member=member, filters=filters,
                                    cursor=params.get("cursor") or None, limit=PAGE_SIZE)
    except DomainError as error:  # a cursor edited by hand, or from another list
        filters.errors["cursor"] = error.message
        page = selectors.board_page(member=member, filters=filters, limit=PAGE_SIZE)
    rows = page["items"]
    # Ranks on the whole board (the list may be filtered): what a move's position refers to.
    # (every id in ranked order: 9 ms at 5,000 features, as fast as numbering the board in
    # the database for the page's rows only; benchmarks/features_board.py)
    ranks = services.board_ranks(member.organisation_id)
    for row in rows:
        row.rank = ranks.get(row.pk, row.position)
    standard = services.framework_standard(organisation_id=member.organisation_id)
    services.scores_in_reader_language(organisation_id=member.organisation_id, features=rows,
                                       standard=standard)
    columns = driver_columns(rows)
    _annotate(rows, columns)
    return {
        "rows": rows, "columns": columns, "next_cursor": page["next_cursor"],
        "extra_drivers": sum(1 for c in columns if c["extra"]),
        "filters": filters, "errors": filters.errors, "query": _query(filters),
        "filtered": bool(filters.as_query()), "standard": standard,
        "currency": member.organisation.currency,
        "can_move": policy.can(member, MODULE, Action.CHANGE),
        "can_export": policy.can(member, MODULE, Action.EXPORT),
        "move_form": MoveForm(),
    }


@policy.requires(MODULE, Action.VIEW)
@require_GET
def board(request: HttpRequest) -> HttpResponse:
    """The ranked list: pinned features first, then by the standard framework's score."""
    context = _board_context(request.member, request.GET)
    status = 422 if context["errors"] else 200
    if request.htmx and request.htmx.target == "board-results":
        return render(request, "features/_board_results.html", context, status=status)
    context["selects"] = _filter_choices(request.member, context["filters"])
    context["tab"] = "board"
    return render(request, "features/board.html", context, status=status)


@policy.requires(MODULE, Action.CHANGE)
@require_POST
def board_move(request: HttpRequest) -> HttpResponse:
    """Move a feature to a place on the board, with the reason (required)."""
    member = request.member
    form = MoveForm(request.POST)
    back = f"{reverse('features:board')}?{request.POST.get('query', '')[:1000]}"
    if form.is_valid():
        feature = selectors.feature_get(member=member, pk=form.cleaned_data["feature"],
                                        action=Action.CHANGE)
        try:
            services.feature_move(actor=member, feature=feature,
                                  to_position=form.cleaned_data["position"],
                                  reason=form.cleaned_data["reason"])
        except DomainError as error:
            form.add_error("reason" if error.field == "reason" else
                           ("position" if error.field == "to_position" else None),
                           error.message)
        else:
            message = _("“%(title)s” moved to #%(n)d.") % {
                "title": feature.title, "n": form.cleaned_data["position"]}
            if not request.htmx:
                messages.success(request, message)
                return redirect(back)
            context = _board_context(member, QueryDict(request.POST.get("query", "")[:1000]))
            context["message"] = message
            return render(request, "features/_board_results.html", context)
    if not request.htmx:
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect(back)
    response = render(request, "features/_move_errors.html", {"form": form}, status=422)
    response["HX-Retarget"] = "#move-errors"
    response["HX-Reswap"] = "innerHTML"
    return response


@policy.requires(MODULE, Action.CHANGE)
@require_POST
def board_unpin(request: HttpRequest, pk: int) -> HttpResponse:
    """Give a feature's place back to its score."""
    member = request.member
    feature = selectors.feature_get(member=member, pk=pk, action=Action.CHANGE)
    services.feature_rank_clear(actor=member, feature=feature,
                                reason=request.POST.get("reason", "")[:500])
    messages.success(request, _("“%s” is ranked by its score again.") % feature.title)
    return redirect(f"{reverse('features:board')}?{request.POST.get('query', '')[:1000]}")


@policy.requires(MODULE, Action.VIEW)
@require_GET
def matrix(request: HttpRequest) -> HttpResponse:
    """Value (requesting ARR) versus effort, split at the medians into four quadrants."""
    member = request.member
    filters = board_filters(request.GET, member)
    services.demand_refresh_stale(organisation_id=member.organisation_id)
    data = selectors.value_effort_points(member=member, filters=filters)
    top = max([p.value for p in data.points] or [Decimal(0)]) or Decimal(1)
    currency = member.organisation.currency
    chart = {
        "x_label": _("Effort (person-weeks)"), "y_label": _("Requesting ARR (%s)") % currency,
        "x_split": float(data.median_effort or 0), "y_split": float(data.median_value or 0),
        "labels": {"quick_wins": _("Quick wins"), "big_bets": _("Big bets"),
                   "fill_ins": _("Fill-ins"), "time_sinks": _("Time sinks")},
        "points": [{"x": float(p.effort), "y": float(p.value), "title": p.title,
                    "squad": p.squad or _("No squad"),
                    "r": 4 + round(10 * float(p.value / top)),
                    "url": reverse("features:feature_detail", args=[p.id])}
                   for p in data.points],
    }
    quadrants = {"quick_wins": [], "big_bets": [], "fill_ins": [], "time_sinks": []}
    for point in data.points:
        high = point.value > (data.median_value or 0)
        cheap = point.effort <= (data.median_effort or 0)
        key = ("quick_wins" if cheap else "big_bets") if high else (
            "fill_ins" if cheap else "time_sinks")
        quadrants[key].append(point)
    return render(request, "features/board_matrix.html", {
        "chart": chart, "data": data, "quadrants": quadrants, "filters": filters,
        "query": _query(filters), "selects": _filter_choices(member, filters),
        "errors": filters.errors, "currency": currency, "tab": "matrix",
        "can_export": policy.can(member, MODULE, Action.EXPORT)},
        status=422 if filters.errors else 200)


SQUAD_TOP = 5
TOP_SCAN = 500  # board rows read in one go for the squads' tops


@policy.requires(MODULE, Action.VIEW)
@require_GET
def squads(request: HttpRequest) -> HttpResponse:
    """Squads side by side: features, mean and median score, requesting ARR, statuses, and
    each squad's top of the board."""
    member = request.member
    filters = board_filters(request.GET, member)
    services.demand_refresh_stale(organisation_id=member.organisation_id)
    rows = selectors.squad_comparison(member=member, filters=filters)
    # Each squad's 5 best, numbered with their whole-board rank (as on the board): read from
    # the top of the board, then for a squad whose features all rank lower, on their own.
    ranks = services.board_ranks(member.organisation_id)
    listed = selectors.board_list(member=member, filters=filters)
    tops: dict[int | None, list] = {}
    for feature in listed[:TOP_SCAN]:
        bucket = tops.setdefault(feature.squad_id, [])
        if len(bucket) < SQUAD_TOP:
            bucket.append(feature)
    for row in rows:
        if len(tops.get(row.squad_id, [])) < min(SQUAD_TOP, row.features):
            tops[row.squad_id] = list(listed.filter(squad_id=row.squad_id)[:SQUAD_TOP])
        row.top = tops.get(row.squad_id, [])
        for feature in row.top:
            feature.position = ranks.get(feature.pk)
        row.statuses = [{"label": label, "n": row.by_status.get(value, 0), "value": value}
                        for value, label in FeatureStatus.choices if row.by_status.get(value)]
    chart = {"labels": [row.name for row in rows], "horizontal": False, "datasets": [
        {"label": _("Mean score"), "values": [float(row.mean_score or 0) for row in rows]},
        {"label": _("Median score"), "values": [float(row.median_score or 0) for row in rows]},
    ]}
    return render(request, "features/board_squads.html", {
        "rows": rows, "chart": chart, "filters": filters, "query": _query(filters),
        "selects": _filter_choices(member, filters), "errors": filters.errors,
        "currency": member.organisation.currency, "tab": "squads",
        "can_export": policy.can(member, MODULE, Action.EXPORT)},
        status=422 if filters.errors else 200)


# --- Export -----------------------------------------------------------------------------------

@policy.requires(MODULE, Action.EXPORT)
@require_GET
def export(request: HttpRequest) -> HttpResponse:
    """The ranked list (same filters) as ``?format=csv`` or ``xlsx``. A filter the member may
    not use is left out, as on the board (the file has no room to say why)."""
    member = request.member
    services.demand_refresh_stale(organisation_id=member.organisation_id)
    return board_export(member=member, filters=board_filters(request.GET, member),
                        fmt=request.GET.get("format", "csv"),
                        origin=Origin.from_request(request))
