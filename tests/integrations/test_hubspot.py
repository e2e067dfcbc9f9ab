"""HubSpot tickets arrive as feedback through a workflow webhook (signature v3); app webhook
events, which carry only ids, are kept as ignored with the reason."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moulin.feedback.models import Feedback
from moulin.integrations.models import DeliveryStatus, WebhookDelivery
from tests.integrations.conftest import SECRET, hook_url, last_delivery, payload
from tests.integrations.signing import hubspot_headers

pytestmark = pytest.mark.django_db

WORKFLOW = payload("hubspot_workflow_ticket.json")
ALL_PROPERTIES = payload("hubspot_workflow_all_properties.json")
EVENTS = payload("hubspot_ticket_creation_events.json")


@pytest.fixture
def hubspot(make_integration):
    return make_integration("hubspot")


def signed(integration, body: bytes, **options) -> dict:
    return hubspot_headers(SECRET, body, f"http://testserver{hook_url(integration)}", **options)


def test_a_workflow_ticket_becomes_feedback_linked_to_its_contact_and_customer(
        hubspot, hooli, deliver):
    response = deliver(hubspot, WORKFLOW, headers=signed(hubspot, WORKFLOW))

    assert response.status_code == 200
    feedback = Feedback.objects.get()
    assert (feedback.source, feedback.external_id) == ("hubspot", "2037261901")
    assert feedback.title == "Bulk edit for custom fields"
    assert feedback.text == ("Our ops team edits 300 records a week one by one.\n\n"
                             "A bulk edit would save them hours.")
    assert feedback.importance == "critical"
    assert feedback.contact.email == "paula@hooli.example"
    assert feedback.contact.name == "Paula Martin"
    assert feedback.customer == hooli
    assert int(feedback.received_at.timestamp()) == 1763992800


def test_the_include_all_properties_body_is_read_too(hubspot, deliver):
    deliver(hubspot, ALL_PROPERTIES, headers=signed(hubspot, ALL_PROPERTIES))

    feedback = Feedback.objects.get()
    assert (feedback.external_id, feedback.title) == ("2037261902", "Gantt view")
    assert feedback.text == "We need a Gantt view to plan launches."
    assert feedback.importance == "nice_to_have"


def test_app_webhook_events_without_text_are_ignored_with_the_reason(hubspot, deliver):
    deliver(hubspot, EVENTS, headers=signed(hubspot, EVENTS))

    delivery = last_delivery(hubspot)
    assert delivery.status == DeliveryStatus.IGNORED
    assert "ticket.creation" in delivery.error
    assert "Send a webhook" in delivery.error
    assert Feedback.objects.count() == 0


def test_a_replayed_event_batch_is_not_processed_twice(hubspot, deliver):
    deliver(hubspot, EVENTS, headers=signed(hubspot, EVENTS))
    replay = deliver(hubspot, EVENTS, headers=signed(hubspot, EVENTS))

    assert replay.json()["status"] == "duplicate"
    assert WebhookDelivery.objects.filter(integration=hubspot).count() == 1


def test_the_workflow_firing_again_for_a_ticket_updates_its_feedback(hubspot, deliver):
    deliver(hubspot, WORKFLOW, headers=signed(hubspot, WORKFLOW))
    data = json.loads(WORKFLOW)
    data["subject"] = "Bulk edit for all fields"
    again = json.dumps(data).encode()
    deliver(hubspot, again, headers=signed(hubspot, again))

    assert Feedback.objects.count() == 1
    assert Feedback.objects.get().title == "Bulk edit for all fields"


def test_a_request_signed_more_than_5_minutes_ago_is_refused(hubspot, deliver):
    response = deliver(hubspot, WORKFLOW, headers=signed(hubspot, WORKFLOW, age_seconds=360))

    assert response.status_code == 401
    assert "5 minutes" in response.json()["message"]
    assert Feedback.objects.count() == 0


@pytest.mark.parametrize("headers", [
    lambda hubspot: hubspot_headers(SECRET, WORKFLOW, "http://testserver/somewhere-else/"),
    lambda hubspot: hubspot_headers("another-app-secret", WORKFLOW,
                                    f"http://testserver{hook_url(hubspot)}"),
    lambda hubspot: {},
], ids=["signed-for-another-url", "wrong-secret", "missing"])
def test_a_request_without_a_valid_v3_signature_is_refused(hubspot, deliver, headers):
    response = deliver(hubspot, WORKFLOW, headers=headers(hubspot))

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_signature"
    assert last_delivery(hubspot).status == DeliveryStatus.REJECTED
    assert Feedback.objects.count() == 0


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(
    st.binary(max_size=300).filter(lambda raw: _utf8(raw)),
    st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                 lambda children: st.lists(children, max_size=4)
                 | st.dictionaries(st.sampled_from(
                     ["properties", "object", "value", "subject", "content", "hs_note_body",
                      "hs_object_id", "objectId", "email", "hs_ticket_priority", "createdate",
                      "eventId", "subscriptionType"]), children, max_size=6),
                 max_leaves=25).map(lambda value: json.dumps(value).encode())))
def test_any_signed_body_ends_processed_ignored_or_failed_with_a_message_never_a_500(
        hubspot, deliver, body):
    response = deliver(hubspot, body, headers=signed(hubspot, body))

    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get(pk=response.json()["delivery"])
    assert delivery.status in {DeliveryStatus.PROCESSED, DeliveryStatus.IGNORED,
                               DeliveryStatus.FAILED}
    if delivery.status != DeliveryStatus.PROCESSED:
        assert delivery.error
        assert "Unexpected error" not in delivery.error


def _utf8(raw: bytes) -> bool:
    # HubSpot's v3 signature is computed over UTF-8 text: the test signs text the same way.
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
