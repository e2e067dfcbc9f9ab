"""Builders for the inbox stories: customers with business data and feedback items."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from moulin.customers.models import Customer
from moulin.customers.services import customer_upsert
from moulin.feedback.models import Feedback
from moulin.feedback.services import feedback_create


def make_customer(organisation, name: str, **business) -> Customer:
    """A customer; ``business`` takes the CRM fields (arr, plan, segment, lifecycle…)."""
    customer, _created = customer_upsert(organisation=organisation, raw={
        "name": name, "external_id": business.pop("external_id", f"crm-{name.lower()}"),
        **business})
    return customer


def make_feedback(organisation, text: str, *, actor=None, days_ago: float = 0,
                  status: str | None = None, customer: Customer | None = None,
                  **raw) -> Feedback:
    """One feedback item received ``days_ago`` days ago (optionally already triaged)."""
    received: datetime = timezone.now() - timedelta(days=days_ago)
    item, _created = feedback_create(organisation=organisation, actor=actor, raw={
        "text": text, "created_at": received.isoformat(),
        **({"customer_id": customer.pk} if customer else {}), **raw})
    if status:
        Feedback.objects.filter(pk=item.pk).update(status=status)
        item.refresh_from_db()
    return item
