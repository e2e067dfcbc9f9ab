from django.urls import path  # noqa: F401

app_name = "triage"

# Each block belongs to one views module (moulin/triage/views/<name>.py).
urlpatterns: list = [
    # --- taxonomy (views/taxonomy.py)
    # --- suggestions: accept / correct / dismiss (views/suggestions.py)
    # --- model versions, retraining, rollback, settings (views/model_versions.py)
    # --- similar feedback, duplicates, merge, intake warning (views/similar.py)
    # --- emerging themes (views/emerging.py)
    # --- insights (views/insights.py)
]
