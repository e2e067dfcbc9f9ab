"""The triage API."""

from ninja import Router

router = Router(tags=["Triage intelligence"])
