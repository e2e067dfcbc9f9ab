"""Triage pages: model versions (metrics, progress, retrain, rollback), the organisation's
triage settings, and the analysis of existing feedback (backfill)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from moulin.accounts.audit import Origin
from moulin.core import parsing, policy
from moulin.core.errors import DomainError
from moulin.core.policy import Action
from moulin.core.views import render_form
from moulin.triage import selectors, services
from moulin.triage.forms import TriageSettingsForm
from moulin.triage.models import JobStatus, ModelVersion

MODULE = "feedback"


def _percent(value) -> str:
    return "—" if value is None else f"{100 * float(value):.0f} %"


def _theme_rows(version: ModelVersion, themes: dict) -> list[dict]:
    """Per-theme precision, recall and label counts, with today's theme names."""
    metrics = version.metrics or {}
    per_theme = metrics.get("per_theme") or {}
    labels = metrics.get("labels_per_theme") or {}
    rows = []
    for key in sorted(set(per_theme) | set(labels), key=lambda k: -(labels.get(k) or 0)):
        theme = themes.get(int(key)) if str(key).isdigit() else None
        scores = per_theme.get(key) or {}
        rows.append({"theme": theme, "key": key, "labels": labels.get(key, 0),
                     "precision": _percent(scores.get("precision")),
                     "recall": _percent(scores.get("recall")),
                     "support": scores.get("support")})
    return rows


def _confusions(version: ModelVersion, themes: dict) -> list[dict]:
    out = []
    for pair in (version.metrics or {}).get("confusion_pairs") or []:
        if isinstance(pair, list | tuple) and len(pair) == 3:
            truth, predicted, count = pair
            out.append({"truth": themes.get(int(truth)) if str(truth).isdigit() else truth,
                        "predicted": themes.get(int(predicted)) if str(predicted).isdigit()
                        else predicted, "count": count})
    return out


def _auto_apply_rows(version: ModelVersion, threshold: float) -> list[dict]:
    """What each threshold would have done on the held-out feedback; the organisation's
    current threshold is marked (it may sit between two of the measured levels)."""
    rows = []
    for level in (version.metrics or {}).get("auto_apply") or []:
        if not isinstance(level, dict) or level.get("threshold") is None:
            continue
        rows.append({"threshold": level["threshold"], "share": level.get("share"),
                     "accuracy": level.get("accuracy"),
                     "current": abs(float(level["threshold"]) - threshold) < 1e-9})
    return rows


VERSIONS_PER_PAGE = 50


def _page_context(request: HttpRequest, form: TriageSettingsForm | None = None) -> dict:
    member = request.member
    settings = selectors.triage_settings(member=member)
    services.model_versions_close_stalled(organisation_id=member.organisation_id)
    every = selectors.model_version_list(member=member)
    # 50 versions a page, newest first; ?before=N lists the ones older than vN
    before = parsing.parse_id(request.GET.get("before"))
    listed = every.filter(number__lt=before) if before else every
    versions = list(listed[:VERSIONS_PER_PAGE + 1])
    older = versions[VERSIONS_PER_PAGE - 1].number if len(versions) > VERSIONS_PER_PAGE else None
    versions = versions[:VERSIONS_PER_PAGE]
    return {
        "versions": versions, "older_than": older, "paged": bool(before),
        "active": every.filter(is_active=True).first(),
        "in_progress": every.filter(status__in=(JobStatus.QUEUED, JobStatus.RUNNING)).first(),
        "settings": settings,
        "form": form or TriageSettingsForm(initial={
            "enabled": settings.enabled,
            "auto_apply_threshold": TriageSettingsForm.percent(settings.auto_apply_threshold),
            "retrain_after": settings.retrain_after, "embedder": settings.embedder}),
        "counts": selectors.triage_counts(member=member),
        "backfill": selectors.backfill_job_latest(member=member),
        "can_manage": policy.can(member, MODULE, Action.CHANGE),
        "advice": selectors.embedder_advice(member=member),
    }


@policy.requires(MODULE, Action.VIEW)
@require_GET
def model_versions(request: HttpRequest) -> HttpResponse:
    """Every trained version with its held-out numbers; retrain, roll back, settings."""
    return render_form(request, "triage/model_versions.html", _page_context(request))


@policy.requires(MODULE, Action.VIEW)
def model_version_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One version: accuracy, macro-F1, precision and recall per theme, confused pairs."""
    member = request.member
    version = selectors.model_version_get(member=member, pk=pk)  # 404 first
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    version = services.model_version_as_it_stands(version)
    themes = selectors.themes_by_id(organisation_id=member.organisation_id)
    metrics = version.metrics or {}
    threshold = selectors.triage_settings(member=member).auto_apply_threshold
    return render_form(request, "triage/model_version_detail.html", {
        "auto_apply": _auto_apply_rows(version, threshold), "threshold": threshold,
        "calibration_error": metrics.get("calibration_error"),
        "version": version, "metrics": metrics, "themes": _theme_rows(version, themes),
        "confusions": _confusions(version, themes),
        "accuracy": _percent(metrics.get("accuracy")),
        "macro_f1": _percent(metrics.get("macro_f1")),
        "can_manage": policy.can(member, MODULE, Action.CHANGE),
        "advice": selectors.embedder_advice(member=member),
    })


@policy.requires(MODULE, Action.VIEW)
def model_version_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress card of a training (htmx polls it every second until it ends, or until its
    worker is found stopped: then it is failed and can be run again)."""
    version = selectors.model_version_get(member=request.member, pk=pk)  # 404 first
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    version = services.model_version_as_it_stands(version)
    return render_form(request, "triage/_training_progress.html", {
        "version": version, "can_manage": policy.can(request.member, MODULE, Action.CHANGE)})


@policy.requires(MODULE, Action.CHANGE)
@require_POST
def model_retrain(request: HttpRequest) -> HttpResponse:
    """Retrain now (also re-runs a failed training)."""
    version = services.model_retrain_on_demand(actor=request.member,
                                               origin=Origin.from_request(request))
    messages.success(request, _("Retraining queued as %s.") % version)
    return redirect("triage:model_versions")


@policy.requires(MODULE, Action.CHANGE)
@require_POST
def model_activate(request: HttpRequest, pk: int) -> HttpResponse:
    """Roll back (or forward) to this version: suggestions come from it again."""
    version = selectors.model_version_get(member=request.member, pk=pk, action=Action.CHANGE)
    try:
        services.model_activate(actor=request.member, origin=Origin.from_request(request),
                                version=version)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("%s is now the active model: suggestions are being "
                                    "refreshed.") % version)
    return redirect("triage:model_versions")


@policy.requires(MODULE, Action.CHANGE)
@require_POST
def triage_settings(request: HttpRequest) -> HttpResponse:
    """Save the organisation's triage settings."""
    form = TriageSettingsForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.triage_settings_update(
                actor=request.member, origin=Origin.from_request(request),
                enabled=data["enabled"], auto_apply_threshold=data["auto_apply_threshold"],
                retrain_after=data["retrain_after"], embedder=data["embedder"] or None)
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(request, _("Triage settings saved."))
            return redirect("triage:model_versions")
    return render_form(request, "triage/model_versions.html", _page_context(request, form),
                       invalid=True)


@policy.requires(MODULE, Action.CHANGE)
@require_POST
def backfill(request: HttpRequest) -> HttpResponse:
    """Analyse every item that has no analysis yet, in the background."""
    services.backfill_request(organisation_id=request.member.organisation_id,
                              actor=request.member)
    messages.success(request, _("Analysis of existing feedback queued."))
    return redirect("triage:model_versions")


@policy.requires(MODULE, Action.VIEW)
@require_GET
def backfill_progress(request: HttpRequest) -> HttpResponse:
    """The progress of the latest backfill (polled)."""
    return render_form(request, "triage/_backfill_progress.html",
                       {"backfill": selectors.backfill_job_latest(member=request.member)})
