"""Connections to the tools feedback comes from, and every delivery they made."""

from __future__ import annotations

import secrets

from django.db import models
from django.utils.translation import gettext_lazy as _

from moulin.accounts.models import Organisation
from moulin.core.models import TenantModel


class Vendor(models.TextChoices):
    INTERCOM = "intercom", "Intercom"
    ZENDESK = "zendesk", "Zendesk"
    HUBSPOT = "hubspot", "HubSpot"
    SLACK = "slack", "Slack"
    EMAIL = "email", _("Inbound email")


class Integration(TenantModel):
    """One configured inbound channel. Its webhook URL carries an unguessable key; vendors that
    sign their requests are also verified with ``signing_secret``."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE,
                                     related_name="integrations")
    vendor = models.CharField(max_length=16, choices=Vendor.choices)
    name = models.CharField(_("name"), max_length=100)
    url_key = models.CharField(max_length=64, unique=True, default=secrets.token_urlsafe)
    signing_secret = models.CharField(_("signing secret"), max_length=200, blank=True,
                                      help_text=_("The secret the vendor signs its requests "
                                                  "with (HMAC)."))
    enabled = models.BooleanField(_("enabled"), default=True)
    settings = models.JSONField(default=dict, blank=True)
    last_delivery_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["vendor", "name"]

    def __str__(self) -> str:
        return f"{self.get_vendor_display()} — {self.name}"


class DeliveryStatus(models.TextChoices):
    RECEIVED = "received", _("Received")
    PROCESSED = "processed", _("Processed")
    IGNORED = "ignored", _("Ignored")
    FAILED = "failed", _("Failed")
    REJECTED = "rejected", _("Rejected")


class WebhookDelivery(models.Model):
    """One request a vendor sent: kept so it can be inspected and retried."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE,
                                    related_name="deliveries")
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # The vendor's own event id: a replayed delivery is recognised and not processed twice.
    event_id = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices,
                              default=DeliveryStatus.RECEIVED)
    headers = models.JSONField(default=dict)
    body = models.TextField()
    error = models.CharField(max_length=500, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    feedback_id = models.BigIntegerField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["integration", "event_id"],
                                    condition=~models.Q(event_id=""),
                                    name="webhook_delivery_unique_event"),
        ]

    def __str__(self) -> str:
        return f"{self.integration_id}:{self.event_id or self.pk}"

    @property
    def excerpt(self) -> str:
        return self.body[:300]
