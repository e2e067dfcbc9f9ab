"""Keep the API's one error format for the answers Django or ninja build before our handlers."""

import json

from django.http import HttpResponse

API_PREFIX = "/api/"


class ApiErrorFormatMiddleware:
    """405 (method not allowed) and 404 (no such route) under /api/ answer in the API's JSON
    error format instead of an HTML page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not request.path.startswith(API_PREFIX) or response.status_code not in (404, 405):
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        if response.status_code == 405:
            allowed = response.get("Allow", "")
            body = {"status": 405, "code": "method_not_allowed",
                    "message": f"{request.method} is not allowed here; use {allowed}.",
                    "errors": []}
        else:
            body = {"status": 404, "code": "not_found",
                    "message": "No such API route: see /api/v1/docs.", "errors": []}
        replacement = HttpResponse(json.dumps(body), status=response.status_code,
                                   content_type="application/json")
        if response.has_header("Allow"):
            replacement["Allow"] = response["Allow"]
        return replacement
