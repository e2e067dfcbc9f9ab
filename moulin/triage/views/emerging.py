"""Emerging themes: the groups of recent uncategorised feedback, the clustering run and its
progress, and the one-click conversion of a group into a theme (or its dismissal)."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import prefetch_related_objects
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from moulin.accounts.audit import Origin
from moulin.core import parsing, policy
from moulin.core.errors import DomainError
from moulin.core.policy import Action
from moulin.feedback import selectors as feedback_selectors
from moulin.triage.models import EmergingCluster, JobStatus, TriageJob
from moulin.triage.services import emerging, jobs

MODULE = "feedback"
ITEMS_SHOWN = 50


def _cards(clusters: list[EmergingCluster]) -> list[dict]:
    """What each cluster's card shows, read for all the cards at once (a fixed number of
    queries, whatever the number of clusters)."""
    prefetch_related_objects(clusters, emerging.cluster_items_prefetch(ITEMS_SHOWN))
    overlaps = emerging.cluster_theme_overlaps(
        clusters=[c for c in clusters if c.state == EmergingCluster.State.OPEN])
    representatives = emerging.clusters_representatives(clusters=clusters)
    return [{"cluster": cluster,
             "representatives": representatives[cluster.pk],
             "items": cluster.recent_items, "size": emerging.cluster_size_now(cluster),
             "trend_max": max([w.get("count", 0) for w in cluster.weekly_counts
                               if isinstance(w, dict)] or [0]),
             "name": cluster.label, "errors": {},
             "overlap": overlaps.get(cluster.pk)} for cluster in clusters]


def _job_context(job: TriageJob | None) -> dict:
    # a run whose worker stopped reporting is not waited for: "Run it again" replaces it
    active = job is not None and job.status in jobs.ACTIVE and not job.is_stalled
    percent = 0
    if job is not None and job.progress_total:
        percent = min(100, round(100 * job.progress_done / job.progress_total))
    if job is not None and job.status == JobStatus.DONE:
        percent = 100
    return {"job": job, "active": active, "percent": percent}


@policy.requires(MODULE, Action.VIEW)
def emerging_list(request: HttpRequest) -> HttpResponse:
    """The open emerging themes, biggest first, with the last clustering run."""
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    member = request.member
    clusters = list(emerging.cluster_list(member=member))
    converted = list(emerging.cluster_list(member=member,
                                           state=EmergingCluster.State.CONVERTED)[:10])
    return render(request, "triage/emerging.html", {
        "cards": _cards(clusters), "converted": converted,
        "can_change": policy.can(member, MODULE, Action.CHANGE),
        "product_areas": feedback_selectors.product_area_list(member=member),
        **_job_context(emerging.cluster_job_latest(member=member)),
    })


@policy.requires(MODULE, Action.CHANGE)
@require_POST
def emerging_run(request: HttpRequest) -> HttpResponse:
    """Start a clustering run now (or show the one already running)."""
    member = request.member
    weeks = parsing.parse_id(request.POST.get("weeks")) or emerging.WEEKS
    job = emerging.cluster_job_request(organisation_id=member.organisation_id, actor=member,
                                       origin=Origin.from_request(request), weeks=weeks)
    if request.htmx:
        return render(request, "triage/_emerging_progress.html", {
            **_job_context(job), "can_change": True})
    messages.success(request, _("Looking for emerging themes in the background…"))
    return redirect("triage:emerging")


@policy.requires(MODULE, Action.VIEW)
def emerging_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """A clustering run's progress (polled by htmx; the page reloads when it finishes)."""
    job = emerging.cluster_job_get(member=request.member, pk=pk)
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    context = {**_job_context(job),
               "can_change": policy.can(request.member, MODULE, Action.CHANGE)}
    response = render(request, "triage/_emerging_progress.html", context)
    if request.htmx and request.GET.get("poll") and not context["active"] \
            and job.status == JobStatus.DONE:
        response["HX-Refresh"] = "true"  # show the new clusters
    return response


def _refused(request: HttpRequest, cluster: EmergingCluster, errors: dict,
             name: str | None = None) -> HttpResponse:
    """The card again with the error beside the field (htmx), or a message on the page."""
    if request.htmx:
        card = _cards([cluster])[0]
        card["errors"] = errors
        if name is not None:
            card["name"] = name
        return render(request, "triage/_emerging_card.html", {
            "card": card, "can_change": True,
            "product_areas": feedback_selectors.product_area_list(member=request.member)},
            status=422)
    messages.error(request, next(iter(errors.values())))
    return redirect("triage:emerging")


def _done(request: HttpRequest, cluster: EmergingCluster, message: str,
          theme=None) -> HttpResponse:
    """The card replaced by its outcome (htmx), or the page with a message."""
    if request.htmx:
        cluster.refresh_from_db()
        return render(request, "triage/_emerging_done.html",
                      {"cluster": cluster, "theme": theme, "message": message})
    messages.success(request, message)
    return redirect("triage:emerging")


@policy.requires(MODULE, Action.CHANGE)
@require_POST
def emerging_convert(request: HttpRequest, pk: int) -> HttpResponse:
    """Turn a cluster into a theme (name prefilled from its keywords, editable)."""
    member = request.member
    cluster = emerging.cluster_get(member=member, pk=pk)
    name = str(request.POST.get("name_en", ""))
    try:
        converted = emerging.cluster_convert(
            actor=member, cluster=cluster, name_en=name,
            name_fr=str(request.POST.get("name_fr", "")),
            description=str(request.POST.get("description", "")),
            product_area_id=parsing.parse_id(request.POST.get("product_area")),
            origin=Origin.from_request(request))
    except DomainError as error:
        return _refused(request, cluster, {error.field or "name_en": error.message}, name=name)
    # the items that got it (not those deleted, merged or archived since the run)
    message = ngettext("Theme “%(name)s” created with %(count)d item.",
                       "Theme “%(name)s” created with %(count)d items.",
                       converted.items) % {"name": converted.theme.name,
                                           "count": converted.items}
    return _done(request, cluster, message, converted.theme)


@policy.requires(MODULE, Action.CHANGE)
@require_POST
def emerging_assign(request: HttpRequest, pk: int) -> HttpResponse:
    """The group is an existing theme: give its items that theme."""
    member = request.member
    cluster = emerging.cluster_get(member=member, pk=pk)
    try:
        converted = emerging.cluster_assign(
            actor=member, cluster=cluster, theme_id=parsing.parse_id(request.POST.get("theme")),
            origin=Origin.from_request(request))
    except DomainError as error:
        return _refused(request, cluster, {error.field or "theme": error.message})
    # the items that got it, as for a new theme
    message = ngettext("%(count)d item added to the theme “%(name)s”.",
                       "%(count)d items added to the theme “%(name)s”.",
                       converted.items) % {"count": converted.items,
                                           "name": converted.theme.name}
    return _done(request, cluster, message, converted.theme)


@policy.requires(MODULE, Action.CHANGE)
@require_POST
def emerging_dismiss(request: HttpRequest, pk: int) -> HttpResponse:
    """Not a theme: hide the cluster."""
    member = request.member
    cluster = emerging.cluster_get(member=member, pk=pk)
    try:
        emerging.cluster_dismiss(actor=member, cluster=cluster,
                                 origin=Origin.from_request(request))
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("triage:emerging")
    return _done(request, cluster, _("Dismissed “%(label)s”.") % {"label": cluster.label})
