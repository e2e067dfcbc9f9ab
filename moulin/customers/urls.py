
app_name = "customers"

urlpatterns: list = [
    # --- customers and contacts pages, GDPR erasure (moulin/customers/views.py)
]
