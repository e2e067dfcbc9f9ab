"""Updating existing feedback through an upsert needs the right to change feedback, and the
public API cannot write under an integration's source unless the member manages feedback."""

import pytest

from moulin.feedback.models import Feedback, Source
from moulin.feedback.services import feedback_bulk_upsert

URL = "/api/v1/feedback"
BULK = "/api/v1/feedback/bulk"


@pytest.fixture
def zendesk_ticket(organisation):
    [result] = feedback_bulk_upsert(organisation=organisation, actor=None, raw_items=[{
        "text": "Exports time out.", "external_id": "zd-1", "source": Source.ZENDESK}])
    return Feedback.objects.get(pk=result.id)


@pytest.fixture
def api_item(api_client, product_ops):
    response = api_client(product_ops).post(URL, {"text": "Dark mode", "external_id": "a-1"})
    return Feedback.objects.get(pk=response.json()["id"])


def test_a_contributor_cannot_rewrite_an_item_through_the_api(api_client, cs_contributor,
                                                              api_item):
    response = api_client(cs_contributor).post(URL, {"text": "Rewritten", "external_id": "a-1"})

    assert response.status_code == 403
    assert "change" in response.json()["message"]
    api_item.refresh_from_db()
    assert api_item.text == "Dark mode"


def test_a_contributor_may_retry_the_same_call_and_create_new_items(api_client,
                                                                  cs_contributor, api_item):
    api = api_client(cs_contributor)
    assert api.post(URL, {"text": "Dark mode", "external_id": "a-1"}).status_code == 200
    assert api.post(URL, {"text": "Light mode", "external_id": "a-2"}).status_code == 201


def test_bulk_reports_each_refused_update_and_writes_the_rest(api_client, cs_contributor,
                                                             api_item):
    response = api_client(cs_contributor).post(BULK, {"items": [
        {"text": "Rewritten", "external_id": "a-1"}, {"text": "New one", "external_id": "a-9"}]})

    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["errors"]) == (1, 1)
    assert body["items"][0]["status"] == "error" and "change" in body["items"][0]["message"]
    api_item.refresh_from_db()
    assert api_item.text == "Dark mode"


def test_a_feedback_manager_may_update_through_the_api(api_client, pm, api_item):
    response = api_client(pm).post(URL, {"text": "Dark mode, please", "external_id": "a-1"})

    assert response.status_code == 200
    api_item.refresh_from_db()
    assert api_item.text == "Dark mode, please"


@pytest.mark.parametrize("source", ["zendesk", "intercom", "hubspot", "salesforce", "slack",
                                    "email", "csv_import"])
def test_a_contributor_cannot_write_under_an_integration_source(api_client, cs_contributor,
                                                                zendesk_ticket, source):
    response = api_client(cs_contributor).post(URL, {"text": "Fake", "external_id": "zd-1",
                                                     "source": source})

    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["source"]
    zendesk_ticket.refresh_from_db()
    assert zendesk_ticket.text == "Exports time out."
    assert Feedback.objects.count() == 1


@pytest.mark.parametrize("source", ["api", "web_form", "survey"])
def test_a_contributor_may_send_the_api_and_manual_channels(api_client, cs_contributor, source):
    response = api_client(cs_contributor).post(URL, {"text": "Heard it", "source": source})

    assert response.status_code == 201
    assert response.json()["source"] == source


def test_a_contributor_import_cannot_overwrite_existing_feedback(organisation, cs_contributor,
                                                                 zendesk_ticket):
    [result] = feedback_bulk_upsert(
        organisation=organisation, actor=cs_contributor, default_source=Source.CSV_IMPORT,
        raw_items=[{"text": "Rewritten", "external_id": "zd-1", "source": "zendesk"}])

    assert result.status == "error"
    zendesk_ticket.refresh_from_db()
    assert zendesk_ticket.text == "Exports time out."
