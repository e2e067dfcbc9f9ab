"""Background work of the triage intelligence (django-tasks): each task takes ids, reloads the
rows and calls a service; running one twice is harmless (analysis skips what is up to date,
training and backfill claim their row with a conditional UPDATE)."""

from __future__ import annotations

from django_tasks import task

from moulin.triage.services import analysis, training

# Items per analysis task: a 10,000-row import becomes a few tasks the worker runs in turn.
ANALYSIS_BATCH = 1000


@task()
def triage_analyse(organisation_id: int, ids: list[int]) -> dict:
    """Embed, score and suggest themes for newly received or changed feedback."""
    done = analysis.feedback_analyse(organisation_id=organisation_id, ids=ids)
    return {"organisation_id": organisation_id, "analysed": done}


@task()
def triage_train(version_id: int) -> dict:
    """Train a queued model version (then re-predict the items waiting for review)."""
    version = training.model_train(version_id=version_id)
    if version is None:
        return {"version_id": version_id, "claimed": False}
    return {"version_id": version_id, "claimed": True, "status": version.status}


@task()
def triage_refresh(organisation_id: int) -> dict:
    """Re-predict the items waiting for review with the active model (after a rollback)."""
    return {"organisation_id": organisation_id,
            "refreshed": analysis.analysis_refresh(organisation_id=organisation_id)}


@task()
def triage_backfill(job_id: int) -> dict:
    """Analyse the feedback received before triage was set up (progress in the job row)."""
    job = analysis.backfill_run(job_id=job_id)
    if job is None:
        return {"job_id": job_id, "claimed": False}
    return {"job_id": job_id, "claimed": True, "status": job.status}


def feedback_saved(organisation_id: int, ids: list[int]) -> None:
    """The feedback hub's hook: analyse what intake just wrote, in the background."""
    for start in range(0, len(ids), ANALYSIS_BATCH):
        triage_analyse.enqueue(organisation_id, list(ids[start:start + ANALYSIS_BATCH]))
