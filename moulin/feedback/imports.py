"""The CSV/XLSX import wizard: upload a file, map its columns, validate it, load it in the
background with live progress, cancel, re-run the rows that failed (reads: import_selectors).

Lifecycle of an ``ImportJob``: uploaded → validated (mapping set, every row checked) → queued →
running (claimed by one worker) → succeeded | cancelled | failed. A row is imported whole or
reported in ``ImportRowError`` with its original values; re-running a job only retries those.
Feedback rows without an external id get ``import-<job>-<row>``, so no re-run ever duplicates.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import PurePath

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import DataError, IntegrityError, transaction
from django.db.models import F
from django.template.defaultfilters import filesizeformat
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from moulin.accounts.audit import Origin, audit_record
from moulin.accounts.models import Member
from moulin.core.errors import DomainError
from moulin.customers.services import RowError
from moulin.feedback import importing
from moulin.feedback.import_columns import TARGET_FIELDS
from moulin.feedback.import_rows import (
    DUPLICATE_KEY,
    CustomerRows,
    FeedbackRows,
    Outcome,
    Written,
    chunks,
    job_rows,
    rows_for,
)
from moulin.feedback.import_selectors import check_import_right
from moulin.feedback.importing import ImportFileError
from moulin.feedback.models import (
    ImportJob,
    ImportKind,
    ImportMapping,
    ImportRowError,
    ImportStatus,
)

logger = logging.getLogger(__name__)

CHUNK_SIZE = 1000
# A running job whose counters have not moved for this long lost its worker: cancelling it
# then closes it at once instead of waiting for a worker that will never look.
STALE_AFTER = timedelta(minutes=15)
FINISHED = (ImportStatus.SUCCEEDED, ImportStatus.FAILED, ImportStatus.CANCELLED)
ACTIVE = (ImportStatus.QUEUED, ImportStatus.RUNNING)


# --- Upload, mapping, validation -----------------------------------------------------------

def import_job_create(*, actor: Member, kind: str, source_name: str,
                      upload: UploadedFile) -> ImportJob:
    """Store an uploaded CSV/XLSX file and read its columns; raises DomainError (field "file")
    for an empty, too large or unreadable file."""
    if kind not in ImportKind.values:
        raise DomainError(_("Choose what the file contains."), field="kind")
    check_import_right(actor, kind)
    if not upload.size:
        raise DomainError(_("The file is empty."), field="file")
    if upload.size > settings.IMPORT_MAX_BYTES:
        raise DomainError(_("The file is %(size)s; the limit is %(max)s. Split it into "
                            "smaller files.") % {"size": filesizeformat(upload.size),
                                                 "max": filesizeformat(settings.IMPORT_MAX_BYTES)},
                          field="file")
    try:
        shape = importing.inspect_file(upload, upload.name or "",
                                       max_bytes=settings.IMPORT_MAX_BYTES)
    except ImportFileError as error:
        raise DomainError(error.message, field="file") from error
    file_name = (PurePath(upload.name or "import").name or "import")[:255]
    job = ImportJob(organisation=actor.organisation, created_by=actor, kind=kind,
                    source_name=source_name.strip()[:100], file_name=file_name,
                    file_format=shape.file_format, encoding=shape.encoding,
                    delimiter=shape.delimiter, columns=list(shape.columns))
    upload.seek(0)
    job.file.save(file_name, upload, save=False)
    job.save()
    return job


def import_job_set_mapping(*, actor: Member, job: ImportJob,
                           mapping: dict[str, str]) -> ImportJob:
    """Set which column feeds which field, remember it for the source, and check every row of
    the file (parse only): the count of valid rows and one error per bad row."""
    check_import_right(actor, job)
    if job.status not in (ImportStatus.UPLOADED, ImportStatus.VALIDATED):
        raise DomainError(_("This import has started: its mapping cannot change any more."))
    chosen: dict[str, str] = {}
    for target in TARGET_FIELDS[job.kind]:
        column = (mapping.get(target.key) or "").strip()
        if column and column not in job.columns:
            raise DomainError(_("The file has no column “%s”.") % column[:100],
                              field=target.key)
        chosen[target.key] = column
    if job.kind == ImportKind.FEEDBACK and not chosen.get("text"):
        raise DomainError(_("Choose the column that holds the verbatim."), field="text")
    if job.kind == ImportKind.CUSTOMERS and not (chosen.get("name") or
                                                 chosen.get("external_id")):
        raise DomainError(_("Choose the column with the customer's name (or its external id "
                            "to update known customers)."), field="name")
    job.mapping = chosen
    ImportMapping.objects.update_or_create(
        organisation_id=job.organisation_id, kind=job.kind, source_name=job.source_name,
        defaults={"mapping": chosen})
    with _fewer_collections():
        _validate(job)
    job.status = ImportStatus.VALIDATED
    job.save()
    return job


def _validate(job: ImportJob) -> None:
    job.row_errors.all().delete()
    handler = rows_for(job)
    total = errors = 0
    with job_rows(job) as rows:
        try:
            for chunk in chunks(rows, CHUNK_SIZE):
                outcomes = [handler.clean(number, values) for number, values in chunk]
                handler.prepare(outcomes)
                bad = [o for o in outcomes if o.error is not None]
                ImportRowError.objects.bulk_create([_row_error(job, o) for o in bad])
                total += len(outcomes)
                errors += len(bad)
        except ImportFileError as error:
            raise DomainError(error.message) from error
    job.total_rows, job.error_count, job.processed_rows = total, errors, 0
    job.created_count = job.updated_count = 0


def _row_error(job: ImportJob, outcome: Outcome, written: Written | None = None
               ) -> ImportRowError:
    field = written.field if written else outcome.error.field
    message = written.message if written else outcome.error.message
    return ImportRowError(job=job, row_number=outcome.row_number, field=(field or "")[:64],
                          message=message[:500], values=outcome.stored_values())


# --- Starting, cancelling, re-running ------------------------------------------------------

def _enqueue(job: ImportJob, *, only_failed: bool) -> None:
    # Imported here: the task module imports this one.
    from moulin.feedback.tasks import import_job_process

    job_id = job.pk
    transaction.on_commit(lambda: import_job_process.enqueue(job_id, only_failed))


def import_job_start(*, actor: Member, origin: Origin, job: ImportJob) -> ImportJob:
    """Queue the validated job for the background worker (audited as import.started)."""
    check_import_right(actor, job)
    if job.status != ImportStatus.VALIDATED:
        raise DomainError(_("Choose the columns and check the preview before importing."))
    if job.total_rows and job.error_count >= job.total_rows:
        raise DomainError(_("No row of this file can be imported: fix the file or the column "
                            "mapping first."))
    job.status, job.cancel_requested, job.message = ImportStatus.QUEUED, False, ""
    job.processed_rows = job.created_count = job.updated_count = 0
    job.started_at = job.finished_at = None
    job.save()
    audit_record(organisation=job.organisation, actor=actor, action="import.started",
                 origin=origin, target=job, target_label=job.file_name,
                 changes={"kind": job.kind, "source": job.source_name, "rows": job.total_rows})
    _enqueue(job, only_failed=False)
    return job


def import_job_cancel(*, actor: Member, job: ImportJob) -> ImportJob:
    """Stop a job: a queued one at once, a running one after the chunk it is loading (the rows
    already written stay)."""
    check_import_right(actor, job)
    now = timezone.now()
    if ImportJob.objects.filter(pk=job.pk, status=ImportStatus.QUEUED).update(
            status=ImportStatus.CANCELLED, finished_at=now, updated_at=now):
        job.refresh_from_db()
        return job
    job.refresh_from_db()
    if job.status != ImportStatus.RUNNING:
        raise DomainError(_("This import is not running."))
    if job.updated_at < now - STALE_AFTER:
        ImportJob.objects.filter(pk=job.pk, status=ImportStatus.RUNNING).update(
            status=ImportStatus.CANCELLED, finished_at=now, updated_at=now,
            message=_("Stopped: the background worker had not reported for a while."))
    else:
        ImportJob.objects.filter(pk=job.pk).update(cancel_requested=True)
    job.refresh_from_db()
    return job


def import_job_rerun(*, actor: Member, origin: Origin, job: ImportJob,
                     only_failed: bool = True) -> ImportJob:
    """Queue the job again: only its unresolved failed rows (from their stored values), or the
    whole file (after a failure or a cancellation; rows already imported are updated)."""
    check_import_right(actor, job)
    if job.status not in FINISHED:
        raise DomainError(_("Only a finished import can be run again."))
    if only_failed and not job.row_errors.filter(resolved=False).exists():
        raise DomainError(_("No row failed: there is nothing to re-run."))
    if not only_failed and job.status == ImportStatus.SUCCEEDED:
        raise DomainError(_("This import finished: re-run its failed rows instead."))
    job.status, job.cancel_requested, job.message = ImportStatus.QUEUED, False, ""
    job.finished_at = None
    job.save()
    audit_record(organisation=job.organisation, actor=actor, action="import.started",
                 origin=origin, target=job, target_label=job.file_name,
                 changes={"kind": job.kind, "rerun": "failed rows" if only_failed else "all"})
    _enqueue(job, only_failed=only_failed)
    return job


# --- The loader (run by the background task) ------------------------------------------------

def import_job_claim(*, job_id: int) -> ImportJob | None:
    """Take a queued job for this worker: a conditional UPDATE, so two workers never both
    run it. None when it is gone, cancelled or already taken."""
    now = timezone.now()
    if not ImportJob.objects.filter(pk=job_id, status=ImportStatus.QUEUED).update(
            status=ImportStatus.RUNNING, started_at=now, updated_at=now):
        return None
    return ImportJob.objects.select_related("organisation", "created_by__user").get(pk=job_id)


def import_job_run(*, job: ImportJob, only_failed: bool = False, chunk_size: int = CHUNK_SIZE,
                   on_progress: Callable[[ImportJob], None] | None = None) -> ImportJob:
    """Load a claimed job chunk by chunk, updating its counters after each chunk and stopping
    cleanly between chunks when cancelled. Ends succeeded (row errors are reported, not
    fatal), cancelled, or failed with the reason (the job can then be run again)."""
    if job.status != ImportStatus.RUNNING:
        raise DomainError(_("Only a claimed (running) import can be loaded."))
    handler = rows_for(job, job.created_by)
    # Row messages are stored: write them in the language of the person who imports.
    with translation.override(_language_of(job)), _fewer_collections():
        return _run(job, handler, only_failed, chunk_size, on_progress)


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Loading allocates millions of short-lived objects (rows, model instances) that reference
    counting frees; at the default threshold Python's cycle collector would also run thousands
    of times over the growing heap (about a tenth of a large import's time). Restored after."""
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], 50_000), *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)


def _language_of(job: ImportJob) -> str:
    user = job.created_by.user if job.created_by else None
    return (user.language if user else "") or job.organisation.language or \
        settings.LANGUAGE_CODE


def _run(job, handler, only_failed, chunk_size, on_progress) -> ImportJob:
    try:
        if only_failed:
            finished = _load_failed_rows(job, handler, chunk_size, on_progress)
        else:
            finished = _load_file(job, handler, chunk_size, on_progress)
    except (ImportFileError, DomainError) as error:
        return _finish(job, ImportStatus.FAILED, error.message)
    except Exception as error:
        logger.exception("Import job %s failed", job.pk)
        _finish(job, ImportStatus.FAILED, _("Unexpected error: %s. Run the import again; rows "
                                            "already imported will be updated, not "
                                            "duplicated.") % str(error)[:300])
        raise
    return _finish(job, ImportStatus.SUCCEEDED if finished else ImportStatus.CANCELLED)


def _cancel_requested(job: ImportJob) -> bool:
    return ImportJob.objects.filter(pk=job.pk, cancel_requested=True).exists()


def _load_file(job, handler, chunk_size, on_progress) -> bool:
    with transaction.atomic():
        job.row_errors.all().delete()  # the validation's list: the load writes its own
        ImportJob.objects.filter(pk=job.pk).update(processed_rows=0, created_count=0,
                                                   updated_count=0, error_count=0)
    with job_rows(job) as rows:
        for chunk in chunks(rows, chunk_size):
            if _cancel_requested(job):
                return False
            outcomes = [handler.clean(number, values) for number, values in chunk]
            _load_chunk(job, handler, outcomes)
            if on_progress:
                on_progress(job)
    return True


def _load_failed_rows(job, handler, chunk_size, on_progress) -> bool:
    pending = list(job.row_errors.filter(resolved=False).order_by("row_number", "id")
                   .values_list("id", flat=True))
    ImportJob.objects.filter(pk=job.pk).update(
        processed_rows=max(0, job.total_rows - len(pending)))
    for ids in chunks(pending, chunk_size):
        if _cancel_requested(job):
            return False
        outcomes = []
        for stored in ImportRowError.objects.filter(pk__in=ids).order_by("row_number", "id"):
            values = {column: stored.values.get(column, "") for column in job.columns}
            if stored.values.get(DUPLICATE_KEY):
                outcome = Outcome(stored.row_number, values, duplicate_of=stored.values[
                    DUPLICATE_KEY], error=RowError(stored.message, field=stored.field))
            else:
                outcome = handler.clean(stored.row_number, values)
            outcome.error_id = stored.pk
            outcomes.append(outcome)
        _load_chunk(job, handler, outcomes)
        if on_progress:
            on_progress(job)
    return True


def _load_chunk(job: ImportJob, handler: FeedbackRows | CustomerRows,
                outcomes: list[Outcome]) -> None:
    """Write one chunk and its counters in one transaction. When the database refuses the
    batch (a row breaking a constraint), each row is retried alone so only that one fails."""
    try:
        with transaction.atomic():
            handler.prepare(outcomes)
            _record(job, outcomes, handler.write(outcomes))
        return
    except (IntegrityError, DataError):
        handler.reset()
    for outcome in outcomes:
        try:
            with transaction.atomic():
                handler.prepare([outcome])
                _record(job, [outcome], handler.write([outcome]))
        except (IntegrityError, DataError) as error:
            handler.reset()
            with transaction.atomic():
                _record(job, [outcome], [Written("error", None, _(
                    "This row could not be saved (%s).") % str(error)[:200])])


def _record(job: ImportJob, outcomes: list[Outcome], results: list[Written]) -> None:
    """Row errors and counters of a written chunk (inside its transaction)."""
    created = sum(r.status == "created" for r in results)
    updated = sum(r.status == "updated" for r in results)
    failed = [(o, r) for o, r in zip(outcomes, results, strict=True) if r.status == "error"]
    resolved = [o.error_id for o, r in zip(outcomes, results, strict=True)
                if r.status != "error" and o.error_id]
    new_errors = [_row_error(job, o, r) for o, r in failed if not o.error_id]
    ImportRowError.objects.bulk_create(new_errors, batch_size=500)
    ImportRowError.objects.filter(pk__in=resolved).update(resolved=True)
    still_failing = [ImportRowError(pk=o.error_id, field=(r.field or "")[:64],
                                    message=r.message[:500]) for o, r in failed if o.error_id]
    ImportRowError.objects.bulk_update(still_failing, ["field", "message"], batch_size=500)
    ImportJob.objects.filter(pk=job.pk).update(
        processed_rows=F("processed_rows") + len(outcomes),
        created_count=F("created_count") + created, updated_count=F("updated_count") + updated,
        error_count=F("error_count") + len(new_errors) - len(resolved),
        updated_at=timezone.now())


def _finish(job: ImportJob, status: str, message: str = "") -> ImportJob:
    now = timezone.now()
    errors = job.row_errors.filter(resolved=False).count()
    values = {"status": status, "finished_at": now, "updated_at": now, "message": message[:500],
              "error_count": errors, "cancel_requested": False}
    if status == ImportStatus.SUCCEEDED:
        values["processed_rows"] = F("total_rows")
    ImportJob.objects.filter(pk=job.pk).update(**values)
    job.refresh_from_db()
    return job
