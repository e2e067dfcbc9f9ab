"""Triage services, one module per job; import them from here."""

from moulin.triage.services.analysis import (
    analysis_refresh,
    backfill_request,
    backfill_run,
    feedback_analyse,
)
from moulin.triage.services.labels import (
    feedback_mark_unknown,
    feedback_theme_apply,
    feedback_theme_remove,
    suggestion_accept,
    suggestion_dismiss,
)
from moulin.triage.services.settings import triage_settings_get, triage_settings_update
from moulin.triage.services.taxonomy import (
    ThemeInput,
    theme_archive,
    theme_create,
    theme_merge,
    theme_restore,
    theme_update,
)
from moulin.triage.services.training import (
    TrainingError,
    model_activate,
    model_retrain_on_demand,
    model_retrain_request,
    model_train,
    model_train_now,
    model_version_as_it_stands,
    model_versions_close_stalled,
)

__all__ = [
    "ThemeInput", "TrainingError", "analysis_refresh", "backfill_request", "backfill_run",
    "feedback_analyse", "feedback_mark_unknown", "feedback_theme_apply", "feedback_theme_remove",
    "model_activate", "model_retrain_on_demand", "model_retrain_request", "model_train",
    "model_train_now", "model_version_as_it_stands", "model_versions_close_stalled",
    "suggestion_accept", "suggestion_dismiss", "theme_archive", "theme_create", "theme_merge",
    "theme_restore", "theme_update", "triage_settings_get", "triage_settings_update",
]
