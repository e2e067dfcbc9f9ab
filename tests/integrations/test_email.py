"""Emails arrive as feedback: raw MIME posted directly, by SendGrid's or Mailgun's inbound
parsing, with encodings, HTML, attachments, forwards and an optional shared secret."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moulin.feedback.models import Feedback
from moulin.integrations.models import DeliveryStatus, Integration, WebhookDelivery
from tests.integrations.conftest import last_delivery, payload
from tests.integrations.signing import mailgun_fields

pytestmark = pytest.mark.django_db

RFC822 = "message/rfc822"
PLAIN = payload("email_plain.eml")
FRENCH = payload("email_french_latin1.eml")


@pytest.fixture
def inbox(make_integration):
    return make_integration("email", secret="")


def multipart(fields: dict[str, bytes | str]) -> bytes:
    """A multipart/form-data body with each field's bytes exactly as given (8-bit included)."""
    lines = []
    for name, value in fields.items():
        data = value if isinstance(value, bytes) else value.encode()
        lines += [f"--{BOUNDARY}".encode(),
                  f'Content-Disposition: form-data; name="{name}"'.encode(), b"", data]
    return b"\r\n".join([*lines, f"--{BOUNDARY}--".encode(), b""])


def test_a_raw_email_becomes_feedback_from_its_sender_and_customer(inbox, initech, deliver):
    response = deliver(inbox, PLAIN, content_type=RFC822)

    assert response.status_code == 200
    feedback = Feedback.objects.get()
    assert (feedback.source, feedback.external_id) == ("email",
                                                       "CAF7a1b2c3d4e5f6@mail.initech.example")
    assert feedback.title == "Audit log retention"  # "Re:" is not part of the subject
    # The signature block ("-- ") is not feedback.
    assert feedback.text == ("Hello,\n\nOur auditors need the audit log kept for 7 years, "
                             "not 1.\n\nThanks,\nJane")
    assert (feedback.contact.email, feedback.contact.name) == ("jane.doe@initech.example",
                                                               "Jane Doe")
    assert feedback.customer == initech
    assert feedback.received_at == datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


def test_a_french_quoted_printable_latin1_email_keeps_its_accents(inbox, deliver):
    deliver(inbox, FRENCH, content_type="text/plain")

    feedback = Feedback.objects.get()
    assert feedback.title == "Problème d'accès à l'export prévu"
    assert feedback.text.startswith("Bonjour,\n\nL'export programmé échoue depuis la mise à "
                                    "jour : nos équipes ne reçoivent plus le fichier")
    assert "C'est très gênant pour la réunion d'équipe." in feedback.text
    assert feedback.contact.name == "Renée Lefèvre"
    assert feedback.language == "fr"


def test_an_html_email_is_stripped_to_text_and_lists_its_attachments(inbox, hooli, deliver):
    deliver(inbox, payload("email_html_attachment.eml"), content_type=RFC822)

    feedback = Feedback.objects.get()
    assert feedback.title == "Dashboard ideas"
    assert feedback.text == ("Two ideas for the dashboard:\n\n- a dark mode\n"
                             "- saved filters & views")
    assert "<" not in feedback.text and "alert" not in feedback.text
    assert feedback.attachments == [{"filename": "mockup.png", "content_type": "image/png",
                                     "size": 70}]
    assert feedback.customer == hooli


def test_a_colleagues_forward_is_credited_to_the_customer_it_quotes(inbox, hooli, deliver):
    deliver(inbox, payload("email_forwarded.eml"), content_type=RFC822)

    feedback = Feedback.objects.get()
    assert feedback.contact.email == "paula@hooli.example"
    assert feedback.customer == hooli
    assert feedback.title == "Slow search"
    assert "Search takes 10 seconds on our 200k records." in feedback.text


def test_sendgrid_raw_mode_posts_the_message_in_the_email_field_byte_for_byte(inbox, deliver):
    eight_bit = ("From: Zoé Martin <zoe@initech.example>\r\nSubject: Lenteur\r\n"
                 "Message-ID: <sg-1@initech.example>\r\n"
                 "Content-Type: text/plain; charset=iso-8859-1\r\n"
                 "Content-Transfer-Encoding: 8bit\r\n\r\nLa recherche est très lente.\r\n"
                 ).encode("latin-1")
    body = multipart({"to": "feedback@inbound.moulin.example", "email": eight_bit,
                      "charsets": '{"to":"UTF-8"}'})
    response = deliver(inbox, body, content_type=MULTIPART_CONTENT)

    assert response.status_code == 200
    feedback = Feedback.objects.get()
    assert feedback.text == "La recherche est très lente."
    assert feedback.contact.name == "Zoé Martin"
    # Stored byte for byte, so it can be processed again after a fix.
    assert last_delivery(inbox).headers["x-moulin-body-encoding"] == "base64"


def test_mailgun_posts_body_mime_to_the_mime_url_signed_with_its_key(make_integration,
                                                                      deliver):
    mailgun = make_integration("email", secret="mailgun-signing-key")
    body = encode_multipart(BOUNDARY, {"body-mime": PLAIN.decode(), "recipient": "feedback@x",
                                       **mailgun_fields("mailgun-signing-key")})
    response = deliver(mailgun, body, content_type=MULTIPART_CONTENT, mime=True)

    assert response.status_code == 200
    assert Feedback.objects.get().external_id == "CAF7a1b2c3d4e5f6@mail.initech.example"

    forged = encode_multipart(BOUNDARY, {"body-mime": PLAIN.decode(),
                                         **mailgun_fields("a-guess")})
    response = deliver(mailgun, forged, content_type=MULTIPART_CONTENT, mime=True)
    assert response.status_code == 401
    assert "Mailgun" in response.json()["message"]


def test_with_a_shared_secret_a_request_must_carry_it(make_integration, deliver):
    guarded = make_integration("email", secret="s3cret-inbox")

    assert deliver(guarded, PLAIN, content_type=RFC822).status_code == 401
    assert deliver(guarded, PLAIN, content_type=RFC822,
                   headers={"X-Moulin-Secret": "wrong"}).status_code == 401
    assert Feedback.objects.count() == 0
    basic = base64.b64encode(b"moulin:s3cret-inbox").decode()
    response = deliver(guarded, PLAIN, content_type=RFC822,
                       headers={"Authorization": f"Basic {basic}"})
    assert response.status_code == 200
    assert Feedback.objects.count() == 1
    # The secret is never stored with the delivery.
    assert "authorization" not in last_delivery(guarded).headers


def test_the_same_email_posted_twice_is_one_feedback(inbox, deliver):
    deliver(inbox, PLAIN, content_type=RFC822)
    again = deliver(inbox, PLAIN, content_type=RFC822)

    assert again.json()["status"] == "duplicate"
    assert Feedback.objects.count() == 1


def test_an_email_over_10_mb_is_refused_with_413(inbox, client):
    from tests.integrations.conftest import hook_url

    huge = PLAIN + b"x" * (10 * 1024 * 1024)
    response = client.generic("POST", hook_url(inbox), data=huge, content_type=RFC822)

    assert response.status_code == 413
    assert WebhookDelivery.objects.count() == 0


def test_a_body_that_is_not_an_email_fails_with_a_message(inbox, deliver):
    deliver(inbox, b"just some words", content_type="text/plain")

    delivery = last_delivery(inbox)
    assert delivery.status == DeliveryStatus.FAILED
    assert "not an email" in delivery.error


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=300), content_type=st.sampled_from([
    MULTIPART_CONTENT, "multipart/form-data; boundary=zz", "multipart/form-data",
    "application/x-www-form-urlencoded", RFC822]))
def test_unproven_bytes_posted_to_a_guarded_inbox_are_refused_never_a_500(
        make_integration, deliver, body, content_type):
    guarded = Integration.objects.filter(vendor="email").first() or make_integration(
        "email", secret="s3cret-inbox")
    response = deliver(guarded, body, content_type=content_type)

    assert response.status_code == 401
    assert Feedback.objects.count() == 0


HEADERS = st.sampled_from(["From", "Subject", "Message-ID", "Date", "Content-Type",
                           "Content-Transfer-Encoding", "MIME-Version"])


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(
    st.binary(min_size=1, max_size=400),
    st.tuples(st.lists(st.tuples(HEADERS, st.text(max_size=60)), max_size=6),
              st.binary(max_size=200)).map(
        lambda parts: b"".join(f"{name}: {value}\r\n".encode("utf-8", "surrogatepass")
                               for name, value in parts[0]) + b"\r\n" + parts[1])))
def test_any_posted_bytes_end_processed_ignored_or_failed_with_a_message_never_a_500(
        inbox, deliver, body):
    response = deliver(inbox, body, content_type=RFC822)

    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get(pk=response.json()["delivery"])
    assert delivery.status in {DeliveryStatus.PROCESSED, DeliveryStatus.IGNORED,
                               DeliveryStatus.FAILED}
    if delivery.status != DeliveryStatus.PROCESSED:
        assert delivery.error
        assert "Unexpected error" not in delivery.error
