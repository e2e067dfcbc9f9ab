"""What every API router shares: one error format, documented error responses, cursor
pagination and the per-token rate limit.

Every error the API returns has the same shape::

    {"status": 422, "code": "validation_error", "message": "…",
     "errors": [{"field": "items.0.email", "message": "…"}]}
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import time
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Protocol

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError
from ninja.throttling import BaseThrottle
from pydantic import Field, create_model

from moulin.core.errors import DomainError
from moulin.core.parsing import MAX_ID

logger = logging.getLogger(__name__)


class FieldError(Schema):
    field: str
    message: str


class ErrorOut(Schema):
    status: int
    code: str
    message: str
    errors: list[FieldError] = []


# The error statuses any authenticated operation can answer. Declared on every operation so
# that clients (and the schema fuzzer) know them.
ERROR_RESPONSES: dict[int, type[Schema]] = {
    400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut,
    413: ErrorOut, 422: ErrorOut, 429: ErrorOut,
}


# An object id as the database stores it (64-bit). A larger number in a filter would crash
# SQLite's driver (OverflowError) instead of matching nothing, so the API refuses it with 422.
ObjectId = Annotated[int, Field(ge=1, le=MAX_ID)]


def responses(success: dict[int, Any]) -> dict[int, Any]:
    """An operation's ``response=`` mapping: its successes plus every documented error."""
    return {**ERROR_RESPONSES, **success}


def error_body(status: int, code: str, message: str,
               errors: Sequence[dict] | None = None) -> dict:
    return {"status": status, "code": code, "message": message, "errors": list(errors or [])}


def _validation_errors(exc: ValidationError) -> list[dict]:
    out = []
    for error in exc.errors:
        location = [str(part) for part in error.get("loc", ())]
        # Ninja prefixes the location with where the value came from ("body", "query", "path")
        # and the parameter name; the client only needs the field path.
        if location and location[0] in {"body", "query", "path", "header", "cookie", "form"}:
            location = location[1:]
            if len(location) > 1 and location[0] in {"payload", "data", "body", "filters"}:
                location = location[1:]
        out.append({"field": ".".join(location) or "__all__",
                    "message": str(error.get("msg", "Invalid value."))})
    return out


def install_error_handlers(api: NinjaAPI) -> None:
    """Map every exception the API can raise to the one error format."""

    def respond(request: HttpRequest, status: int, code: str, message: str,
                errors: Sequence[dict] | None = None) -> HttpResponse:
        return api.create_response(request, error_body(status, code, message, errors),
                                   status=status)

    @api.exception_handler(ValidationError)
    def on_validation(request, exc: ValidationError):
        return respond(request, 422, "validation_error",
                       "Some fields are invalid: see errors for what to fix.",
                       _validation_errors(exc))

    @api.exception_handler(DomainError)
    def on_domain(request, exc: DomainError):
        errors = [{"field": exc.field, "message": exc.message}] if exc.field else []
        status = 422 if exc.status == 400 and exc.field else exc.status
        return respond(request, status, exc.code, exc.message, errors)

    @api.exception_handler(AuthenticationError)
    def on_authentication(request, exc: AuthenticationError):
        response = respond(request, 401, "unauthenticated",
                           "Send a valid API token: Authorization: Bearer <token>.")
        response["WWW-Authenticate"] = 'Bearer realm="moulin"'
        return response

    @api.exception_handler(Throttled)
    def on_throttled(request, exc: Throttled):
        wait = math.ceil(exc.wait or 1)
        response = respond(request, 429, "rate_limited",
                           f"Too many requests for this token: retry in {wait} s.")
        response["Retry-After"] = str(wait)
        return response

    @api.exception_handler(HttpError)
    def on_http_error(request, exc: HttpError):
        codes = {400: "bad_request", 401: "unauthenticated", 403: "forbidden",
                 404: "not_found", 405: "method_not_allowed", 409: "conflict"}
        message = str(exc)
        if exc.status_code == 400 and "parse" in message.lower():
            message = "The request body is not valid JSON: check its syntax."
        return respond(request, exc.status_code, codes.get(exc.status_code, "error"), message)

    @api.exception_handler(Http404)
    def on_not_found(request, exc: Http404):
        return respond(request, 404, "not_found", "No such object in your organisation.")

    @api.exception_handler(Exception)
    def on_unexpected(request, exc: Exception):
        logger.exception("Unhandled API error on %s %s", request.method, request.path)
        return respond(request, 500, "server_error",
                       "Something went wrong on our side; the error was logged.")

    @api.exception_handler(RequestDataTooBig)
    def on_too_big(request, exc: RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE // (1024 * 1024)
        return respond(request, 413, "request_too_large",
                       f"The request body is larger than {limit} MB: send fewer or shorter "
                       "items per call.")

    @api.exception_handler(PermissionDenied)
    def on_forbidden(request, exc: PermissionDenied):
        return respond(request, 403, "forbidden",
                       str(exc) or "Your role and department do not allow this action.")


# --- Bulk calls --------------------------------------------------------------------------------

class BulkItemResult(Schema):
    index: int
    status: str = Field(..., description="created, updated or error")
    id: int | None = None
    external_id: str | None = None
    field: str | None = None
    message: str = ""


class BulkOut(Schema):
    created: int
    updated: int
    errors: int
    items: list[BulkItemResult]


def bulk_answer(results: Sequence[object]) -> dict:
    """The answer of a bulk call: counts, then one result per item in input order."""
    return {"created": sum(r.status == "created" for r in results),
            "updated": sum(r.status == "updated" for r in results),
            "errors": sum(r.status == "error" for r in results),
            "items": [vars(r) for r in results]}


# --- Rate limit ---------------------------------------------------------------------------------

class TokenRateLimit(BaseThrottle):
    """A fixed one-minute window per API token, counted in the shared cache."""

    window = 60

    def __init__(self, per_minute: int | None = None):
        self.per_minute = per_minute
        self._wait: float | None = None

    def allow_request(self, request: HttpRequest) -> bool:
        limit = self.per_minute or settings.API_RATE_LIMIT_PER_MINUTE
        token = getattr(request, "auth", None)
        ident = getattr(token, "pk", None) or self.get_ident(request)
        now = time.time()
        window_start = int(now // self.window) * self.window
        key = f"moulin:ratelimit:{ident}:{window_start}"
        cache.add(key, 0, timeout=self.window + 5)
        try:
            count = cache.incr(key)
        except ValueError:  # the key expired between add and incr
            cache.set(key, 1, timeout=self.window + 5)
            count = 1
        if count > limit:
            self._wait = window_start + self.window - now
            return False
        return True

    def wait(self) -> float | None:
        return self._wait


# --- Filters ------------------------------------------------------------------------------------

# What the schema says of every API filter on customers' business data
# (policy.can_see_customer_data).
CUSTOMER_DATA_FILTER = ("Customers' business data: needs the right to view the Customers "
                        "module, otherwise the call is refused (403) naming this filter.")


class CustomerDataRefused(DomainError):
    """A filter on customers' business data from a member who may not see that data."""

    status = 403
    code = "forbidden"


class ParsedFilters(Protocol):
    """A list's filters parsed from a query (the inbox's, the board's)."""

    errors: dict[str, str]
    refused: list[str]


def refuse_bad_filters(filters: ParsedFilters) -> None:
    """The API's answer to filters a page would drop and explain: a filter on customers'
    business data the member may not see is refused (403), any other bad value too (400), each
    naming the filter. An API answer must be what was asked, never a silently wider list."""
    if filters.refused:
        name = filters.refused[0]
        raise CustomerDataRefused(filters.errors[name], field=name)
    if filters.errors:
        name, message = next(iter(filters.errors.items()))
        raise DomainError(message, field=name)


# --- Cursor pagination ------------------------------------------------------------------------

class InvalidCursor(DomainError):
    code = "invalid_cursor"


def page_schema(item: type[Schema]) -> type[Schema]:
    """A ``{"items": [...], "next_cursor": "…" | null}`` schema for ``item``."""
    return create_model(
        f"{item.__name__.removesuffix('Out')}Page", __base__=Schema,
        items=(list[item], ...), next_cursor=(str | None, None),
    )


def _encode(values: list[Any]) -> str:
    def plain(value: Any) -> Any:
        if isinstance(value, datetime):
            return {"dt": value.isoformat()}
        if isinstance(value, Decimal):
            return {"dec": str(value)}
        return value

    raw = json.dumps([plain(v) for v in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str, size: int) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidCursor(_("This cursor is not valid: use the next_cursor value of the "
                              "previous page."), field="cursor") from exc
    if not isinstance(values, list) or len(values) != size:
        raise InvalidCursor(_("This cursor belongs to another list."), field="cursor")
    out = []
    for value in values:
        if isinstance(value, dict) and "dt" in value:
            try:
                value = datetime.fromisoformat(value["dt"])
            except (TypeError, ValueError) as exc:
                raise InvalidCursor("This cursor is not valid.", field="cursor") from exc
        elif isinstance(value, dict) and "dec" in value:
            try:
                value = Decimal(str(value["dec"]))
            except InvalidOperation as exc:
                raise InvalidCursor("This cursor is not valid.", field="cursor") from exc
        elif not isinstance(value, str | int | float | bool) and value is not None:
            raise InvalidCursor("This cursor is not valid.", field="cursor")
        out.append(value)
    return out


def paginate(queryset: QuerySet, *, cursor: str | None, limit: int,
             ordering: Sequence[str] = ("-id",)) -> dict:
    """Keyset pagination: stable under inserts, constant cost at any depth.

    ``ordering`` must end with a unique field (``id``); each field may start with ``-``.
    """
    limit = max(1, min(int(limit), settings.API_PAGE_SIZE_MAX))
    fields = [f.lstrip("-") for f in ordering]
    qs = queryset.order_by(*ordering)
    if cursor:
        values = _decode(cursor, len(fields))
        # (a, b) after (x, y) in order ⇔ a beyond x, or a = x and b beyond y …
        condition = Q()
        for i, name in enumerate(ordering):
            field = name.lstrip("-")
            beyond = Q(**{f"{field}__{'lt' if name.startswith('-') else 'gt'}": values[i]})
            equal_before = Q(**{fields[j]: values[j] for j in range(i)})
            condition |= equal_before & beyond
        try:
            qs = qs.filter(condition)
        except (DjangoValidationError, TypeError, ValueError) as exc:
            # A forged cursor whose values do not fit the fields ("abc" for an id, null…).
            raise InvalidCursor("This cursor is not valid: use the next_cursor value of the "
                                "previous page.", field="cursor") from exc
    rows = list(qs[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = _encode([_attr(last, f) for f in fields])
    return {"items": rows, "next_cursor": next_cursor}


def _attr(obj: Any, path: str) -> Any:
    for part in path.split("__"):
        obj = getattr(obj, part)
    return obj
