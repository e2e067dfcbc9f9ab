
from django.urls import path

from moulin.integrations import views

app_name = "integrations"

urlpatterns: list = [
    # --- inbound webhooks and email (views.py: public endpoints verified by URL key + signature)
    path("hooks/<str:url_key>/", views.hook_receive, name="hook_receive"),
    # Mailgun posts the raw MIME message only to a URL that ends in "mime".
    path("hooks/<str:url_key>/mime", views.hook_receive, name="hook_receive_mime"),
    # --- integration settings pages (views.py)
    path("", views.integration_list, name="integration_list"),
    path("new/", views.integration_new, name="integration_new"),
    path("<int:pk>/", views.integration_detail, name="integration_detail"),
    path("<int:pk>/enabled/", views.integration_set_enabled, name="integration_set_enabled"),
    path("<int:pk>/rotate-url/", views.integration_rotate_url_key,
         name="integration_rotate_url_key"),
    path("deliveries/<int:pk>/retry/", views.delivery_retry, name="delivery_retry"),
]
