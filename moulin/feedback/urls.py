from django.urls import path

from moulin.feedback.views import export, feedback_page, imports, inbox, intake, privacy

app_name = "feedback"

# Each block belongs to one views module (moulin/feedback/views/<name>.py).
urlpatterns: list = [
    # --- inbox, feedback page, bulk triage, saved views, exports (views/inbox.py,
    #     views/feedback_page.py, views/export.py)
    path("", inbox.inbox, name="inbox"),
    path("triage/", inbox.bulk_action, name="bulk_action"),
    path("triage/undo/", inbox.undo, name="undo"),
    path("views/", inbox.saved_view_save, name="saved_view_save"),
    path("views/<int:pk>/delete/", inbox.saved_view_delete, name="saved_view_delete"),
    path("export/", export.export, name="export"),
    path("<int:pk>/", feedback_page.feedback_detail, name="detail"),
    path("<int:pk>/triage/", feedback_page.feedback_triage, name="triage"),
    # --- intake form for CS and Sales, embeddable page (views/intake.py)
    path("new/", intake.submit_feedback, name="submit"),
    path("embed/", intake.submit_feedback_embed, name="submit_embed"),
    path("new/customers/", intake.customer_suggestions, name="customer_suggestions"),
    # --- personal data (views/privacy.py)
    path("contacts/<int:pk>/erase/", privacy.contact_erase, name="contact_erase"),
    # --- CSV/XLSX import wizard for feedback and customers (views/imports.py)
    path("imports/", imports.import_list, name="import_list"),
    path("imports/new/", imports.import_new, name="import_new"),
    path("imports/<int:pk>/", imports.import_detail, name="import_detail"),
    path("imports/<int:pk>/mapping/", imports.import_mapping, name="import_mapping"),
    path("imports/<int:pk>/progress/", imports.import_progress, name="import_progress"),
    path("imports/<int:pk>/cancel/", imports.import_cancel, name="import_cancel"),
    path("imports/<int:pk>/rerun/", imports.import_rerun, name="import_rerun"),
    path("imports/<int:pk>/errors.csv", imports.import_errors_csv, name="import_errors_csv"),
]
