"""The inbox weighs feedback by the customer's ARR; it must follow every change of that ARR."""

from decimal import Decimal

from django.http import QueryDict

from moulin.customers.services import customer_upsert
from moulin.feedback.models import Feedback
from moulin.feedback.selectors import FeedbackFilters, feedback_list
from moulin.feedback.services import feedback_bulk_upsert


def make_customer(organisation, external_id, arr):
    customer, _created = customer_upsert(organisation=organisation, raw={
        "name": f"Customer {external_id}", "external_id": external_id, "arr": arr})
    return customer


def ingest(organisation, admin, *items):
    results = feedback_bulk_upsert(organisation=organisation, actor=admin,
                                   raw_items=list(items))
    return [Feedback.objects.get(pk=r.id) for r in results]


def test_feedback_carries_its_customers_arr_and_follows_crm_updates(organisation, admin):
    make_customer(organisation, "big", "250 000")
    item, = ingest(organisation, admin, {"text": "Need SSO", "customer_external_id": "big"})
    assert item.customer_arr == Decimal("250000")

    customer_upsert(organisation=organisation, raw={"external_id": "big", "arr": "300000"})
    item.refresh_from_db()
    assert item.customer_arr == Decimal("300000")

    customer_upsert(organisation=organisation, raw={"external_id": "big", "arr": ""})
    item.refresh_from_db()
    assert item.customer_arr == 0


def test_moving_feedback_to_another_customer_takes_that_customers_arr(organisation, admin):
    make_customer(organisation, "small", "5000")
    big = make_customer(organisation, "big", "400000")
    item, = ingest(organisation, admin, {"text": "Export", "customer_external_id": "small"})

    Feedback.objects.filter(pk=item.pk).update(customer=big)
    item.refresh_from_db()
    assert item.customer_arr == Decimal("400000")


def test_inbox_sorted_by_arr_puts_the_biggest_accounts_first(organisation, admin):
    make_customer(organisation, "a", "10000")
    make_customer(organisation, "b", "900000")
    make_customer(organisation, "c", "120000")
    ingest(organisation, admin,
           {"text": "from a", "customer_external_id": "a"},
           {"text": "from b", "customer_external_id": "b"},
           {"text": "no customer"},
           {"text": "from c", "customer_external_id": "c"})

    ranked = feedback_list(member=admin, filters=FeedbackFilters.from_query(
        QueryDict("sort=arr")))
    assert [f.text for f in ranked] == ["from b", "from c", "from a", "no customer"]

    in_range = feedback_list(member=admin, filters=FeedbackFilters.from_query(
        QueryDict("arr_min=50000&arr_max=500000")))
    assert [f.text for f in in_range] == ["from c"]


def test_an_arr_ceiling_never_matches_feedback_without_a_customer(organisation, admin):
    make_customer(organisation, "a", "10000")
    ingest(organisation, admin, {"text": "from a", "customer_external_id": "a"},
           {"text": "no customer"})

    small = feedback_list(member=admin, filters=FeedbackFilters.from_query(
        QueryDict("arr_max=50000")))
    assert [f.text for f in small] == ["from a"]
