"""Domains written several ways are one domain; a failing item of a bulk call is reported on
its own; NUL bytes (which PostgreSQL text and jsonb refuse) never reach the database."""

import pytest

from moulin.customers.models import Customer, CustomerDomain
from moulin.customers.services import customer_upsert

pytestmark = pytest.mark.django_db


@pytest.fixture
def hooli(organisation):
    customer, _created = customer_upsert(organisation=organisation, raw={
        "external_id": "crm-hooli", "name": "Hooli", "domains": ["hooli.example"]})
    return customer


# --- Domains --------------------------------------------------------------------------------------

def test_the_same_domain_written_three_ways_is_kept_once(crm):
    response = crm.put({"external_id": "SF-1", "name": "Initech",
                        "domains": ["initech.example", "INITECH.example",
                                    "www.initech.example", "https://initech.example/about"]})

    assert response.status_code == 201
    assert response.json()["domains"] == ["initech.example"]
    assert list(CustomerDomain.objects.values_list("domain", flat=True)) == ["initech.example"]


def test_bulk_items_with_repeated_domains_are_saved(crm):
    response = crm.bulk([{"external_id": "SF-1", "name": "Initech",
                          "domains": ["initech.example", "Initech.example"]},
                         {"external_id": "SF-2", "name": "Umbrella",
                          "domains": ["www.umbrella.example", "umbrella.example"]}])

    assert response.status_code == 200
    assert response.json()["created"] == 2
    assert CustomerDomain.objects.count() == 2


def test_a_domain_of_another_customer_is_a_clear_error(crm, hooli):
    response = crm.put({"external_id": "SF-1", "name": "Initech",
                        "domains": ["initech.example", "hooli.example"]})

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "domains"
    assert "hooli.example" in response.json()["message"]
    assert not Customer.objects.filter(external_id="SF-1").exists()


def test_a_failing_bulk_item_that_created_a_segment_does_not_break_the_next_items(crm, hooli):
    # The first item creates the segment "Enterprise", then fails on a taken domain: its
    # savepoint takes the segment back, and the next items must not use a segment that is gone.
    response = crm.bulk([
        {"external_id": "SF-1", "name": "Initech", "segment": "Enterprise",
         "domains": ["hooli.example"]},
        {"external_id": "SF-2", "name": "Umbrella", "segment": "Enterprise"},
    ])

    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["errors"]) == (1, 1)
    assert body["items"][0]["field"] == "domains"
    assert Customer.objects.get(external_id="SF-2").segment.name == "Enterprise"


# --- NUL bytes ------------------------------------------------------------------------------------

def test_custom_fields_lose_their_nul_bytes_in_keys_and_values(crm):
    response = crm.put({"external_id": "SF-1", "name": "Initech", "custom_fields": {
        "k": "v\u0000", "sea\u0000ts": 40, "erp": {"name": "S\u0000AP", "modules": ["F\u0000I"]}}})

    assert response.status_code == 201
    stored = Customer.objects.get(external_id="SF-1").custom_fields
    assert stored == {"k": "v", "seats": 40, "erp": {"name": "SAP", "modules": ["FI"]}}


def test_a_nul_byte_in_the_list_filters_of_the_api_is_ignored(crm, hooli):
    for params in ({"q": "Hoo\x00li"}, {"plan": "Sc\x00ale"}, {"lifecycle": "cust\x00omer"}):
        assert crm.get(**params).status_code == 200
    assert crm.get(q="Hoo\x00li").json()["items"][0]["name"] == "Hooli"


def test_a_nul_byte_in_the_intake_forms_customer_search_is_ignored(client_for, cs_contributor,
                                                                   hooli):
    response = client_for(cs_contributor).get("/feedback/new/customers/", {"q": "Hoo\x00"})

    assert response.status_code == 200
    assert "Hooli" in response.content.decode()
