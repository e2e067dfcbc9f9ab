
app_name = "integrations"

urlpatterns: list = [
    # --- inbound webhooks and email (views.py: public endpoints verified by URL key + signature)
    # --- integration settings pages (views.py)
]
