"""What every vendor's webhook URL does, whoever calls it: answer fast, queue the work, refuse
unknown, disabled or oversized requests, and never need a CSRF token."""

from __future__ import annotations

import pytest
from django.test import Client

from moulin.accounts.audit import CLI
from moulin.feedback.models import Feedback
from moulin.integrations import services, tasks
from moulin.integrations.models import DeliveryStatus, WebhookDelivery
from tests.integrations.conftest import SECRET, hook_url, last_delivery, payload
from tests.integrations.signing import intercom_headers

pytestmark = pytest.mark.django_db

BODY = payload("intercom_conversation_user_created.json")


@pytest.fixture
def intercom(make_integration):
    return make_integration("intercom")


def test_the_answer_comes_before_processing_which_runs_as_a_background_task(intercom, client):
    response = client.post(hook_url(intercom), BODY, content_type="application/json",
                           headers=intercom_headers(SECRET, BODY))

    assert response.status_code == 200
    delivery = last_delivery(intercom)
    assert delivery.status == DeliveryStatus.RECEIVED
    assert Feedback.objects.count() == 0
    intercom.refresh_from_db()
    assert intercom.last_delivery_at is not None

    tasks.process_delivery.enqueue(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PROCESSED
    assert Feedback.objects.count() == 1


def test_processing_a_delivery_twice_changes_nothing(intercom, client):
    client.post(hook_url(intercom), BODY, content_type="application/json",
                headers=intercom_headers(SECRET, BODY))
    delivery = last_delivery(intercom)

    assert services.delivery_process(delivery_id=delivery.pk) == DeliveryStatus.PROCESSED
    assert services.delivery_process(delivery_id=delivery.pk) == DeliveryStatus.PROCESSED
    delivery.refresh_from_db()
    assert delivery.attempts == 1
    assert Feedback.objects.count() == 1


def test_vendors_post_without_a_csrf_token(intercom):
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(hook_url(intercom), BODY, content_type="application/json",
                           headers=intercom_headers(SECRET, BODY))

    assert response.status_code == 200


def test_an_unknown_url_key_answers_404(client):
    response = client.post("/integrations/hooks/not-a-key/", BODY,
                           content_type="application/json")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert WebhookDelivery.objects.count() == 0


def test_a_disabled_integration_answers_410_and_stores_nothing(intercom, admin, client):
    services.integration_update(actor=admin, origin=CLI, integration=intercom, enabled=False)
    response = client.post(hook_url(intercom), BODY, content_type="application/json",
                           headers=intercom_headers(SECRET, BODY))

    assert response.status_code == 410
    assert response.json()["code"] == "disabled"
    assert WebhookDelivery.objects.count() == 0


def test_a_webhook_body_over_1_mb_answers_413_and_stores_nothing(intercom, client):
    big = b'{"type": "notification_event", "padding": "' + b"x" * (1024 * 1024) + b'"}'
    response = client.post(hook_url(intercom), big, content_type="application/json",
                           headers=intercom_headers(SECRET, big))

    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert WebhookDelivery.objects.count() == 0


def test_the_url_only_accepts_post(intercom, client):
    assert client.get(hook_url(intercom)).status_code == 405


def test_credentials_and_cookies_sent_along_are_never_stored(intercom, client):
    client.cookies["sessionid"] = "abc"
    client.post(hook_url(intercom), BODY, content_type="application/json",
                headers={**intercom_headers(SECRET, BODY), "Authorization": "Bearer xyz"})

    headers = last_delivery(intercom).headers
    assert "x-hub-signature" in headers
    assert "authorization" not in headers and "cookie" not in headers


def test_vendors_are_answered_in_english_and_the_delivery_log_speaks_the_organisation_language(
        intercom, client):
    intercom.organisation.language = "fr"
    intercom.organisation.save()

    refused = client.post(hook_url(intercom), BODY, content_type="application/json",
                          headers={"X-Hub-Signature": "sha1=" + "0" * 40},
                          HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9")
    unknown = client.post("/integrations/hooks/not-a-key/", BODY,
                          content_type="application/json", HTTP_ACCEPT_LANGUAGE="fr")

    assert refused.status_code == 401
    assert refused.json()["message"].startswith("X-Hub-Signature does not match")
    assert last_delivery(intercom).error.startswith("X-Hub-Signature ne correspond pas")
    assert unknown.json()["message"].startswith("No integration has this URL")
