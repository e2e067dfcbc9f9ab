"""Zendesk tickets arrive as feedback: trigger webhooks, ticket events, signatures, retries."""

from __future__ import annotations

import hashlib
import json

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moulin.customers.services import customer_upsert
from moulin.feedback.models import Feedback
from moulin.integrations.models import DeliveryStatus, WebhookDelivery
from tests.integrations.conftest import SECRET, last_delivery, payload
from tests.integrations.signing import zendesk_headers

pytestmark = pytest.mark.django_db

TICKET = payload("zendesk_ticket_trigger.json")
EVENT = payload("zendesk_ticket_created_event.json")


@pytest.fixture
def zendesk(make_integration):
    return make_integration("zendesk")


def test_a_trigger_ticket_becomes_feedback_with_its_requester_and_priority(
        zendesk, initech, deliver):
    response = deliver(zendesk, TICKET, headers=zendesk_headers(SECRET, TICKET))

    assert response.status_code == 200
    feedback = Feedback.objects.get()
    assert (feedback.source, feedback.external_id) == ("zendesk", "35436")
    assert feedback.title == "Roadmap export to PDF"
    # {{ticket.description}}'s header line (rule, author, date) is not the customer's words.
    assert feedback.text == ("Nous aimerions exporter la roadmap en PDF pour notre comité de "
                             "direction.\n\nMerci !")
    assert feedback.contact.email == "marc.dupont@initech.example"
    assert feedback.customer == initech
    assert feedback.importance == "critical"
    assert sorted(feedback.tags.values_list("name", flat=True)) == ["enterprise", "export",
                                                                    "roadmap"]
    assert feedback.links == ["https://initech.zendesk.com/agent/tickets/35436"]
    assert feedback.language == "fr"


def test_a_ticket_created_event_becomes_feedback(zendesk, deliver):
    deliver(zendesk, EVENT, headers=zendesk_headers(SECRET, EVENT))

    feedback = Feedback.objects.get()
    assert (feedback.external_id, feedback.title) == ("35437", "SSO with Okta")
    assert feedback.text == "Please add SSO with Okta for our team."
    assert feedback.importance == "nice_to_have"
    assert last_delivery(zendesk).event_id == "event:cbe4028c-7239-495d-b020-f22348516046"


def test_a_replayed_invocation_is_not_processed_again_and_a_new_one_updates_the_ticket(
        zendesk, deliver):
    headers = zendesk_headers(SECRET, TICKET, invocation_id="111")
    deliver(zendesk, TICKET, headers=headers)
    replay = deliver(zendesk, TICKET, headers=headers)
    assert replay.json()["status"] == "duplicate"

    data = json.loads(TICKET)
    data["ticket"]["subject"] = "Roadmap export to PDF and PNG"
    updated = json.dumps(data).encode()
    deliver(zendesk, updated, headers=zendesk_headers(SECRET, updated, invocation_id="112"))

    assert Feedback.objects.count() == 1
    assert Feedback.objects.get().title == "Roadmap export to PDF and PNG"
    assert WebhookDelivery.objects.filter(integration=zendesk).count() == 2


def test_a_tampered_body_or_a_wrong_secret_is_refused(zendesk, deliver):
    tampered = TICKET.replace(b"High", b"Low")
    response = deliver(zendesk, tampered, headers=zendesk_headers(SECRET, TICKET))
    assert response.status_code == 401
    assert "X-Zendesk-Webhook-Signature" in response.json()["message"]

    response = deliver(zendesk, TICKET, headers=zendesk_headers("not-the-secret", TICKET))
    assert response.status_code == 401
    assert Feedback.objects.count() == 0
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.REJECTED).count() == 2


def test_a_failed_delivery_can_be_retried_once_its_customer_exists(
        zendesk, organisation, admin, client, deliver, django_capture_on_commit_callbacks):
    data = json.loads(TICKET)
    data["ticket"]["organization"]["external_id"] = "crm-vandelay"
    body = json.dumps(data).encode()
    deliver(zendesk, body, headers=zendesk_headers(SECRET, body))
    delivery = last_delivery(zendesk)
    assert delivery.status == DeliveryStatus.FAILED
    assert "crm-vandelay" in delivery.error
    assert Feedback.objects.count() == 0

    customer, _created = customer_upsert(organisation=organisation, raw={
        "external_id": "crm-vandelay", "name": "Vandelay Industries"})
    client.force_login(admin.user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("integrations:delivery_retry", args=[delivery.pk]))

    assert response.status_code == 302
    delivery.refresh_from_db()
    assert (delivery.status, delivery.error, delivery.attempts) == (DeliveryStatus.PROCESSED,
                                                                    "", 2)
    assert Feedback.objects.get().customer == customer


def test_a_body_that_is_not_a_ticket_fails_with_what_to_configure(zendesk, deliver):
    body = b'{"hello": "world"}'
    deliver(zendesk, body, headers=zendesk_headers(SECRET, body))

    delivery = last_delivery(zendesk)
    assert delivery.status == DeliveryStatus.FAILED
    assert "settings page" in delivery.error


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(
    st.binary(max_size=300),
    st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                 lambda children: st.lists(children, max_size=4)
                 | st.dictionaries(st.sampled_from(
                     ["ticket", "type", "detail", "id", "description", "subject", "requester",
                      "email", "tags", "priority", "organization", "external_id", "created_at",
                      "comment"]), children, max_size=6),
                 max_leaves=25).map(lambda value: json.dumps(value).encode())))
def test_any_signed_body_ends_processed_ignored_or_failed_with_a_message_never_a_500(
        zendesk, deliver, body):
    invocation = hashlib.sha256(body).hexdigest()[:16]  # each body its own invocation
    response = deliver(zendesk, body, headers=zendesk_headers(SECRET, body,
                                                             invocation_id=invocation))

    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get(pk=response.json()["delivery"])
    assert delivery.status in {DeliveryStatus.PROCESSED, DeliveryStatus.IGNORED,
                               DeliveryStatus.FAILED}
    if delivery.status != DeliveryStatus.PROCESSED:
        assert delivery.error
        assert "Unexpected error" not in delivery.error
