"""Read queries of the features module, one module per area; import them from here.

Every list goes through the permission policy. The board reads only the feature's
denormalised columns (demand, score, manual rank): callers run
``services.demand_refresh_stale`` first so flagged features are recomputed before reading.
"""

from moulin.features.selectors.board import (
    BOARD_ORDERING,
    FeatureFilters,
    board_list,
    board_page,
    board_position,
    driver_maxima,
    squad_comparison,
    value_effort_points,
)
from moulin.features.selectors.features import (
    currency_rate_list,
    feature_get,
    feature_history,
    feature_links,
    feature_list,
    feature_tree,
    framework_get,
    framework_list,
)
from moulin.features.selectors.insights import (
    FeatureInsights,
    feature_insights,
    feature_why,
)
from moulin.features.selectors.suggestions import FeatureSuggestion, feedback_feature_suggestions

__all__ = [
    "BOARD_ORDERING", "FeatureFilters", "FeatureInsights", "FeatureSuggestion", "board_list",
    "board_page", "board_position", "currency_rate_list", "driver_maxima", "feature_get",
    "feature_history", "feature_insights", "feature_links", "feature_list", "feature_tree",
    "feature_why",
    "feedback_feature_suggestions", "framework_get", "framework_list", "squad_comparison",
    "value_effort_points",
]
