"""What the integration tests share: integrations per vendor, payload files, and a helper
that posts to an integration's webhook URL the way a vendor does."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

from moulin.accounts.audit import CLI
from moulin.customers.services import customer_upsert
from moulin.integrations import services
from moulin.integrations.models import Integration, WebhookDelivery

PAYLOADS = Path(__file__).parent / "payloads"
SECRET = "whsec-test-9f8e7d6c5b4a"


def payload(name: str) -> bytes:
    """A vendor payload stored as documented (tests/integrations/payloads/)."""
    return (PAYLOADS / name).read_bytes()


def hook_url(integration: Integration, *, mime: bool = False) -> str:
    name = "integrations:hook_receive_mime" if mime else "integrations:hook_receive"
    return reverse(name, args=[integration.url_key])


@pytest.fixture
def make_integration(admin):
    def make(vendor: str, secret: str = SECRET, name: str | None = None) -> Integration:
        return services.integration_create(actor=admin, origin=CLI, vendor=vendor,
                                           name=name or f"{vendor} inbox",
                                           signing_secret=secret)
    return make


@pytest.fixture
def initech(organisation):
    """A customer whose people write from @initech.example."""
    customer, _created = customer_upsert(organisation=organisation, raw={
        "external_id": "crm-initech", "name": "Initech", "domains": ["initech.example"]})
    return customer


@pytest.fixture
def hooli(organisation):
    customer, _created = customer_upsert(organisation=organisation, raw={
        "external_id": "crm-hooli", "name": "Hooli", "domains": ["hooli.example"]})
    return customer


@pytest.fixture
def deliver(client, django_capture_on_commit_callbacks):
    """POST like a vendor and run the queued processing, as the worker would."""
    def post(integration: Integration, body: bytes, *, headers: dict | None = None,
             content_type: str = "application/json", mime: bool = False):
        with django_capture_on_commit_callbacks(execute=True):
            return client.generic("POST", hook_url(integration, mime=mime), data=body,
                                  content_type=content_type, headers=headers or {})
    return post


def last_delivery(integration: Integration) -> WebhookDelivery:
    return WebhookDelivery.objects.filter(integration=integration).order_by("-id").first()
