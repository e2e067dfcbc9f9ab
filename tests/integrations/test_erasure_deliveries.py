"""GDPR erasure reaches the requests the vendors sent: each webhook delivery keeps its body and
headers for inspection and retries, and they name the person; erasing the contact replaces
their name and address there too, leaving a body that can still be read and processed."""

from __future__ import annotations

import base64
import json

import pytest
from django.test.client import MULTIPART_CONTENT

from moulin.accounts.audit import CLI
from moulin.customers.models import Contact
from moulin.feedback.models import Feedback
from moulin.feedback.services import contact_erase
from moulin.integrations import services
from moulin.integrations.models import DeliveryStatus, Integration, WebhookDelivery
from tests.integrations.conftest import SECRET, last_delivery, payload
from tests.integrations.signing import intercom_headers, slack_headers
from tests.integrations.test_email import multipart

pytestmark = pytest.mark.django_db

CREATED = payload("intercom_conversation_user_created.json")
JANE = "jane.doe@initech.example"


def erase(admin, email: str) -> None:
    contact_erase(actor=admin, origin=CLI, contact=Contact.objects.get(email=email))


@pytest.fixture
def intercom(make_integration):
    return make_integration("intercom")


def test_a_json_delivery_forgets_the_person_and_stays_valid_json(admin, intercom, initech,
                                                                 deliver):
    headers = {**intercom_headers(SECRET, CREATED), "X-Intercom-Requester": f"Jane Doe <{JANE}>"}
    deliver(intercom, CREATED, headers=headers)
    delivery = last_delivery(intercom)
    assert JANE in delivery.body and delivery.status == DeliveryStatus.PROCESSED

    erase(admin, JANE)

    delivery.refresh_from_db()
    assert "jane" not in delivery.body.lower()
    assert "jane" not in json.dumps(delivery.headers).lower()
    assert delivery.headers["x-intercom-requester"] == "[erased] <[erased]>"
    author = json.loads(delivery.body)["data"]["item"]["source"]["author"]
    assert (author["name"], author["email"]) == ("[erased]", "[erased]")
    assert "The CSV export <b>times out</b>" in delivery.body  # what they said stays


def test_a_name_written_with_json_escapes_is_found(admin, intercom, deliver):
    data = json.loads(CREATED)
    data["data"]["item"]["source"]["author"].update(name="Zoé Doe", email="zoe@initech.example")
    body = json.dumps(data).encode()  # ensure_ascii: "Zo\u00e9 Doe"
    deliver(intercom, body, headers=intercom_headers(SECRET, body))
    assert Contact.objects.get(email="zoe@initech.example").name == "Zoé Doe"

    erase(admin, "zoe@initech.example")

    author = json.loads(last_delivery(intercom).body)["data"]["item"]["source"]["author"]
    assert (author["name"], author["email"]) == ("[erased]", "[erased]")


def test_a_failed_delivery_retried_after_the_erasure_does_not_bring_the_person_back(
        admin, intercom, deliver, django_capture_on_commit_callbacks):
    deliver(intercom, CREATED, headers=intercom_headers(SECRET, CREATED))
    delivery = last_delivery(intercom)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED)

    erase(admin, JANE)
    delivery.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        services.delivery_retry(actor=admin, delivery=delivery)

    delivery.refresh_from_db()
    assert delivery.status in {DeliveryStatus.PROCESSED, DeliveryStatus.FAILED}
    assert not Contact.objects.filter(email=JANE).exists()
    assert not Contact.objects.filter(name="Jane Doe").exists()
    assert not Feedback.objects.filter(text__icontains="jane").exists()


def test_a_raw_email_forgets_its_sender(admin, make_integration, initech, deliver):
    inbox = make_integration("email", secret="")
    deliver(inbox, payload("email_plain.eml"), content_type="message/rfc822")

    erase(admin, JANE)

    body = last_delivery(inbox).body
    assert "Jane Doe" not in body and "jane.doe" not in body
    assert "From: [erased] <[erased]>" in body
    assert "Our auditors need the audit log kept for 7 years" in body


def test_an_8_bit_email_kept_in_base64_forgets_its_sender(admin, make_integration, deliver):
    inbox = make_integration("email", secret="")
    eight_bit = ("From: Zoé Martin <zoe@initech.example>\r\nSubject: Lenteur\r\n"
                 "Message-ID: <sg-1@initech.example>\r\n"
                 "Content-Type: text/plain; charset=iso-8859-1\r\n"
                 "Content-Transfer-Encoding: 8bit\r\n\r\nLa recherche est très lente.\r\n"
                 ).encode("latin-1")
    deliver(inbox, multipart({"to": "feedback@inbound.moulin.example", "email": eight_bit}),
            content_type=MULTIPART_CONTENT)
    delivery = last_delivery(inbox)
    assert delivery.headers["x-moulin-body-encoding"] == "base64"

    erase(admin, "zoe@initech.example")

    delivery.refresh_from_db()
    raw = base64.b64decode(delivery.body)
    assert b"zoe@" not in raw and "Zoé Martin".encode("latin-1") not in raw
    assert b"From: [erased] <[erased]>" in raw
    assert "La recherche est très lente.".encode("latin-1") in raw


def test_a_form_body_forgets_a_url_encoded_address(admin, make_integration, hooli, deliver):
    slack = make_integration("slack")
    command = payload("slack_slash_command.txt")
    deliver(slack, command, headers=slack_headers(SECRET, command),
            content_type="application/x-www-form-urlencoded")
    assert Contact.objects.filter(email="paula@hooli.example").exists()

    erase(admin, "paula@hooli.example")

    body = last_delivery(slack).body
    assert "paula" not in body
    assert "text=[erased]+Exports+time+out" in body


def test_another_organisations_deliveries_are_left_alone(admin, outsider, intercom, initech,
                                                         deliver):
    deliver(intercom, CREATED, headers=intercom_headers(SECRET, CREATED))
    theirs = Integration.objects.create(organisation=outsider.organisation, vendor="intercom",
                                        name="Their Intercom")
    kept = WebhookDelivery.objects.create(integration=theirs, body=CREATED.decode(),
                                          headers={"x-requester": JANE}, event_id="theirs")

    erase(admin, JANE)

    kept.refresh_from_db()
    assert kept.body == CREATED.decode()
    assert kept.headers == {"x-requester": JANE}
