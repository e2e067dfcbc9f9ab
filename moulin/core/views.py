"""Views every part of the app shares: the home page, health check, error pages."""

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from moulin.core import policy


@policy.public("load balancers probe it without credentials")
def health(request: HttpRequest) -> HttpResponse:
    """200 when the app can reach its database; 503 otherwise."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        return JsonResponse({"status": "error", "database": str(exc)[:200]}, status=503)
    return JsonResponse({"status": "ok"})


def render_form(request: HttpRequest, template: str, context: dict, *, invalid: bool = False,
                status: int = 200) -> HttpResponse:
    """Render a page or its htmx fragment; an invalid form answers 422 so htmx can tell."""
    if invalid:
        status = 422
    return render(request, template, context, status=status)


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    return render(request, "403.html", status=403)


def page_not_found(request: HttpRequest, exception=None) -> HttpResponse:
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    return render(request, "500.html", status=500)
