"""The CSV/XLSX import wizard for feedback and for customers: upload → column mapping →
preview and validation → background import with live progress → summary, error report and
re-run of the failed rows. Each view: check access → validate → one service call → render."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from moulin.accounts.audit import Origin
from moulin.core import policy
from moulin.core.csv_export import csv_download
from moulin.core.errors import DomainError
from moulin.core.policy import Action
from moulin.core.views import render_form
from moulin.feedback import import_selectors, imports
from moulin.feedback.import_forms import ImportMappingForm, ImportUploadForm
from moulin.feedback.import_rows import preview_columns
from moulin.feedback.models import ImportJob, ImportKind, ImportStatus

MODULE = "feedback"
ERRORS_SHOWN = 100


def _add_error(form, error: DomainError) -> None:
    form.add_error(error.field if error.field in form.fields else None, error.message)


@policy.requires(MODULE, Action.VIEW)
def import_list(request: HttpRequest) -> HttpResponse:
    """Past and running imports, with their status and counts."""
    member = request.member
    page = Paginator(import_selectors.import_job_list(member=member), 50).get_page(
        request.GET.get("page"))
    can_import = any(import_selectors.can_import(member, kind) for kind in ImportKind.values)
    return render(request, "feedback/import_list.html", {"page": page,
                                                         "can_import": can_import})


@policy.requires(MODULE, Action.CREATE)
def import_new(request: HttpRequest) -> HttpResponse:
    """Step 1: upload a CSV or XLSX file of feedback or of customers."""
    member = request.member
    kinds = [kind for kind in ImportKind.values if import_selectors.can_import(member, kind)]
    wanted = request.GET.get("kind")
    form = ImportUploadForm(request.POST or None, request.FILES or None, kinds=kinds,
                            initial={"kind": wanted if wanted in kinds else ImportKind.FEEDBACK})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            job = imports.import_job_create(actor=member, kind=data["kind"],
                                            source_name=data["source_name"],
                                            upload=data["file"])
        except DomainError as error:
            _add_error(form, error)
        else:
            return redirect("feedback:import_mapping", pk=job.pk)
    sources = import_selectors.import_source_names(member=member)
    return render_form(request, "feedback/import_new.html", {"form": form, "sources": sources},
                       invalid=bool(form.errors))


@policy.requires(MODULE, Action.CREATE)
def import_mapping(request: HttpRequest, pk: int) -> HttpResponse:
    """Step 2: which column feeds which field (remembered per source)."""
    job = import_selectors.import_job_get(member=request.member, pk=pk, action=Action.CREATE)
    if job.status not in (ImportStatus.UPLOADED, ImportStatus.VALIDATED):
        return redirect("feedback:import_detail", pk=job.pk)
    form = ImportMappingForm(request.POST or None, job=job,
                             mapping=import_selectors.import_mapping_initial(job=job),
                             samples=import_selectors.import_column_samples(job=job))
    if request.method == "POST" and form.is_valid():
        try:
            imports.import_job_set_mapping(actor=request.member, job=job,
                                           mapping=form.mapping())
        except DomainError as error:
            _add_error(form, error)
        else:
            return redirect("feedback:import_detail", pk=job.pk)
    context = {"job": job, "form": form, "file_description": _file_description(job),
               "ignored": import_selectors.import_ignored_columns(job=job,
                                                         mapping=form.current_mapping())}
    return render_form(request, "feedback/import_mapping.html", context,
                       invalid=bool(form.errors))


def _file_description(job: ImportJob) -> str:
    if job.file_format == "xlsx":
        return _("Excel workbook (first sheet).")
    separated = {";": _("semicolon-separated"), "\t": _("tab-separated"),
                 "|": _("pipe-separated")}.get(job.delimiter, _("comma-separated"))
    return _("CSV file, %(separated)s, %(encoding)s text.") % {
        "separated": separated, "encoding": job.encoding.upper().removesuffix("-SIG")}


def _status_context(request: HttpRequest, job: ImportJob) -> dict:
    shown = job.status in imports.FINISHED or job.status == ImportStatus.VALIDATED
    return {
        "job": job, "can_import": import_selectors.can_import(request.member, job.kind),
        "active": job.status in imports.ACTIVE, "finished": job.status in imports.FINISHED,
        "errors": import_selectors.import_error_lines(job=job, limit=ERRORS_SHOWN) if shown else [],
    }


@policy.requires(MODULE, Action.VIEW)
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Step 3 (preview, validation report, start) and 4 (progress, then the summary).

    POST starts the import; it needs the right to create what the file holds."""
    member = request.member
    if request.method == "POST":
        job = import_selectors.import_job_get(member=member, pk=pk, action=Action.CREATE)
        try:
            imports.import_job_start(actor=member, origin=Origin.from_request(request), job=job)
        except DomainError as error:
            messages.error(request, error.message)
        return redirect("feedback:import_detail", pk=pk)
    job = import_selectors.import_job_get(member=member, pk=pk)
    context = _status_context(request, job)
    if job.status == ImportStatus.VALIDATED:
        try:
            context["preview"] = import_selectors.import_job_preview(job=job)
        except DomainError as error:
            context["preview_error"] = error.message
        context["columns"] = preview_columns(job)
        context["valid_rows"] = max(0, job.total_rows - job.error_count)
    return render(request, "feedback/import_detail.html", context)


@policy.requires(MODULE, Action.VIEW)
@transaction.non_atomic_requests
def import_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress fragment the page polls every second while the job runs.

    Read-only and outside a transaction: on SQLite an atomic request would queue each poll
    behind the worker's write lock."""
    job = import_selectors.import_job_get(member=request.member, pk=pk)
    return render(request, "feedback/_import_progress.html", _status_context(request, job))


@policy.requires(MODULE, Action.CREATE)
@require_POST
def import_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """Stop a queued or running import after the chunk it is loading."""
    job = import_selectors.import_job_get(member=request.member, pk=pk, action=Action.CREATE)
    try:
        job = imports.import_job_cancel(actor=request.member, job=job)
    except DomainError as error:
        if not request.htmx:
            messages.error(request, error.message)
    if request.htmx:
        return render(request, "feedback/_import_progress.html", _status_context(request, job))
    return redirect("feedback:import_detail", pk=pk)


@policy.requires(MODULE, Action.CREATE)
@require_POST
def import_rerun(request: HttpRequest, pk: int) -> HttpResponse:
    """Queue the failed rows again (scope=failed), or the whole file (scope=all)."""
    job = import_selectors.import_job_get(member=request.member, pk=pk, action=Action.CREATE)
    try:
        imports.import_job_rerun(actor=request.member, origin=Origin.from_request(request),
                                 job=job, only_failed=request.POST.get("scope") != "all")
    except DomainError as error:
        messages.error(request, error.message)
    return redirect("feedback:import_detail", pk=pk)


@policy.requires(MODULE, Action.VIEW)
def import_errors_csv(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    """The rows in error as CSV: row number, column, message and every original value."""
    job = import_selectors.import_job_get(member=request.member, pk=pk)
    return csv_download(import_selectors.import_error_report(job=job),
                        filename=f"import-{job.pk}-errors.csv")
