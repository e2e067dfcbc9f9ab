"""Background work of the features module (django-tasks): each task reloads what it needs
and calls a service; running one twice is harmless."""

from __future__ import annotations

from django_tasks import task

from moulin.features.services import demand_recompute, demand_refresh_stale


@task()
def recompute_demand(organisation_id: int, feature_ids: list[int] | None = None,
                     stale_only: bool = False) -> dict:
    """Recompute demand and scores of some features, the flagged ones, or all of them."""
    if stale_only:
        done = demand_refresh_stale(organisation_id=organisation_id)
    else:
        done = demand_recompute(organisation_id=organisation_id, feature_ids=feature_ids)
    return {"organisation_id": organisation_id, "recomputed": done}
