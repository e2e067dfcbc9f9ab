"""The features API."""

from ninja import Router

router = Router(tags=["Features"])
