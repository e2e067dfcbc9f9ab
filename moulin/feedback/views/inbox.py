"""The triage inbox: filtered list with counters, keyboard and bulk triage with undo, saved
views. Each view: check access → validate → one service call → render.

The inbox opens on untriaged items (status "new"); ``status=all`` shows every status. The same
parsing serves the list, the saved views and the exports, so what is exported is what is seen.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from moulin.accounts import selectors as account_selectors
from moulin.accounts.models import Member
from moulin.core import parsing, policy
from moulin.core.errors import DomainError
from moulin.core.forms import select_options
from moulin.core.policy import Action
from moulin.customers import selectors as customer_selectors
from moulin.customers.models import Lifecycle
from moulin.feedback import search, selectors, services
from moulin.feedback.forms import BULK_ACTION_CHOICES, BulkActionForm, SavedViewForm
from moulin.feedback.models import Feedback, Importance, Language, Source, Status
from moulin.feedback.selectors import FeedbackFilters

MODULE = "feedback"
PAGE_SIZE = 50
ALL_STATUSES = "all"
# Parameters of the inbox address that are not filters.
NOT_FILTERS = ("cursor", "format")


# --- Filters ------------------------------------------------------------------------------------

def inbox_filters(params: QueryDict, member: Member) -> FeedbackFilters:
    """The inbox's filters from a query string: untriaged items unless it names a status
    (``status=all`` for every status). Filters on customers' business data are refused (and
    explained) for a member who may not see it."""
    query = params.copy()
    for key in NOT_FILTERS:
        query.pop(key, None)
    statuses = [s for s in query.getlist("status") if s.strip()]
    if ALL_STATUSES in statuses:
        query.pop("status")
    elif not statuses:
        query.setlist("status", [Status.NEW])
    return FeedbackFilters.from_query(query, member=member)


def inbox_query(filters: FeedbackFilters) -> QueryDict:
    """The address of these filters (for links, pages, exports and saved views)."""
    query = filters.to_query()
    if not filters.status:
        query["status"] = ALL_STATUSES
    return query


def _without(query: QueryDict, name: str) -> str:
    query = query.copy()
    query.pop(name, None)
    return query.urlencode()


def _highlighted(rows: list[Feedback], q: str) -> list[Feedback]:
    """Give each row its title and excerpt as escaped HTML with the search words marked."""
    for item in rows:
        item.title_html = search.highlight(item.title, q, limit=None) if item.title else ""
        item.excerpt_html = search.highlight(item.text, q, limit=260)
    return rows


def _weekly_intake(rows: list[dict], weeks: int = 8) -> dict:
    """Items received per source per week as a table (weeks as columns, newest last)."""
    today = timezone.localdate()
    monday = today - timedelta(days=today.weekday())
    columns = [monday - timedelta(weeks=i) for i in range(weeks - 1, -1, -1)]
    cells: dict[tuple[str, object], int] = {}
    for row in rows:
        day = row["week"]  # the Monday, as a datetime in the current time zone
        if isinstance(day, datetime):
            day = (timezone.localtime(day) if timezone.is_aware(day) else day).date()
        cells[(row["source"], day)] = cells.get((row["source"], day), 0) + row["n"]
    sources = sorted({source for source, _day in cells}, key=lambda s: str(Source(s).label)
                     if s in Source.values else s)
    peak = max([cells.get((s, d), 0) for s in sources for d in columns] or [0]) or 1
    table = []
    for source in sources:
        counts = [cells.get((source, day), 0) for day in columns]
        table.append({
            "source": Source(source).label if source in Source.values else source,
            "cells": [{"n": n, "percent": round(100 * n / peak)} for n in counts],
            "total": sum(counts),
        })
    totals = [sum(cells.get((s, day), 0) for s in sources) for day in columns]
    return {"columns": columns, "rows": table, "totals": totals, "total": sum(totals)}


def _duration(hours: float | None) -> str:
    if hours is None:
        return "—"
    if hours < 48:
        return _("%(n)s h") % {"n": f"{hours:.1f}".rstrip("0").rstrip(".")}
    return _("%(n)s days") % {"n": f"{hours / 24:.1f}".rstrip("0").rstrip(".")}


def _choices(member, filters: FeedbackFilters) -> dict:
    """Everything the filter form offers (full page only). Segment, plan, lifecycle, ARR and
    the ARR sort only for members who may see customers' business data."""
    customer_data = policy.can_see_customer_data(member)
    sorts = [("newest", _("Newest first")), ("oldest", _("Oldest first"))]
    if customer_data:
        sorts.append(("arr", _("Highest ARR first")))
    customer = None
    if filters.customer:
        customer = selectors.feedback_customer(member=member, pk=filters.customer)
    areas = [(a.pk, a.name) for a in selectors.product_area_list(member=member)]
    tags = [(t.pk, t.name) for t in selectors.tag_list(member=member)]
    selects = {
        "status": select_options([*Status.choices, (ALL_STATUSES, _("All statuses"))],
                                 filters.status or [ALL_STATUSES]),
        "source": select_options(Source.choices, filters.source, _("All sources")),
        "importance": select_options(Importance.choices, filters.importance,
                                     _("Any importance")),
        "sort": select_options(sorts, filters.sort),
        "language": select_options(Language.choices, filters.language, _("Any language")),
        "product_area": select_options(areas, filters.product_area, _("All product areas")),
        "tag": select_options(tags, filters.tag, _("Any tag")),
        "submitted_by": select_options(
            [(m.pk, m.name) for m in account_selectors.member_list(member=member)],
            filters.submitted_by, _("Anyone")),
        "department": select_options(
            [(d.pk, d.name) for d in account_selectors.department_list(member=member)],
            filters.department, _("All departments")),
    }
    if customer_data:
        selects.update({
            "lifecycle": select_options(Lifecycle.choices, filters.lifecycle,
                                        _("Any lifecycle")),
            "segment": select_options([(s.pk, s.name) for s in customer_selectors.segment_list(
                member=member)], filters.segment, _("All segments")),
            "plan": select_options([(p, p) for p in customer_selectors.plan_list(member=member)],
                                   filters.plan, _("All plans")),
        })
    return {
        "selects": selects,
        "areas": areas, "tag_names": [name for _pk, name in tags],
        "importances": Importance.choices,
        "filter_customer": customer,
    }


def _saved_views(member, query: str) -> list[dict]:
    views = []
    for view in selectors.saved_view_list(member=member):
        views.append({"view": view, "current": view.query == query,
                      "deletable": view.owner_id == member.pk or (view.shared
                                                                  and member.is_admin)})
    return views


# --- The list -----------------------------------------------------------------------------------

@policy.requires(MODULE, Action.VIEW)
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    """The triage inbox: filters, counters, 50 items a page, keyboard and bulk triage."""
    member = request.member
    filters = inbox_filters(request.GET, member)
    errors = dict(filters.errors)
    try:
        page = selectors.feedback_page(member=member, filters=filters,
                                       cursor=request.GET.get("cursor") or None, size=PAGE_SIZE)
    except DomainError as error:  # a stale or forged page link: start again from the top
        errors["cursor"] = error.message
        page = selectors.feedback_page(member=member, filters=filters, size=PAGE_SIZE)
    query = inbox_query(filters)
    context = {
        "rows": _highlighted(page["items"], filters.q),
        "next_cursor": page["next_cursor"],
        "is_first_page": not request.GET.get("cursor"),
        "filters": filters,
        "errors": errors,
        "query": query.urlencode(),
        "all_statuses": not filters.status,
        "can_triage": policy.can(member, MODULE, Action.CHANGE),
        "can_share": policy.can(member, MODULE, Action.CHANGE),
        "can_export": policy.can(member, MODULE, Action.EXPORT),
        "saved_views": _saved_views(member, query.urlencode()),
        "saved_view_form": SavedViewForm(initial={"query": query.urlencode()}),
        "default_query": inbox_query(inbox_filters(QueryDict(), member)).urlencode(),
        "all_query": f"status={ALL_STATUSES}",
    }
    status = 422 if errors else 200
    if request.htmx and request.htmx.target == "inbox-results":
        return render(request, "feedback/_inbox_rows.html", context, status=status)
    counters = selectors.inbox_counters(member=member)
    context.update(_choices(member, filters))
    context.update({
        "counters": counters,
        "oldest_untriaged": counters.oldest_untriaged_days,
        "median_to_triage": _duration(counters.median_hours_to_triage),
        "intake": _weekly_intake(counters.per_source_per_week),
        "can_create": policy.can(member, MODULE, Action.CREATE),
        "raw": {name: request.GET.get(name, "")[:100] for name in ("arr_min", "arr_max")},
        "query_without_customer": _without(query, "customer"),
        "more_filters_open": any([filters.date_from, filters.date_to, filters.segment,
                                  filters.plan, filters.arr_min is not None,
                                  filters.arr_max is not None, filters.lifecycle,
                                  filters.product_area, filters.tag, filters.language,
                                  filters.submitted_by, filters.department]),
    })
    return render(request, "feedback/inbox.html", context, status=status)


# --- Triage actions -------------------------------------------------------------------------

def _back(request: HttpRequest) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return reverse("feedback:inbox")


def _rows_and_toast(request: HttpRequest, ids: list[int], message: str, *,
                    undo: list[int] | None = None, redo: list[int] | None = None,
                    status: int = 200) -> HttpResponse:
    """The changed rows (swapped in place, out of band) and the toast with its Undo button."""
    member = request.member
    rows = selectors.feedback_rows(member=member, ids=ids)
    q = FeedbackFilters.from_query({"q": request.POST.get("q", "")}).q
    return render(request, "feedback/_triage_result.html", {
        "rows": _highlighted(rows, q), "message": message,
        "undo": ",".join(map(str, undo or [])), "redo": ",".join(map(str, redo or [])),
        "can_triage": True, "oob": True,
    }, status=status)


def _toast(request: HttpRequest, message: str, *, status: int = 422) -> HttpResponse:
    return render(request, "feedback/_triage_result.html",
                  {"rows": [], "message": message, "error": True}, status=status)


@policy.requires(MODULE, Action.CHANGE)
@require_POST
def bulk_action(request: HttpRequest) -> HttpResponse:
    """One triage action (archive, triage, close, importance, tag, area…) on selected items."""
    member = request.member
    form = BulkActionForm(request.POST)
    if not form.is_valid():
        message = " ".join(str(e) for errors in form.errors.values() for e in errors)
        if request.htmx:
            return _toast(request, message)
        messages.error(request, message)
        return redirect(_back(request))
    data = form.cleaned_data
    items = selectors.feedback_by_ids(member=member, ids=data["ids"], action=Action.CHANGE)
    try:
        with transaction.atomic():  # one bad value leaves every item as it was
            events = services.feedback_bulk_action(actor=member, items=items,
                                                   action=data["action"], value=data["value"])
    except DomainError as error:
        if request.htmx:
            return _toast(request, error.message)
        messages.error(request, error.message)
        return redirect(_back(request))
    label = dict(BULK_ACTION_CHOICES)[data["action"]]
    message = ngettext("%(action)s: %(n)d item changed.", "%(action)s: %(n)d items changed.",
                       len(events)) % {"action": label, "n": len(events)}
    if not events:
        message = _("Nothing to change: the selected items already were like that.")
    if not request.htmx:
        messages.success(request, message)
        return redirect(_back(request))
    return _rows_and_toast(request, [item.pk for item in items], message,
                           undo=[event.pk for event in events])


@policy.requires(MODULE, Action.CHANGE)
@require_POST
def undo(request: HttpRequest) -> HttpResponse:
    """Put back what a triage action changed (the events it returned)."""
    member = request.member
    ids = [number for part in request.POST.get("events", "").split(",")
           if (number := parsing.parse_id(part)) is not None][:500]
    events = selectors.feedback_event_list(member=member, ids=ids)
    if not events:
        if request.htmx:
            return _toast(request, _("There is nothing to undo."))
        messages.error(request, _("There is nothing to undo."))
        return redirect(_back(request))
    try:
        with transaction.atomic():
            undone = services.feedback_bulk_undo(actor=member, events=events)
    except DomainError as error:
        if request.htmx:
            return _toast(request, error.message)
        messages.error(request, error.message)
        return redirect(_back(request))
    message = ngettext("Undone: %(n)d item is back as it was.",
                       "Undone: %(n)d items are back as they were.",
                       len(events)) % {"n": len(events)}
    if not request.htmx:
        messages.success(request, message)
        return redirect(_back(request))
    return _rows_and_toast(request, sorted({e.feedback_id for e in events}), message,
                           redo=[event.pk for event in undone])


# --- Saved views ----------------------------------------------------------------------------

@policy.requires(MODULE, Action.VIEW)
@require_POST
def saved_view_save(request: HttpRequest) -> HttpResponse:
    """Save the current filters under a name, for oneself or the whole organisation."""
    member = request.member
    form = SavedViewForm(request.POST)
    query = ""
    if form.is_valid():
        query = inbox_query(inbox_filters(QueryDict(form.cleaned_data["query"]),
                                          member)).urlencode()
        try:
            view = services.saved_view_save(actor=member, name=form.cleaned_data["name"],
                                            query=query, shared=form.cleaned_data["shared"])
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(request, _("View “%s” saved.") % view.name)
            return redirect(f"{reverse('feedback:inbox')}?{view.query}")
    messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
    return redirect(f"{reverse('feedback:inbox')}?{query}" if query else "feedback:inbox")


@policy.requires(MODULE, Action.VIEW)
@require_POST
def saved_view_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Delete one of one's saved views."""
    view = selectors.saved_view_get(member=request.member, pk=pk)
    try:
        services.saved_view_delete(actor=request.member, view=view)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("View “%s” deleted.") % view.name)
    return redirect("feedback:inbox")
