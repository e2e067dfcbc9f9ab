"""Background jobs of the triage intelligence (backfill, clustering): one active job of a kind
per organisation, progress reports that say the worker is alive, and the runs a stopped worker
left behind (closed as failed, so that they can be started again). Model trainings follow the
same rule (``training.model_versions_close_stalled``)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from moulin.accounts.selectors import organisation_language
from moulin.triage.models import JOB_STALLED_AFTER, JobStatus, TriageJob

ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)


def job_report(job_id: int, **fields) -> bool:
    """Write a running job's progress or outcome; False when the job is no longer running
    (closed as stalled meanwhile): its worker then stops without overwriting anything."""
    return bool(TriageJob.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(
        updated_at=timezone.now(), **fields))


def close_stalled(rows: QuerySet, *, organisation_id: int) -> int:
    """Close as failed those of ``rows`` (jobs or model versions of one organisation) still
    running whose worker stopped reporting ``JOB_STALLED_AFTER`` ago (a deploy, a crash);
    returns how many. Each can then be run again like any failed one."""
    now = timezone.now()
    stalled = rows.filter(organisation_id=organisation_id, status=JobStatus.RUNNING,
                          updated_at__lt=now - JOB_STALLED_AFTER)
    if not stalled.exists():
        return 0
    return stalled.update(status=JobStatus.FAILED, finished_at=now, updated_at=now,
                          message=stalled_message(organisation_id))


def jobs_close_stalled(*, organisation_id: int, kind: str) -> int:
    """``close_stalled`` for the jobs of ``kind``: called before a job is shown or polled, so
    that nobody waits for ever on a job no worker runs."""
    return close_stalled(TriageJob.objects.filter(kind=kind), organisation_id=organisation_id)


def job_active(*, organisation_id: int, kind: str) -> TriageJob | None:
    """The organisation's queued or running job of ``kind``. A running one whose worker stopped
    reporting ``JOB_STALLED_AFTER`` ago is closed as failed first: it no longer blocks a run."""
    jobs_close_stalled(organisation_id=organisation_id, kind=kind)
    return (TriageJob.objects.filter(organisation_id=organisation_id, kind=kind,
                                     status__in=ACTIVE).order_by("-created_at", "-id").first())


def stalled_message(organisation_id: int) -> str:
    """Why a job or a training whose worker stopped reporting was closed as failed, in the
    organisation's language (like the other messages stored on them)."""
    with translation.override(organisation_language(organisation_id)):
        return _("Stopped: the background worker had not reported for %(minutes)d minutes. "
                 "Run it again.") % {"minutes": int(JOB_STALLED_AFTER.total_seconds() // 60)}
