"""What the import wizard's pages read: who may import what, the jobs, the mapping to offer,
the preview of the first rows and the error report."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from moulin.accounts.models import Member
from moulin.core import policy
from moulin.core.errors import DomainError
from moulin.core.policy import Action
from moulin.feedback import import_columns
from moulin.feedback.import_columns import TARGET_FIELDS
from moulin.feedback.import_rows import job_rows, preview_columns, rows_for
from moulin.feedback.importing import ImportFileError, plain
from moulin.feedback.models import ImportJob, ImportKind, ImportMapping

PREVIEW_ROWS = 20


def module_for(kind: str) -> str:
    """The permission module an import kind writes to."""
    return "customers" if kind == ImportKind.CUSTOMERS else "feedback"


def can_import(member: Member, kind: str) -> bool:
    return policy.can(member, "feedback", Action.CREATE) and policy.can(
        member, module_for(kind), Action.CREATE)


def check_import_right(actor: Member, job_or_kind: ImportJob | str,
                       action: str = Action.CREATE) -> None:
    """403 unless the actor may do ``action`` on this kind of import (404 for another org)."""
    job = job_or_kind if isinstance(job_or_kind, ImportJob) else None
    kind = job.kind if job else job_or_kind
    policy.check(actor, "feedback", action, job)
    policy.check(actor, module_for(kind), action, job)



# --- Jobs --------------------------------------------------------------------------------

def import_job_list(*, member: Member) -> QuerySet[ImportJob]:
    """Past and running imports the member may see, newest first."""
    kinds = [kind for kind in ImportKind.values
             if policy.can(member, module_for(kind), Action.VIEW)]
    return (policy.scope(ImportJob.objects.all(), member, "feedback")
            .filter(kind__in=kinds).select_related("created_by__user")
            .order_by("-created_at", "-id"))


def import_job_get(*, member: Member, pk: int, action: str = Action.VIEW) -> ImportJob:
    """One import of the member's organisation (404 otherwise), if its kind allows ``action``."""
    job = get_object_or_404(policy.scope(ImportJob.objects.select_related("organisation"),
                                         member, "feedback"), pk=pk)
    check_import_right(member, job, action)
    return job


def import_source_names(*, member: Member) -> list[str]:
    """Sources that already have a remembered mapping (offered when uploading)."""
    return sorted(set(ImportMapping.objects.filter(organisation_id=member.organisation_id)
                      .exclude(source_name="").values_list("source_name", flat=True)))


def import_mapping_initial(*, job: ImportJob) -> dict[str, str]:
    """The mapping to offer: the job's own, else the one last used for the same source (its
    columns that this file still has), else one guessed from the header names."""
    fields = TARGET_FIELDS[job.kind]
    if job.mapping:
        return {f.key: job.mapping.get(f.key, "") for f in fields}
    guessed = import_columns.auto_mapping(job.kind, job.columns)
    saved = ImportMapping.objects.filter(organisation_id=job.organisation_id, kind=job.kind,
                                         source_name=job.source_name).first()
    remembered = saved.mapping if saved else {}
    mapping = {}
    for f in fields:
        column = remembered.get(f.key)
        if column == "" or column in job.columns:
            mapping[f.key] = column  # "" = deliberately left out last time
        else:
            mapping[f.key] = guessed.get(f.key, "")
    return mapping


def import_ignored_columns(*, job: ImportJob, mapping: dict[str, str]) -> list[str]:
    """The file's columns no field takes: they are not imported."""
    used = set(mapping.values())
    return [column for column in job.columns if column not in used]


@dataclass
class PreviewRow:
    row_number: int
    cells: list[str]
    error: str = ""
    error_field: str = ""


def import_job_preview(*, job: ImportJob, limit: int = PREVIEW_ROWS) -> list[PreviewRow]:
    """The first rows as they will be imported (cleaned values), or why they will not be."""
    if not job.mapping or not job.file:
        return []
    handler = rows_for(job)
    columns = preview_columns(job)
    with job_rows(job) as rows:
        outcomes = [handler.clean(number, values) for number, values in islice(rows, limit)]
    handler.prepare(outcomes)
    preview = []
    for outcome in outcomes:
        shown = handler.display(outcome)
        preview.append(PreviewRow(outcome.row_number, [shown.get(key, "") for key, *_x in columns],
                                  outcome.error.message if outcome.error else "",
                                  (outcome.error.field or "") if outcome.error else ""))
    return preview


def _error_column(job: ImportJob, field_key: str) -> str:
    """The file's column an error is about (or the field's name when no column feeds it)."""
    if job.mapping.get(field_key):
        return job.mapping[field_key]
    labels = {f.key: str(f.label) for f in TARGET_FIELDS[job.kind]}
    return labels.get(field_key, field_key)


@dataclass
class ErrorLine:
    row_number: int
    column: str
    message: str
    value: str


def import_error_lines(*, job: ImportJob, limit: int = 100) -> list[ErrorLine]:
    """The first rows still in error, with the column to fix and the value it holds."""
    lines = []
    for error in job.row_errors.filter(resolved=False).order_by("row_number", "id")[:limit]:
        column = _error_column(job, error.field)
        value = str(error.values.get(column, "") if column in job.columns else "")
        lines.append(ErrorLine(error.row_number, column, error.message,
                               value if len(value) <= 80 else value[:80] + "…"))
    return lines


def import_error_report(*, job: ImportJob) -> Iterator[list[object]]:
    """The rows still in error, each with the column to fix, the message and every original
    value (so the file can be corrected and uploaded again). First item: the header."""
    yield [_("Row"), _("Column"), _("Error"), *job.columns]
    errors = job.row_errors.filter(resolved=False).order_by("row_number", "id")
    for error in errors.iterator(chunk_size=2000):
        yield [error.row_number, _error_column(job, error.field), error.message,
               *[error.values.get(column_name, "") for column_name in job.columns]]


def import_column_samples(*, job: ImportJob, rows: int = 5) -> dict[str, str]:
    """A short example value per column (the first non-empty one among the first rows), shown
    next to the column names while mapping. Empty when the file cannot be read."""
    samples: dict[str, str] = {}
    try:
        with job_rows(job) as first_rows:
            for _number, values in islice(first_rows, rows):
                for column, value in values.items():
                    text = str(plain(value)).strip()
                    if text and column not in samples:
                        samples[column] = text if len(text) <= 40 else text[:40] + "…"
    except (DomainError, ImportFileError):
        return {}
    return samples


