"""The audit log page and its CSV export."""

from datetime import UTC

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from moulin.accounts import selectors
from moulin.accounts.audit import ACTIONS, Origin, audit_record
from moulin.accounts.forms import AuditFilterForm
from moulin.core import policy
from moulin.core.csv_export import csv_download
from moulin.core.policy import Action


def _filters(request: HttpRequest) -> tuple[AuditFilterForm, selectors.AuditFilters]:
    form = AuditFilterForm(request.GET or None, organisation_id=request.member.organisation_id)
    filters = selectors.AuditFilters()
    if form.is_valid():
        data = form.cleaned_data
        filters = selectors.AuditFilters(
            action=data["action"], actor_id=data["actor"].pk if data["actor"] else None,
            search=data["search"].strip(), date_from=data["date_from"], date_to=data["date_to"])
    return form, filters


@policy.requires("audit", Action.VIEW)
def audit_log(request: HttpRequest) -> HttpResponse:
    """Who did what, when and from where; filterable, 50 lines a page."""
    form, filters = _filters(request)
    entries = selectors.audit_entry_list(member=request.member, filters=filters)
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "actions": ACTIONS, "query": query.urlencode()}
    template = "accounts/_audit_rows.html" if request.htmx and request.htmx.target == \
        "audit-rows" else "accounts/audit_log.html"
    return render(request, template, context, status=422 if form.errors else 200)


@policy.requires("audit", Action.EXPORT)
def audit_log_export(request: HttpRequest) -> HttpResponse:
    """The filtered audit log as CSV (the export itself is audited)."""
    member = request.member
    form, filters = _filters(request)
    if form.errors:
        # Never export more than the person asked for: show the filters with their errors.
        return audit_log(request)
    entries = selectors.audit_entry_list(member=member, filters=filters)
    audit_record(organisation=member.organisation, actor=member, action="export.audit_log",
                 origin=Origin.from_request(request),
                 changes={"filters": {k: str(v) for k, v in vars(filters).items() if v}})
    rows = ([entry.created_at.astimezone(UTC).isoformat(), entry.actor_email, entry.action,
             ACTIONS.get(entry.action, entry.action), entry.target_type, entry.target_id,
             entry.target_label, entry.changes, entry.ip_address, entry.via, entry.user_agent]
            for entry in entries.iterator(chunk_size=2000))
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    return csv_download(rows, filename=f"moulin-audit-{stamp}.csv", header=[
        "time_utc", "actor", "action", "action_label", "target_type", "target_id", "target",
        "changes", "ip_address", "via", "user_agent"])
