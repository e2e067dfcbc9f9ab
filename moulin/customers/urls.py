from django.urls import path

from moulin.customers import views

app_name = "customers"

urlpatterns: list = [
    # --- customers and contacts pages (moulin/customers/views.py); erasing a contact (GDPR)
    #     rewrites feedback, so it is feedback:contact_erase (moulin/feedback/views/privacy.py)
    path("", views.customer_list, name="customer_list"),
    path("export.csv", views.customer_export, name="customer_export"),
    path("<int:pk>/", views.customer_detail, name="customer_detail"),
]
