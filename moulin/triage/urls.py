from django.urls import path

from moulin.triage.views import emerging, insights, model_versions, similar, suggestions, taxonomy

app_name = "triage"

# Each block belongs to one views module (moulin/triage/views/<name>.py).
urlpatterns: list = [
    # --- taxonomy (views/taxonomy.py)
    path("themes/", taxonomy.taxonomy, name="taxonomy"),
    path("themes/new/", taxonomy.theme_create, name="theme_create"),
    path("themes/<int:pk>/", taxonomy.theme_edit, name="theme_edit"),
    path("themes/<int:pk>/archive/", taxonomy.theme_archive, name="theme_archive"),
    path("themes/<int:pk>/restore/", taxonomy.theme_restore, name="theme_restore"),
    path("themes/<int:pk>/merge/", taxonomy.theme_merge, name="theme_merge"),
    # --- suggestions: accept / correct / dismiss (views/suggestions.py)
    path("feedback/<int:pk>/themes/", suggestions.feedback_themes, name="feedback_themes"),
    path("feedback/<int:pk>/themes/decide/", suggestions.feedback_theme_decide,
         name="feedback_theme_decide"),
    # --- model versions, retraining, rollback, settings (views/model_versions.py)
    path("models/", model_versions.model_versions, name="model_versions"),
    path("models/retrain/", model_versions.model_retrain, name="model_retrain"),
    path("models/settings/", model_versions.triage_settings, name="triage_settings"),
    path("models/backfill/", model_versions.backfill, name="backfill"),
    path("models/backfill/progress/", model_versions.backfill_progress,
         name="backfill_progress"),
    path("models/<int:pk>/", model_versions.model_version_detail, name="model_version_detail"),
    path("models/<int:pk>/progress/", model_versions.model_version_progress,
         name="model_version_progress"),
    path("models/<int:pk>/activate/", model_versions.model_activate, name="model_activate"),
    # --- similar feedback, duplicates, merge, intake warning (views/similar.py)
    path("feedback/<int:pk>/similar/", similar.similar_panel, name="similar_panel"),
    path("feedback/<int:pk>/merge/", similar.feedback_merge, name="feedback_merge"),
    path("feedback/<int:pk>/unmerge/", similar.feedback_unmerge, name="feedback_unmerge"),
    path("similar/", similar.intake_similar, name="intake_similar"),
    # --- emerging themes (views/emerging.py)
    path("emerging/", emerging.emerging_list, name="emerging"),
    path("emerging/run/", emerging.emerging_run, name="emerging_run"),
    path("emerging/jobs/<int:pk>/", emerging.emerging_progress, name="emerging_progress"),
    path("emerging/<int:pk>/convert/", emerging.emerging_convert, name="emerging_convert"),
    path("emerging/<int:pk>/dismiss/", emerging.emerging_dismiss, name="emerging_dismiss"),
    path("emerging/<int:pk>/assign/", emerging.emerging_assign, name="emerging_assign"),
    # --- insights (views/insights.py)
    path("insights/", insights.insights, name="insights"),
]
