"""The integration settings pages: connecting a tool, its URL and secret, enabling, rotating,
and the last deliveries with retry — for administrators only."""

from __future__ import annotations

import pytest
from django.urls import reverse

from moulin.accounts.models import AuditEntry
from moulin.feedback.models import Feedback
from moulin.integrations.models import DeliveryStatus, Integration, WebhookDelivery
from tests.integrations.conftest import SECRET, hook_url, payload
from tests.integrations.signing import intercom_headers

pytestmark = pytest.mark.django_db

BODY = payload("intercom_conversation_user_created.json")


@pytest.fixture
def intercom(make_integration):
    return make_integration("intercom", name="Support Intercom")


def detail_url(integration: Integration) -> str:
    return reverse("integrations:integration_detail", args=[integration.pk])


@pytest.mark.parametrize("vendor", ["intercom", "zendesk", "hubspot", "slack", "email"])
def test_an_admin_connects_a_tool_and_gets_the_absolute_url_to_paste(admin, client_for, vendor):
    client = client_for(admin)
    response = client.post(reverse("integrations:integration_new"), {
        "vendor": vendor, "name": f"Our {vendor}", "signing_secret": "from-the-vendor"})

    integration = Integration.objects.get(vendor=vendor)
    assert response.status_code == 302
    assert response.url == detail_url(integration)
    page = client.get(detail_url(integration)).content.decode()
    assert f"http://testserver/integrations/hooks/{integration.url_key}/" in page
    assert "from-the-vendor" not in page  # the secret is never shown back
    entry = AuditEntry.objects.get(action="integration.created")
    assert (entry.target_label, entry.changes) == (str(integration), {"vendor": vendor})


def test_a_tool_that_signs_its_requests_needs_its_secret(admin, client_for):
    response = client_for(admin).post(reverse("integrations:integration_new"), {
        "vendor": "slack", "name": "Sales Slack", "signing_secret": ""})

    assert response.status_code == 422
    assert "signing secret" in response.content.decode()
    assert Integration.objects.count() == 0


def test_an_inbound_email_address_works_without_a_secret_and_shows_the_mailgun_url(
        admin, client_for):
    client = client_for(admin)
    client.post(reverse("integrations:integration_new"), {"vendor": "email",
                                                          "name": "feedback@"})
    integration = Integration.objects.get()
    page = client.get(detail_url(integration)).content.decode()

    assert f"/integrations/hooks/{integration.url_key}/mime" in page


def test_the_list_shows_each_integration_with_last_weeks_failures(intercom, admin, client_for,
                                                                   client):
    client.post(hook_url(intercom), BODY, content_type="application/json",
                headers={"X-Hub-Signature": "sha1=forged"})
    page = client_for(admin).get(reverse("integrations:integration_list")).content.decode()

    assert "Support Intercom" in page
    assert "1 failed" in page


def test_the_detail_page_lists_deliveries_with_status_excerpt_and_feedback_link(
        intercom, admin, client_for, client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(hook_url(intercom), BODY, content_type="application/json",
                    headers=intercom_headers(SECRET, BODY))
    client.post(hook_url(intercom), BODY, content_type="application/json",
                headers={"X-Hub-Signature": "sha1=forged"})
    failed = WebhookDelivery.objects.create(integration=intercom, status=DeliveryStatus.FAILED,
                                            body='{"oops": true}', event_id="notif_failed",
                                            error="No customer has the external id “crm-9”.")
    feedback = Feedback.objects.get()

    page = client_for(admin).get(detail_url(intercom)).content.decode()

    assert f'href="/feedback/{feedback.pk}/"' in page
    assert "notif_0c9b9b4e" in page
    assert "notification_event" in page  # the payload excerpt
    assert "X-Hub-Signature does not match" in page
    assert "No customer has the external id" in page
    assert page.count(">Retry</button>") == 1
    assert reverse("integrations:delivery_retry", args=[failed.pk]) in page


def test_the_deliveries_refresh_alone_with_htmx(intercom, admin, client_for):
    response = client_for(admin).get(detail_url(intercom), headers={
        "HX-Request": "true", "HX-Target": "delivery-rows"})

    assert response.status_code == 200
    assert response.content.decode().lstrip().startswith('<tbody id="delivery-rows">')


def test_the_page_shows_only_the_last_50_deliveries_in_a_fixed_number_of_queries(
        intercom, admin, client_for, django_assert_max_num_queries):
    WebhookDelivery.objects.bulk_create([
        WebhookDelivery(integration=intercom, event_id=f"e{n}", body="{}",
                        status=DeliveryStatus.PROCESSED, feedback_id=n) for n in range(60)])
    client = client_for(admin)
    with django_assert_max_num_queries(15):
        page = client.get(detail_url(intercom)).content.decode()

    assert page.count(">Feedback #") == 50


def test_disabling_makes_the_url_answer_410_until_enabled_again(intercom, admin, client_for,
                                                               client):
    admin_client = client_for(admin)
    admin_client.post(reverse("integrations:integration_set_enabled", args=[intercom.pk]),
                      {"enabled": "0"})
    assert client.post(hook_url(intercom), BODY, content_type="application/json",
                       headers=intercom_headers(SECRET, BODY)).status_code == 410

    admin_client.post(reverse("integrations:integration_set_enabled", args=[intercom.pk]),
                      {"enabled": "1"})
    assert client.post(hook_url(intercom), BODY, content_type="application/json",
                       headers=intercom_headers(SECRET, BODY)).status_code == 200
    changes = list(AuditEntry.objects.filter(action="integration.updated")
                   .order_by("pk").values_list("changes", flat=True))
    assert changes == [{"enabled": [True, False]}, {"enabled": [False, True]}]


def test_rotating_the_url_retires_the_old_one(intercom, admin, client_for, client):
    old_url = hook_url(intercom)
    client_for(admin).post(reverse("integrations:integration_rotate_url_key",
                                   args=[intercom.pk]))
    intercom.refresh_from_db()

    assert client.post(old_url, BODY, content_type="application/json",
                       headers=intercom_headers(SECRET, BODY)).status_code == 404
    assert client.post(hook_url(intercom), BODY, content_type="application/json",
                       headers=intercom_headers(SECRET, BODY)).status_code == 200
    assert AuditEntry.objects.get(action="integration.updated").changes == {
        "url_key": "rotated"}


def test_saving_without_a_new_secret_keeps_the_current_one_and_logs_no_secret(
        intercom, admin, client_for):
    client = client_for(admin)
    client.post(detail_url(intercom), {"name": "Intercom (EU)", "signing_secret": ""})
    intercom.refresh_from_db()
    assert (intercom.name, intercom.signing_secret) == ("Intercom (EU)", SECRET)

    client.post(detail_url(intercom), {"name": "Intercom (EU)", "signing_secret": "new-one"})
    intercom.refresh_from_db()
    assert intercom.signing_secret == "new-one"
    logged = [entry.changes for entry in AuditEntry.objects.filter(action="integration.updated")
              .order_by("pk")]
    assert logged == [{"name": ["Support Intercom", "Intercom (EU)"]},
                      {"signing_secret": "replaced"}]


def test_only_a_failed_delivery_can_be_retried(intercom, admin, client_for):
    processed = WebhookDelivery.objects.create(integration=intercom, body="{}",
                                               status=DeliveryStatus.PROCESSED)
    response = client_for(admin).post(reverse("integrations:delivery_retry",
                                              args=[processed.pk]), follow=True)

    assert "Only a failed delivery can be retried" in response.content.decode()
    processed.refresh_from_db()
    assert processed.status == DeliveryStatus.PROCESSED


@pytest.mark.parametrize("persona", ["product_ops", "pm", "cs_contributor", "sales_viewer"])
def test_members_who_do_not_manage_the_organisation_get_403(persona, intercom, request,
                                                            client_for):
    client = client_for(request.getfixturevalue(persona))

    assert client.get(reverse("integrations:integration_list")).status_code == 403
    assert client.get(reverse("integrations:integration_new")).status_code == 403
    assert client.get(detail_url(intercom)).status_code == 403
    assert client.post(reverse("integrations:integration_rotate_url_key",
                               args=[intercom.pk])).status_code == 403


def test_another_organisations_admin_gets_404_on_our_integrations(intercom, outsider,
                                                                  client_for):
    client = client_for(outsider)
    failed = WebhookDelivery.objects.create(integration=intercom, body="{}",
                                            status=DeliveryStatus.FAILED)

    assert client.get(detail_url(intercom)).status_code == 404
    assert client.post(reverse("integrations:integration_set_enabled",
                               args=[intercom.pk]), {"enabled": "0"}).status_code == 404
    assert client.post(reverse("integrations:delivery_retry",
                               args=[failed.pk])).status_code == 404
    page = client.get(reverse("integrations:integration_list")).content.decode()
    assert "Support Intercom" not in page
    intercom.refresh_from_db()
    assert intercom.enabled


def test_the_menu_offers_integrations_to_admins_only(intercom, admin, product_ops, client_for,
                                                     client):
    url = reverse("integrations:integration_list")
    assert f'href="{url}"' in client_for(admin).get(reverse("accounts:home")).content.decode()
    client.logout()
    assert f'href="{url}"' not in client_for(product_ops).get(
        reverse("accounts:home")).content.decode()
