"""Slack messages arrive as feedback: the message shortcut, the /feedback command, the Events
API handshake, and Slack's signing rules."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moulin.feedback.models import Feedback
from moulin.integrations.models import DeliveryStatus, WebhookDelivery
from tests.integrations.conftest import SECRET, last_delivery, payload
from tests.integrations.signing import slack_headers

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"
SHORTCUT = payload("slack_message_shortcut.json")
COMMAND = payload("slack_slash_command.txt")


@pytest.fixture
def slack(make_integration):
    return make_integration("slack")


def shortcut_body(data: dict | None = None) -> bytes:
    return urlencode({"payload": json.dumps(data or json.loads(SHORTCUT))}).encode()


def test_a_message_shortcut_gets_an_empty_200_and_the_message_becomes_feedback(
        slack, deliver):
    body = shortcut_body()
    started = time.monotonic()
    response = deliver(slack, body, headers=slack_headers(SECRET, body), content_type=FORM)

    assert response.status_code == 200
    assert response.content == b""
    assert time.monotonic() - started < 3  # Slack gives up after 3 seconds
    feedback = Feedback.objects.get()
    assert (feedback.source, feedback.external_id) == ("slack", "C0LAN2Q65/1763992804.000100")
    # Slack's markup is shown as a reader sees it.
    assert feedback.text == ("From paula@hooli.example on the call: the weekly digest & the "
                             "alerts should be configurable per team. cc @U012AB3CD")
    assert feedback.links == [
        "https://acme-treasury.slack.com/archives/C0LAN2Q65/p1763992804000100"]
    assert int(feedback.received_at.timestamp()) == 1763992804


def test_the_same_message_sent_by_two_people_is_one_feedback(slack, deliver):
    first = shortcut_body()
    deliver(slack, first, headers=slack_headers(SECRET, first), content_type=FORM)
    data = json.loads(SHORTCUT)
    data["trigger_id"], data["user"]["id"] = "944799105734.773906753841.another", "UB0B"
    second = shortcut_body(data)
    deliver(slack, second, headers=slack_headers(SECRET, second), content_type=FORM)

    assert Feedback.objects.count() == 1
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.PROCESSED).count() == 2


def test_the_slash_command_answers_an_ephemeral_thanks_and_links_the_contact(
        slack, hooli, deliver):
    response = deliver(slack, COMMAND, headers=slack_headers(SECRET, COMMAND),
                       content_type=FORM)

    assert response.status_code == 200
    assert response.json() == {"response_type": "ephemeral",
                               "text": "Thanks! Your feedback is recorded in Moulin."}
    feedback = Feedback.objects.get()
    assert feedback.text == "Exports time out on large workspaces & need a progress bar"
    assert feedback.contact.email == "paula@hooli.example"
    assert feedback.customer == hooli
    assert feedback.external_id == "command/13345224609.738474920.8088930838d88f008e0"


def test_an_empty_slash_command_explains_how_to_use_it_and_imports_nothing(slack, deliver):
    body = urlencode({"command": "/feedback", "text": "", "trigger_id": "1.2.3",
                      "user_name": "sam"}).encode()
    response = deliver(slack, body, headers=slack_headers(SECRET, body), content_type=FORM)

    assert "/feedback jane@customer.com" in response.json()["text"]
    assert last_delivery(slack).status == DeliveryStatus.IGNORED
    assert Feedback.objects.count() == 0


def test_the_events_api_url_verification_gets_its_challenge_back(slack, deliver):
    body = payload("slack_url_verification.json")
    response = deliver(slack, body, headers=slack_headers(SECRET, body))

    assert response.status_code == 200
    assert response.json() == {
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}
    assert last_delivery(slack).status == DeliveryStatus.IGNORED


def test_a_request_older_than_5_minutes_is_refused_as_a_replay(slack, deliver):
    response = deliver(slack, COMMAND, headers=slack_headers(SECRET, COMMAND, age_seconds=301),
                       content_type=FORM)

    assert response.status_code == 401
    assert "X-Slack-Request-Timestamp" in response.json()["message"]
    assert Feedback.objects.count() == 0


@pytest.mark.parametrize("headers", [
    lambda: slack_headers("not-our-signing-secret", COMMAND),
    lambda: {**slack_headers(SECRET, COMMAND), "X-Slack-Signature": "v0=" + "ab" * 32},
    lambda: {"X-Slack-Request-Timestamp": str(int(time.time()))},
], ids=["wrong-secret", "forged", "missing"])
def test_a_request_without_a_valid_signature_is_refused(slack, deliver, headers):
    response = deliver(slack, COMMAND, headers=headers(), content_type=FORM)

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_signature"
    assert last_delivery(slack).status == DeliveryStatus.REJECTED
    assert Feedback.objects.count() == 0


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(
    st.binary(max_size=300),
    st.dictionaries(st.sampled_from(["payload", "command", "text", "trigger_id"]),
                    st.text(max_size=40), max_size=4).map(lambda d: urlencode(d).encode()),
    st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                 lambda children: st.lists(children, max_size=4)
                 | st.dictionaries(st.sampled_from(
                     ["type", "message", "text", "channel", "id", "team", "domain",
                      "message_ts", "ts", "trigger_id"]), children, max_size=6),
                 max_leaves=25).map(lambda value: urlencode(
                     {"payload": json.dumps(value)}).encode())))
def test_any_signed_body_ends_processed_ignored_or_failed_with_a_message_never_a_500(
        slack, deliver, body):
    response = deliver(slack, body, headers=slack_headers(SECRET, body), content_type=FORM)

    assert response.status_code == 200
    delivery = last_delivery(slack)
    assert delivery.status in {DeliveryStatus.PROCESSED, DeliveryStatus.IGNORED,
                               DeliveryStatus.FAILED}
    if delivery.status != DeliveryStatus.PROCESSED:
        assert delivery.error
        assert "Unexpected error" not in delivery.error
