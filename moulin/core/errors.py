"""Domain errors: raised by services, mapped to HTTP once (API) or to form errors (views)."""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the product was broken by the request; the message says what to fix."""

    status = 400
    code = "invalid_request"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = str(message)
        self.field = field
        if code:
            self.code = code


class Conflict(DomainError):
    """The request clashes with the current state (a duplicate name, the last admin…)."""

    status = 409
    code = "conflict"


class RowError(DomainError):
    """A value of one row (import, bulk API, vendor payload) that cannot be used; names the
    field, so the row-by-row report can say what to fix."""
