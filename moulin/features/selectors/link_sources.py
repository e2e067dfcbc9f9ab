"""Groups of feedback a feature can take in one go: the open emerging clusters of triage.

(Written for the feature page's "link a whole group" form; themes come from
``moulin.triage.selectors.theme_choices``.)"""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from moulin.accounts.models import Member
from moulin.core import policy
from moulin.core.policy import Action
from moulin.triage.models import EmergingCluster

MODULE = "feedback"  # clusters are feedback, seen with the right to view feedback


def cluster_choices(*, member: Member, limit: int = 100) -> QuerySet[EmergingCluster]:
    """Open emerging clusters, largest first."""
    return (policy.scope(EmergingCluster.objects.all(), member, MODULE)
            .filter(state=EmergingCluster.State.OPEN).order_by("-size", "id")[:limit])


def cluster_get(*, member: Member, pk: int, action: str = Action.VIEW) -> EmergingCluster:
    """One emerging cluster of the member's organisation (404 outside it)."""
    cluster = get_object_or_404(EmergingCluster, pk=pk, organisation_id=member.organisation_id)
    policy.check(member, MODULE, action, cluster)
    return cluster
