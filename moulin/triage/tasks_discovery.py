"""Background work of the discovery side of triage (django-tasks): finding emerging themes.
Each task takes ids, reloads the rows and calls a service; running one twice is harmless."""

from __future__ import annotations

from django_tasks import task

from moulin.triage.services import emerging


@task()
def emerging_themes_find(job_id: int) -> dict:
    """Run one clustering job. The job is claimed with a conditional UPDATE first: a retried
    or duplicated task finds it taken and does nothing."""
    job = emerging.cluster_job_claim(job_id=job_id)
    if job is None:
        return {"job_id": job_id, "claimed": False}
    job = emerging.cluster_job_run(job=job)
    return {"job_id": job_id, "claimed": True, "status": job.status, "message": job.message}
