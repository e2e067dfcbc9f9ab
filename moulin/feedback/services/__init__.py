"""The feedback hub's services, one module per job; import them from here."""

from moulin.feedback.services.intake import (
    MAX_BATCH,
    MAX_TAGS,
    MAX_TEXT_LENGTH,
    OPEN_SOURCES,
    ChangeNotAllowed,
    FeedbackInput,
    FeedbackWriter,
    ItemResult,
    api_sources,
    feedback_bulk_upsert,
    feedback_create,
    feedback_input,
    feedback_submit,
)
from moulin.feedback.services.privacy import (
    ERASED,
    contact_erase,
    feedback_scrub_personal_data,
    personal_data_pattern,
)
from moulin.feedback.services.saved_views import saved_view_delete, saved_view_save
from moulin.feedback.services.triage import (
    BULK_ACTIONS,
    feedback_bulk_action,
    feedback_bulk_undo,
    feedback_undo,
    feedback_update,
)

__all__ = [
    "BULK_ACTIONS", "ERASED", "MAX_BATCH", "MAX_TAGS", "MAX_TEXT_LENGTH", "OPEN_SOURCES",
    "ChangeNotAllowed", "FeedbackInput", "FeedbackWriter", "ItemResult", "api_sources",
    "contact_erase", "feedback_bulk_action",
    "feedback_bulk_undo", "feedback_bulk_upsert", "feedback_create", "feedback_input",
    "feedback_scrub_personal_data", "feedback_submit", "feedback_undo", "feedback_update",
    "personal_data_pattern", "saved_view_delete", "saved_view_save",
]
