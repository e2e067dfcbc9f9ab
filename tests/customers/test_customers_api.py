"""The customers API as a CRM sync uses it: upsert by external id, one or 1,000 at a time."""

import json
from decimal import Decimal

import pytest

from moulin.customers.models import Customer, CustomerDomain

URL = "/api/v1/customers"
BULK = "/api/v1/customers/bulk"


def test_upsert_creates_then_updates_only_the_fields_sent(crm):
    created = crm.put({"external_id": "SF-1001", "name": "Acme Logistics", "plan": "Scale",
                       "segment": "Mid-market", "arr": "48000", "country": "FR",
                       "domains": ["acme-logistics.fr"], "custom_fields": {"ERP": "SAP"}})
    assert created.status_code == 201
    assert created.json()["segment"] == "Mid-market"

    updated = crm.put({"external_id": "SF-1001", "arr": 52000, "custom_fields": {"seats": 40}})

    assert updated.status_code == 200
    body = updated.json()
    assert body["id"] == created.json()["id"]
    assert Decimal(body["arr"]) == Decimal("52000")
    # Everything not sent is kept as it was; custom fields are merged.
    assert (body["name"], body["plan"], body["segment"], body["country"], body["domains"]) == (
        "Acme Logistics", "Scale", "Mid-market", "FR", ["acme-logistics.fr"])
    assert body["custom_fields"] == {"ERP": "SAP", "seats": 40}
    assert Customer.objects.count() == 1


def test_french_amounts_are_understood(crm):
    response = crm.put({"external_id": "SF-1", "name": "Boulangerie Dupont",
                        "arr": "12 500,50", "renewal_date": "31/03/2027"})
    assert response.status_code == 201
    assert Decimal(response.json()["arr"]) == Decimal("12500.50")
    assert response.json()["renewal_date"] == "2027-03-31"


@pytest.mark.parametrize(("body", "field"), [
    ({"external_id": "SF-1", "name": "Acme", "country": "France"}, "country"),
    ({"external_id": "SF-1", "name": "Acme", "arr": "beaucoup"}, "arr"),
    ({"external_id": "SF-1", "name": "Acme", "arr": "-5"}, "arr"),
    ({"external_id": "SF-1", "name": "Acme", "lifecycle": "zombie"}, "lifecycle"),
    ({"external_id": "SF-1", "name": "Acme", "domains": ["not a domain"]}, "domains"),
    ({"external_id": "SF-1", "name": "Acme", "owner_email": "ghost@acme.test"}, "owner_email"),
    ({"external_id": "SF-404"}, "name"),  # unknown external id and no name to create it
])
def test_invalid_values_answer_422_naming_the_field(crm, body, field):
    response = crm.put(body)

    assert response.status_code == 422
    payload = response.json()
    assert payload["code"] in {"invalid_request", "validation_error"}
    assert [e["field"] for e in payload["errors"]] == [field]
    assert not Customer.objects.exists()


def test_a_domain_of_another_customer_is_refused(crm):
    crm.put({"external_id": "SF-1", "name": "Acme", "domains": ["acme.fr"]})
    response = crm.put({"external_id": "SF-2", "name": "Copycat", "domains": ["acme.fr"]})

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "domains"
    assert not Customer.objects.filter(external_id="SF-2").exists()
    assert CustomerDomain.objects.get(domain="acme.fr").customer.external_id == "SF-1"


def test_bulk_upserts_a_thousand_with_a_result_per_row(crm):
    crm.put({"external_id": "C-0", "name": "Already there", "plan": "Old"})
    items = [{"external_id": f"C-{n}", "name": f"Customer {n}", "arr": f"{n} 000,00",
              "domains": [f"customer{n}.fr"]} for n in range(1000)]
    items[10]["country"] = "Nowhere"  # an invalid row
    items[20]["domains"] = ["customer21.fr"]  # the domain row 21 claims too…
    items[999]["external_id"] = "C-5"  # the same external id twice in one batch

    response = crm.bulk(items)

    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["updated"], body["errors"]) == (996, 1, 3)
    results = body["items"]
    assert len(results) == 1000
    assert results[0]["status"] == "updated"
    assert results[1]["status"] == "created"
    assert (results[10]["status"], results[10]["field"]) == ("error", "country")
    assert (results[21]["status"], results[21]["field"]) == ("error", "domains")
    assert (results[999]["status"], results[999]["field"]) == ("error", "external_id")
    assert "item 5" in results[999]["message"]
    # Rows are independent: the bad ones are not half-written, the good ones are all there.
    assert Customer.objects.count() == 997
    assert Customer.objects.get(external_id="C-0").plan == "Old"
    assert Customer.objects.get(external_id="C-20").domain_rows.get().domain == "customer21.fr"
    assert not Customer.objects.filter(external_id__in=["C-10", "C-21"]).exists()
    assert Customer.objects.get(external_id="C-7").arr == Decimal("7000")


def test_a_retried_batch_creates_no_duplicates(crm):
    items = [{"external_id": f"C-{n}", "name": f"Customer {n}"} for n in range(5)]
    crm.bulk(items)
    again = crm.bulk(items).json()
    assert (again["created"], again["updated"]) == (0, 5)
    assert Customer.objects.count() == 5


def test_more_than_a_thousand_items_is_refused_whole(crm):
    response = crm.bulk([{"external_id": f"C-{n}", "name": "x"} for n in range(1001)])
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "items"
    assert not Customer.objects.exists()


def test_list_filters_and_pages_with_a_cursor(crm):
    crm.bulk([{"external_id": f"C-{n}", "name": f"Customer {n}",
               "lifecycle": "trial" if n % 2 else "customer"} for n in range(7)])

    first = crm.get(lifecycle="trial", limit=2).json()
    second = crm.get(lifecycle="trial", limit=2, cursor=first["next_cursor"]).json()

    seen = [c["external_id"] for c in first["items"] + second["items"]]
    assert seen == ["C-1", "C-3", "C-5"]
    assert second["next_cursor"] is None


def test_read_only_members_and_tokens_cannot_write(client, api_client, sales_viewer, admin):
    viewer = api_client(sales_viewer)
    response = client.put(URL, json.dumps({"external_id": "X", "name": "X"}),
                          content_type="application/json", headers=viewer.headers)
    assert response.status_code == 403
    read_only = api_client(admin, scope="read")
    assert read_only.post(BULK, {"items": [{"external_id": "X", "name": "X"}]}
                          ).status_code == 403
    assert viewer.get(URL).status_code == 200
    assert not Customer.objects.exists()


def test_another_organisation_gets_404_on_our_customers(crm, api_client, outsider):
    ours = crm.put({"external_id": "SF-1", "name": "Acme"}).json()["id"]
    theirs = api_client(outsider)

    assert theirs.get(f"{URL}/{ours}").status_code == 404
    assert theirs.get(URL).json()["items"] == []
    # The same external id in their organisation is their own customer, not ours.
    assert theirs.post(BULK, {"items": [{"external_id": "SF-1", "name": "Globex copy"}]}
                       ).json()["created"] == 1
    assert Customer.objects.get(pk=ours).name == "Acme"
