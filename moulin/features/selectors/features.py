"""Features, their links and history, frameworks and currency rates, as members may see them."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.shortcuts import get_object_or_404

from moulin.accounts.models import Member
from moulin.core import policy
from moulin.core.policy import Action
from moulin.features.models import (
    CurrencyRate,
    Feature,
    FeatureEvent,
    FeedbackLink,
    RankOverride,
    ScoreSnapshot,
    ScoringFramework,
)
from moulin.features.selectors.board import FeatureFilters, filtered_features
from moulin.feedback.models import Importance

MODULE = "features"

IMPORTANCE_ORDER = Case(When(importance=Importance.CRITICAL, then=Value(0)),
                        When(importance=Importance.IMPORTANT, then=Value(1)),
                        default=Value(2), output_field=IntegerField())


def feature_list(*, member: Member, filters: FeatureFilters | None = None
                 ) -> QuerySet[Feature]:
    """Features the member may see, with the board's filters (any order; newest first)."""
    return filtered_features(member=member, filters=filters).select_related(
        "squad", "product_area", "owner__user", "parent")


def feature_get(*, member: Member, pk: int, action: str = Action.VIEW) -> Feature:
    """One feature; 404 for another organisation's, 403 below the needed level."""
    feature = get_object_or_404(
        Feature.objects.select_related("squad", "product_area", "owner__user", "parent"),
        pk=pk, organisation_id=member.organisation_id)
    policy.check(member, MODULE, action, feature)
    return feature


@dataclass
class TreeArea:
    """A product area with its top-level features (each with ``children`` prefetched)."""

    area: object  # ProductArea | None (features without an area)
    features: list[Feature]


def feature_tree(*, member: Member, filters=None) -> list[TreeArea]:
    """Product areas → features → sub-features, in title order."""
    qs = feature_list(member=member, filters=filters).order_by("title", "id")
    rows = list(qs)
    by_parent: dict[int | None, list[Feature]] = {}
    for feature in rows:
        by_parent.setdefault(feature.parent_id, []).append(feature)
    ids = {f.pk for f in rows}
    for feature in rows:
        feature.sub_features = by_parent.get(feature.pk, [])
    # A sub-feature whose parent is filtered out shows at the top level.
    top = [f for f in rows if f.parent_id is None or f.parent_id not in ids]
    areas: dict[int | None, TreeArea] = {}
    for feature in top:
        key = feature.product_area_id
        if key not in areas:
            areas[key] = TreeArea(feature.product_area, [])
        areas[key].features.append(feature)
    return sorted(areas.values(), key=lambda a: (a.area is None, str(a.area or "")))


def linked_feedback_order(member: Member) -> tuple[str, ...]:
    """Most important first, then highest customer ARR first for members who may see customers'
    business data (for the others, newest first: an order by ARR would tell whose is higher)."""
    by_arr = ("-feedback__customer_arr",) if policy.can_see_customer_data(member) else ()
    return ("importance_order", *by_arr, "-feedback__received_at", "id")


def feature_links(*, member: Member, feature: Feature) -> QuerySet[FeedbackLink]:
    """The feedback linked to a feature, in ``linked_feedback_order``. Empty for a member who
    may not see feedback."""
    if not policy.can(member, "feedback", Action.VIEW):
        return FeedbackLink.objects.none()
    return (FeedbackLink.objects.filter(feature=feature, organisation_id=member.organisation_id)
            .select_related("feedback__customer", "feedback__contact", "created_by__user")
            .annotate(importance_order=IMPORTANCE_ORDER)
            .order_by(*linked_feedback_order(member)))


@dataclass
class FeatureHistory:
    events: list[FeatureEvent]
    scores: list[ScoreSnapshot]
    overrides: list[RankOverride]


def feature_history(*, member: Member, feature: Feature, limit: int = 100) -> FeatureHistory:
    """The feature's changes, score history and manual moves, newest first."""
    policy.check(member, MODULE, Action.VIEW, feature)
    return FeatureHistory(
        events=list(feature.events.select_related("actor__user")[:limit]),
        scores=list(feature.score_history.select_related("framework")[:limit]),
        overrides=list(feature.rank_overrides.select_related("actor__user")[:limit]))


def framework_list(*, member: Member) -> QuerySet[ScoringFramework]:
    """The organisation's scoring frameworks (the standard first)."""
    return (policy.scope(ScoringFramework.objects.all(), member, MODULE)
            .order_by("-is_standard", "name"))


def framework_get(*, member: Member, pk: int, action: str = Action.VIEW) -> ScoringFramework:
    framework = get_object_or_404(ScoringFramework, pk=pk,
                                  organisation_id=member.organisation_id)
    policy.check(member, MODULE, action, framework)
    return framework


def currency_rate_list(*, member: Member) -> QuerySet[CurrencyRate]:
    return policy.scope(CurrencyRate.objects.all(), member, MODULE).order_by("currency")
