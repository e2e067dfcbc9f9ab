"""A CRM sync may add customers with the right to create them; changing an existing customer
(ARR, owner, lifecycle) needs the right to change customers, as on the customer's page."""

import json
from decimal import Decimal

import pytest

from moulin.core import policy
from moulin.core.policy import Action, Role
from moulin.customers.models import Customer
from moulin.customers.services import CustomerWriter, customer_input
from tests.builders import make_member

pytestmark = pytest.mark.django_db

URL = "/api/v1/customers"
BULK = "/api/v1/customers/bulk"


@pytest.fixture
def sales_ops(organisation):
    """Product Ops working in Sales: may add customers, may not change them."""
    member = make_member(organisation, role=Role.PRODUCT_OPS, department_key="sales",
                         email="sales-ops@acme.test")
    assert policy.can(member, "customers", Action.CREATE)
    assert not policy.can(member, "customers", Action.CHANGE)
    return member


@pytest.fixture
def acme(organisation, admin):
    writer = CustomerWriter(organisation)
    customer, _created = writer.upsert(customer_input({
        "external_id": "SF-1001", "name": "Acme Logistics", "arr": "48000",
        "lifecycle": "customer", "owner_email": "admin@acme.test"}))
    return customer


def put(client, api, body):
    return client.put(URL, json.dumps(body), content_type="application/json",
                      headers=api.headers)


def test_a_member_who_may_only_create_cannot_change_a_customer_through_the_api(
        client, api_client, sales_ops, acme):
    api = api_client(sales_ops)

    response = put(client, api, {"external_id": "SF-1001", "arr": 1, "lifecycle": "churned",
                                 "owner_email": "sales-ops@acme.test"})

    assert response.status_code == 403
    assert response.json()["errors"][0]["field"] == "external_id"
    acme.refresh_from_db()
    assert (acme.arr, acme.lifecycle, acme.owner.user.email) == (
        Decimal("48000"), "customer", "admin@acme.test")


def test_a_member_who_may_only_create_still_creates_and_may_send_a_create_again(
        client, api_client, sales_ops):
    api = api_client(sales_ops)
    body = {"external_id": "SF-2002", "name": "Initech", "arr": "12000", "plan": "Scale",
            "domains": ["initech.example"]}

    assert put(client, api, body).status_code == 201
    # A retried create (a timeout on the client's side) changes nothing: it is not refused.
    again = put(client, api, body)
    assert again.status_code == 200
    assert Customer.objects.filter(external_id="SF-2002").count() == 1


def test_a_member_who_may_change_customers_updates_them(client, api_client, product_ops,
                                                         acme):
    response = put(client, api_client(product_ops), {"external_id": "SF-1001", "arr": 52000})

    assert response.status_code == 200
    acme.refresh_from_db()
    assert acme.arr == Decimal("52000")


def test_bulk_changes_are_refused_item_by_item_and_creations_go_through(
        api_client, sales_ops, acme):
    response = api_client(sales_ops).post(BULK, {"items": [
        {"external_id": "SF-1001", "arr": 1},
        {"external_id": "SF-3003", "name": "Hooli", "arr": "9000"},
    ]})

    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["updated"], body["errors"]) == (1, 0, 1)
    refused = body["items"][0]
    assert (refused["status"], refused["field"]) == ("error", "external_id")
    acme.refresh_from_db()
    assert acme.arr == Decimal("48000")


def test_the_writer_refuses_a_change_for_an_actor_without_the_change_right(
        organisation, sales_ops, acme):
    from moulin.customers.services import ChangeNotAllowed

    writer = CustomerWriter(organisation, actor=sales_ops)

    with pytest.raises(ChangeNotAllowed):
        writer.upsert(customer_input({"external_id": "SF-1001", "lifecycle": "churned"}))
