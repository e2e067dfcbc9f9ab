"""Background work of the feedback hub (django-tasks): each task takes ids, reloads the rows and
calls a service; running one twice is harmless."""

from __future__ import annotations

from django_tasks import task

from moulin.feedback import imports


@task()
def import_job_process(job_id: int, only_failed: bool = False) -> dict:
    """Load an import job (or only its failed rows). The job is claimed with a conditional
    UPDATE first: a retried or duplicated task finds it taken and does nothing."""
    job = imports.import_job_claim(job_id=job_id)
    if job is None:
        return {"job_id": job_id, "claimed": False}
    job = imports.import_job_run(job=job, only_failed=only_failed)
    return {"job_id": job_id, "claimed": True, "status": job.status,
            "processed": job.processed_rows, "created": job.created_count,
            "updated": job.updated_count, "errors": job.error_count}
