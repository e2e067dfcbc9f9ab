"""Undoing merges made in a chain (A into B, then B into C: A moves to C): the duplicate comes
back with the status it had before it was merged, and the API's answer to an undo gives the
demand of the item it was merged into."""

from __future__ import annotations

from decimal import Decimal

import pytest

from moulin.feedback.models import Feedback, FeedbackEvent, Status
from moulin.triage.services import duplicates
from tests.triage.discovery_data import (
    EXPORT_TIMEOUT,
    EXPORT_TIMEOUT_PARAPHRASE,
    EXPORT_TIMEOUT_SHOUTED,
    make_customer,
    make_feedback,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def chain(organisation, cs_contributor):
    """Three wordings of one request from three customers, each item with its own status."""
    initech = make_customer(organisation, "Initech", arr="120000")
    globex = make_customer(organisation, "Globex", arr="30000")
    hooli = make_customer(organisation, "Hooli", arr="50000")
    a = make_feedback(organisation, cs_contributor, EXPORT_TIMEOUT_SHOUTED, customer=hooli)
    b = make_feedback(organisation, cs_contributor, EXPORT_TIMEOUT_PARAPHRASE, customer=globex)
    c = make_feedback(organisation, cs_contributor, EXPORT_TIMEOUT, customer=initech)
    set_status(a, Status.LINKED)
    set_status(b, Status.TRIAGED)
    return a, b, c


def set_status(item: Feedback, status: str) -> None:
    Feedback.objects.filter(pk=item.pk).update(status=status)
    item.refresh_from_db()


def reload(*items: Feedback) -> None:
    for item in items:
        item.refresh_from_db()


def test_undo_of_a_simple_merge_restores_the_former_status(product_ops, chain):
    a, b, _c = chain
    duplicates.feedback_merge(actor=product_ops, duplicate=a, kept=b)
    duplicates.feedback_unmerge(actor=product_ops, duplicate=a)
    reload(a)
    assert (a.status, a.merged_into_id) == (Status.LINKED, None)


def test_undo_of_a_moved_duplicate_restores_the_former_status(product_ops, chain):
    a, b, c = chain
    duplicates.feedback_merge(actor=product_ops, duplicate=a, kept=b)
    duplicates.feedback_merge(actor=product_ops, duplicate=b, kept=c)
    reload(a)
    assert a.merged_into_id == c.pk

    duplicates.feedback_unmerge(actor=product_ops, duplicate=a)
    reload(a, b)
    assert (a.status, a.merged_into_id) == (Status.LINKED, None)
    assert (b.status, b.merged_into_id) == (Status.MERGED, c.pk)
    unmerged = FeedbackEvent.objects.get(feedback=a, kind="unmerged")
    assert unmerged.changes == {"merged_into": [c.pk, None],
                                "status": [Status.MERGED, Status.LINKED]}
    demand = duplicates.feedback_demand(feedback=c)
    assert (demand.items, demand.customers, demand.arr) == (2, 2, Decimal("150000"))

    duplicates.feedback_unmerge(actor=product_ops, duplicate=b)
    reload(b)
    assert (b.status, b.merged_into_id) == (Status.TRIAGED, None)


def test_undo_in_either_order_restores_both_statuses(product_ops, chain):
    a, b, c = chain
    duplicates.feedback_merge(actor=product_ops, duplicate=a, kept=b)
    duplicates.feedback_merge(actor=product_ops, duplicate=b, kept=c)
    duplicates.feedback_unmerge(actor=product_ops, duplicate=b)
    reload(a, b)
    assert (b.status, b.merged_into_id) == (Status.TRIAGED, None)
    assert (a.status, a.merged_into_id) == (Status.MERGED, c.pk)  # it stays with the kept item

    duplicates.feedback_unmerge(actor=product_ops, duplicate=a)
    reload(a)
    assert (a.status, a.merged_into_id) == (Status.LINKED, None)


def test_undo_uses_the_latest_merge_not_an_older_one(product_ops, organisation,
                                                     cs_contributor, chain):
    a, b, c = chain
    duplicates.feedback_merge(actor=product_ops, duplicate=a, kept=b)
    duplicates.feedback_unmerge(actor=product_ops, duplicate=a)
    reload(a)
    set_status(a, Status.CLOSED)
    d = make_feedback(organisation, cs_contributor, "Exports of large workspaces time out.")
    duplicates.feedback_merge(actor=product_ops, duplicate=a, kept=c)
    duplicates.feedback_merge(actor=product_ops, duplicate=c, kept=d)
    duplicates.feedback_unmerge(actor=product_ops, duplicate=a)
    reload(a)
    assert (a.status, a.merged_into_id) == (Status.CLOSED, None)


def test_a_former_kept_item_moved_along_gets_its_status_back(product_ops, organisation,
                                                             cs_contributor, chain):
    a, b, c = chain
    x = make_feedback(organisation, cs_contributor, "PDF exports time out on big workspaces.")
    duplicates.feedback_merge(actor=product_ops, duplicate=x, kept=a)  # a: "merged_from" event
    duplicates.feedback_merge(actor=product_ops, duplicate=a, kept=b)
    duplicates.feedback_merge(actor=product_ops, duplicate=b, kept=c)
    reload(a, x)
    assert a.merged_into_id == x.merged_into_id == c.pk
    duplicates.feedback_unmerge(actor=product_ops, duplicate=a)
    duplicates.feedback_unmerge(actor=product_ops, duplicate=x)
    reload(a, x)
    assert (a.status, x.status) == (Status.LINKED, Status.NEW)


def test_api_undo_answers_with_the_kept_items_demand(api_client, product_ops, chain):
    a, b, c = chain
    manager = api_client(product_ops)
    for duplicate, kept in ((a, c), (b, c)):
        merged = manager.post(f"/api/v1/feedback/{duplicate.pk}/merge", {"into": kept.pk})
        assert merged.status_code == 200, merged.content
    assert (merged.json()["customers"], Decimal(merged.json()["arr"])) == (3, Decimal("200000"))

    undone = manager.post(f"/api/v1/feedback/{b.pk}/unmerge")
    assert undone.status_code == 200, undone.content
    body = undone.json()
    assert (body["id"], body["status"], body["merged_into"]) == (b.pk, Status.TRIAGED, None)
    # c is left with its own customer (Initech) and a's (Hooli), not b's (Globex) alone.
    assert (body["customers"], Decimal(body["arr"])) == (2, Decimal("170000"))


def test_api_undo_of_a_moved_duplicate(api_client, product_ops, chain):
    a, b, c = chain
    manager = api_client(product_ops)
    manager.post(f"/api/v1/feedback/{a.pk}/merge", {"into": b.pk})
    manager.post(f"/api/v1/feedback/{b.pk}/merge", {"into": c.pk})
    undone = manager.post(f"/api/v1/feedback/{a.pk}/unmerge")
    assert undone.status_code == 200, undone.content
    body = undone.json()
    assert (body["status"], body["merged_into"]) == (Status.LINKED, None)
    assert (body["customers"], Decimal(body["arr"])) == (2, Decimal("150000"))
