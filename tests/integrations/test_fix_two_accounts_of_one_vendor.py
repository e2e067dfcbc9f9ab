"""Two accounts of the same vendor (Zendesk EU and Zendesk US) number their tickets alike: each
integration keeps its own items, and rows stored before that still match their retries."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from moulin.feedback.models import Feedback
from moulin.integrations import services
from moulin.integrations.models import DeliveryStatus
from tests.integrations.conftest import SECRET, hook_url, last_delivery, payload
from tests.integrations.signing import hubspot_headers, intercom_headers, zendesk_headers

pytestmark = pytest.mark.django_db

TICKET = payload("zendesk_ticket_trigger.json")
REPLIED = payload("intercom_conversation_user_replied.json")
WORKFLOW = payload("hubspot_workflow_ticket.json")


def now_iso() -> str:
    """Zendesk's signature timestamp: ISO 8601 in UTC, e.g. 2021-03-25T05:09:27Z."""
    return timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ")


def zendesk_signed(body: bytes, invocation_id: str) -> dict:
    return zendesk_headers(SECRET, body, timestamp=now_iso(), invocation_id=invocation_id)


@pytest.fixture
def zendesk_eu(make_integration):
    return make_integration("zendesk", name="Zendesk EU")


@pytest.fixture
def zendesk_us(make_integration, zendesk_eu):
    return make_integration("zendesk", name="Zendesk US")


def test_the_same_ticket_number_from_two_zendesk_accounts_is_two_feedback_items(
        zendesk_eu, zendesk_us, deliver):
    deliver(zendesk_eu, TICKET, headers=zendesk_signed(TICKET, "eu-1"))
    us_ticket = TICKET.replace(b"Roadmap export to PDF", b"Gantt view for launches")
    deliver(zendesk_us, us_ticket, headers=zendesk_signed(us_ticket, "us-1"))

    assert last_delivery(zendesk_eu).status == DeliveryStatus.PROCESSED
    assert last_delivery(zendesk_us).status == DeliveryStatus.PROCESSED
    titles = sorted(Feedback.objects.values_list("title", flat=True))
    assert titles == ["Gantt view for launches", "Roadmap export to PDF"]
    # The first account keeps the ticket id as it is; the next ones are prefixed with theirs.
    assert Feedback.objects.get(title="Roadmap export to PDF").external_id == "35436"
    assert Feedback.objects.get(title="Gantt view for launches").external_id == \
        f"{zendesk_us.pk}:35436"


def test_each_account_still_updates_its_own_ticket_when_its_trigger_fires_again(
        zendesk_eu, zendesk_us, deliver):
    deliver(zendesk_eu, TICKET, headers=zendesk_signed(TICKET, "eu-1"))
    deliver(zendesk_us, TICKET, headers=zendesk_signed(TICKET, "us-1"))
    data = json.loads(TICKET)
    data["ticket"]["subject"] = "Roadmap export to PNG"
    again = json.dumps(data).encode()
    deliver(zendesk_us, again, headers=zendesk_signed(again, "us-2"))

    assert Feedback.objects.count() == 2
    assert Feedback.objects.get(external_id=f"{zendesk_us.pk}:35436").title == \
        "Roadmap export to PNG"
    assert Feedback.objects.get(external_id="35436").title == "Roadmap export to PDF"


def test_two_intercom_workspaces_keep_their_conversations_and_replies_apart(
        make_integration, deliver):
    first = make_integration("intercom", name="Intercom Europe")
    second = make_integration("intercom", name="Intercom Americas")
    deliver(first, REPLIED, headers=intercom_headers(SECRET, REPLIED))
    deliver(second, REPLIED, headers=intercom_headers(SECRET, REPLIED))

    ids = set(Feedback.objects.values_list("external_id", flat=True))
    firsts = {i for i in ids if not i.startswith(f"{second.pk}:")}
    assert firsts == {"147/7001"}  # the reply to conversation 147
    assert ids == firsts | {f"{second.pk}:{i}" for i in firsts}


def test_two_hubspot_portals_keep_their_tickets_apart(make_integration, deliver):
    first = make_integration("hubspot", name="HubSpot FR")
    second = make_integration("hubspot", name="HubSpot DE")
    for integration in (first, second):
        url = f"http://testserver{hook_url(integration)}"
        deliver(integration, WORKFLOW, headers=hubspot_headers(SECRET, WORKFLOW, url))

    assert sorted(Feedback.objects.values_list("external_id", flat=True)) == [
        "2037261901", f"{second.pk}:2037261901"]


def test_a_retry_of_an_old_delivery_updates_the_row_stored_before_ids_were_prefixed(
        zendesk_eu, zendesk_us, deliver, admin, django_capture_on_commit_callbacks):
    # Before the fix, Zendesk US stored its ticket under the bare id "35436".
    deliver(zendesk_us, TICKET, headers=zendesk_signed(TICKET, "us-1"))
    delivery = last_delivery(zendesk_us)
    legacy = Feedback.objects.get()
    Feedback.objects.filter(pk=legacy.pk).update(external_id="35436", title="Old title")
    delivery.status = DeliveryStatus.FAILED
    delivery.save(update_fields=["status"])

    with django_capture_on_commit_callbacks(execute=True):
        services.delivery_retry(actor=admin, delivery=delivery)

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PROCESSED
    assert Feedback.objects.count() == 1
    legacy.refresh_from_db()
    assert (legacy.external_id, legacy.title) == ("35436", "Roadmap export to PDF")
    assert delivery.feedback_id == legacy.pk

    # Zendesk EU's own ticket #35436 does not take over Zendesk US's old row.
    deliver(zendesk_eu, TICKET, headers=zendesk_signed(TICKET, "eu-1"))
    assert Feedback.objects.count() == 2
    assert Feedback.objects.filter(external_id=f"{zendesk_eu.pk}:35436").exists()


def test_an_imported_row_with_the_vendor_source_still_matches_the_first_account(
        organisation, zendesk_eu, deliver):
    imported = Feedback.objects.create(organisation=organisation, source="zendesk",
                                           external_id="35436", text="Imported from a CSV",
                                           received_at=timezone.now())
    deliver(zendesk_eu, TICKET, headers=zendesk_signed(TICKET, "eu-1"))

    assert Feedback.objects.count() == 1
    imported.refresh_from_db()
    assert imported.title == "Roadmap export to PDF"


# --- Zendesk signature timestamps (replays) -----------------------------------------------------

@pytest.fixture
def zendesk(make_integration):
    return make_integration("zendesk")


def test_a_zendesk_request_signed_an_hour_ago_is_refused_as_a_replay(zendesk, deliver):
    old = (timezone.now() - timezone.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    response = deliver(zendesk, TICKET, headers=zendesk_headers(SECRET, TICKET, timestamp=old,
                                                                invocation_id="9001"))

    assert response.status_code == 401
    assert "too old" in response.json()["message"]
    assert not Feedback.objects.exists()
    assert last_delivery(zendesk).status == DeliveryStatus.REJECTED


def test_a_zendesk_request_signed_a_minute_ago_is_accepted(zendesk, deliver):
    recent = (timezone.now() - timezone.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    response = deliver(zendesk, TICKET, headers=zendesk_headers(
        SECRET, TICKET, timestamp=recent, invocation_id="9002"))

    assert response.status_code == 200
    assert Feedback.objects.count() == 1


@pytest.mark.parametrize("timestamp", ["yesterday", "2026-13-45T99:00:00Z", "nan"])
def test_an_unreadable_zendesk_timestamp_is_refused_with_a_message(zendesk, deliver,
                                                                    timestamp):
    response = deliver(zendesk, TICKET, headers=zendesk_headers(
        SECRET, TICKET, timestamp=timestamp, invocation_id="9003"))

    assert response.status_code == 401
    assert "X-Zendesk-Webhook-Signature-Timestamp" in response.json()["message"]

