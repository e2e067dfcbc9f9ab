"""Reading integrations and their deliveries, always through the permission policy."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Substr
from django.shortcuts import get_object_or_404
from django.utils import timezone

from moulin.accounts.models import Member
from moulin.core import policy
from moulin.core.policy import Action
from moulin.integrations.models import DeliveryStatus, Integration, WebhookDelivery

# Integrations hold secrets and customer payloads: only those who manage the organisation.
MODULE, ACTION = "organisation", Action.CHANGE
EXCERPT_CHARS = 300


def integration_for_url_key(*, url_key: str) -> Integration | None:
    """The integration a public webhook URL names (None for an unknown key)."""
    if not url_key or len(url_key) > 64:
        return None
    return Integration.objects.select_related("organisation").filter(url_key=url_key).first()


def integration_list(*, member: Member) -> QuerySet[Integration]:
    """The organisation's integrations with last week's delivery counts."""
    since = timezone.now() - timedelta(days=7)
    recent = Q(deliveries__received_at__gte=since)
    return policy.scope(Integration.objects.all(), member, MODULE, ACTION).annotate(
        deliveries_week=Count("deliveries", filter=recent),
        failed_week=Count("deliveries", filter=recent & Q(
            deliveries__status__in=[DeliveryStatus.FAILED, DeliveryStatus.REJECTED])),
    ).order_by("vendor", "name")


def integration_get(*, member: Member, pk: int) -> Integration:
    """One integration of the member's organisation, or 404."""
    return get_object_or_404(policy.scope(Integration.objects.all(), member, MODULE, ACTION),
                             pk=pk)


def delivery_list(*, integration: Integration, limit: int = 50) -> list[WebhookDelivery]:
    """The latest deliveries of an integration, with an excerpt instead of the whole body."""
    return list(integration.deliveries.defer("body", "headers")
                .annotate(body_excerpt=Substr("body", 1, EXCERPT_CHARS))
                .order_by("-received_at", "-id")[:limit])


def delivery_get(*, member: Member, pk: int) -> WebhookDelivery:
    """One delivery of one of the member's integrations, or 404."""
    integrations = policy.scope(Integration.objects.all(), member, MODULE, ACTION)
    return get_object_or_404(WebhookDelivery.objects.select_related("integration")
                             .filter(integration__in=integrations), pk=pk)
