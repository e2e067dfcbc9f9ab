from django.contrib import admin
from django.urls import include, path

from moulin.config.api import api

handler403 = "moulin.core.views.permission_denied"
handler404 = "moulin.core.views.page_not_found"
handler500 = "moulin.core.views.server_error"

urlpatterns = [
    path("", include("moulin.core.urls")),
    path("", include("moulin.accounts.urls")),
    path("feedback/", include("moulin.feedback.urls")),
    path("customers/", include("moulin.customers.urls")),
    path("triage/", include("moulin.triage.urls")),
    path("features/", include("moulin.features.urls")),
    path("integrations/", include("moulin.integrations.urls")),
    path("api/v1/", api.urls),
    # Django's admin is for superusers only (is_staff is never given to ordinary members).
    path("django-admin/", admin.site.urls),
]
