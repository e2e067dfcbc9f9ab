"""The features services, one module per job; import them from here."""

from moulin.features.services.currency import currency_rate_delete, currency_rate_set
from moulin.features.services.demand import (
    AT_RISK_HEALTH,
    RENEWAL_DAYS,
    currency_rates,
    demand_recompute,
    demand_recompute_all,
    demand_refresh_stale,
)
from moulin.features.services.features import (
    EDITABLE,
    feature_create,
    feature_delete,
    feature_update,
)
from moulin.features.services.frameworks import (
    FormulaCheck,
    facts_of,
    feature_score_with,
    framework_check,
    framework_create,
    framework_delete,
    framework_set_standard,
    framework_standard,
    framework_update,
    scores_in_reader_language,
    scores_recompute,
)
from moulin.features.services.links import (
    LinkResult,
    feature_link_cluster,
    feature_link_feedback,
    feature_link_set_importance,
    feature_link_theme,
    feature_unlink_feedback,
)
from moulin.features.services.ranking import (
    MAX_PINNED,
    board_order_ids,
    board_ranks,
    feature_move,
    feature_rank_clear,
)

__all__ = [
    "AT_RISK_HEALTH", "EDITABLE", "MAX_PINNED", "RENEWAL_DAYS", "FormulaCheck", "LinkResult",
    "board_order_ids", "board_ranks", "currency_rate_delete", "currency_rate_set", "currency_rates",
    "demand_recompute", "demand_recompute_all", "demand_refresh_stale", "facts_of",
    "feature_create", "feature_delete", "feature_link_cluster", "feature_link_feedback",
    "feature_link_set_importance", "feature_link_theme", "feature_move", "feature_rank_clear",
    "feature_score_with", "feature_unlink_feedback", "feature_update", "framework_check",
    "framework_create", "framework_delete", "framework_set_standard", "framework_standard",
    "framework_update", "scores_in_reader_language", "scores_recompute",
]
