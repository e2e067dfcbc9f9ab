
app_name = "feedback"

# Each block belongs to one views module (moulin/feedback/views/<name>.py).
urlpatterns: list = [
    # --- inbox, feedback page, bulk triage, saved views, exports (views/inbox.py)
    # --- intake form for CS and Sales, embeddable page (views/intake.py)
    # --- CSV/XLSX import wizard for feedback and customers (views/imports.py)
]
