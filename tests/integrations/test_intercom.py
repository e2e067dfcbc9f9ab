"""Intercom conversations arrive as feedback: signed notifications, replays and bad input."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moulin.feedback.models import Feedback
from moulin.integrations.models import DeliveryStatus, WebhookDelivery
from tests.integrations.conftest import SECRET, last_delivery, payload
from tests.integrations.signing import intercom_headers

pytestmark = pytest.mark.django_db

CREATED = payload("intercom_conversation_user_created.json")
REPLIED = payload("intercom_conversation_user_replied.json")


@pytest.fixture
def intercom(make_integration):
    return make_integration("intercom")


def test_a_customer_conversation_becomes_one_feedback_linked_to_its_customer(
        intercom, initech, deliver):
    response = deliver(intercom, CREATED, headers=intercom_headers(SECRET, CREATED))

    assert response.status_code == 200
    assert response.json()["status"] == "accepted"
    feedback = Feedback.objects.get()
    assert feedback.source == "intercom"
    assert feedback.external_id == "147"
    assert feedback.text == ("Hi! The CSV export times out on our biggest workspace.\n\n"
                             "Could you make it run in the background & email us the file?")
    assert feedback.contact.email == "jane.doe@initech.example"
    assert feedback.contact.name == "Jane Doe"
    assert feedback.customer == initech
    assert list(feedback.tags.values_list("name", flat=True)) == ["exports"]
    assert feedback.links == ["https://app.initech.example/exports"]
    assert int(feedback.received_at.timestamp()) == 1763992800
    delivery = last_delivery(intercom)
    assert (delivery.status, delivery.feedback_id) == (DeliveryStatus.PROCESSED, feedback.pk)
    assert delivery.event_id == "notif_0c9b9b4e-1c2d-4c88-9a5c-3d1f7e2a6b01"


def test_a_replayed_notification_is_answered_but_not_processed_twice(intercom, deliver):
    headers = intercom_headers(SECRET, CREATED)
    deliver(intercom, CREATED, headers=headers)
    replay = deliver(intercom, CREATED, headers=headers)

    assert replay.status_code == 200
    assert replay.json()["status"] == "duplicate"
    assert Feedback.objects.count() == 1
    assert WebhookDelivery.objects.filter(integration=intercom).count() == 1


def test_the_same_conversation_sent_again_updates_its_feedback_instead_of_duplicating(
        intercom, deliver):
    deliver(intercom, CREATED, headers=intercom_headers(SECRET, CREATED))
    data = json.loads(CREATED)
    data["id"] = "notif_second_attempt"
    data["data"]["item"]["source"]["body"] = "<p>The CSV export times out (edited).</p>"
    again = json.dumps(data).encode()
    deliver(intercom, again, headers=intercom_headers(SECRET, again))

    assert Feedback.objects.count() == 1
    assert Feedback.objects.get().text == "The CSV export times out (edited)."
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.PROCESSED).count() == 2


def test_each_customer_reply_becomes_its_own_feedback(intercom, initech, deliver):
    deliver(intercom, CREATED, headers=intercom_headers(SECRET, CREATED))
    deliver(intercom, REPLIED, headers=intercom_headers(SECRET, REPLIED))

    reply = Feedback.objects.get(external_id="147/7001")
    assert reply.text == "Also: the export file should keep our column order."
    assert reply.title == "Re: Exports"
    assert reply.customer == initech
    assert reply.attachments == [{"filename": "columns.png", "content_type": "image/png",
                                  "size": 48211,
                                  "url": "https://downloads.intercomcdn.example/columns.png"}]
    assert Feedback.objects.count() == 2


@pytest.mark.parametrize("headers", [
    {"X-Hub-Signature": "sha1=" + "0" * 40},
    intercom_headers("someone-elses-secret", CREATED),
    {},
], ids=["forged", "wrong-secret", "missing"])
def test_a_request_without_a_valid_signature_is_refused_and_kept_as_rejected(
        intercom, deliver, headers):
    response = deliver(intercom, CREATED, headers=headers)

    assert response.status_code == 401
    error = response.json()
    assert error["code"] == "invalid_signature"
    assert "X-Hub-Signature" in error["message"]
    assert Feedback.objects.count() == 0
    delivery = last_delivery(intercom)
    assert delivery.status == DeliveryStatus.REJECTED
    assert "X-Hub-Signature" in delivery.error
    assert delivery.event_id == ""  # a forged request never blocks the real event later


def test_the_signed_real_event_is_accepted_after_a_forged_copy(intercom, deliver):
    deliver(intercom, CREATED, headers={"X-Hub-Signature": "sha1=" + "0" * 40})
    response = deliver(intercom, CREATED, headers=intercom_headers(SECRET, CREATED))

    assert response.json()["status"] == "accepted"
    assert Feedback.objects.count() == 1


def test_intercom_ping_and_admin_topics_are_kept_as_ignored_with_the_reason(intercom, deliver):
    ping = payload("intercom_ping.json")
    deliver(intercom, ping, headers=intercom_headers(SECRET, ping))
    assert last_delivery(intercom).status == DeliveryStatus.IGNORED
    assert "ping" in last_delivery(intercom).error

    data = json.loads(CREATED)
    data["id"], data["topic"] = "notif_admin_note", "conversation.admin.noted"
    note = json.dumps(data).encode()
    deliver(intercom, note, headers=intercom_headers(SECRET, note))
    delivery = last_delivery(intercom)
    assert delivery.status == DeliveryStatus.IGNORED
    assert "conversation.admin.noted" in delivery.error
    assert Feedback.objects.count() == 0


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(
    st.binary(max_size=300),
    st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                 lambda children: st.lists(children, max_size=4)
                 | st.dictionaries(st.sampled_from(
                     ["type", "topic", "id", "data", "item", "source", "body", "author",
                      "conversation_parts", "email", "tags"]), children, max_size=5),
                 max_leaves=20).map(lambda value: json.dumps(value).encode())))
def test_any_signed_body_ends_processed_ignored_or_failed_with_a_message_never_a_500(
        intercom, deliver, body):
    response = deliver(intercom, body, headers=intercom_headers(SECRET, body))

    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get(pk=response.json()["delivery"])
    assert delivery.status in {DeliveryStatus.PROCESSED, DeliveryStatus.IGNORED,
                               DeliveryStatus.FAILED}
    if delivery.status != DeliveryStatus.PROCESSED:
        assert delivery.error
        assert "Unexpected error" not in delivery.error  # a crash, not a message about input
