"""Bulk triage: a product area that is not one of ours is a clear error, never a server error;
the rows sent back after a bulk action or an undo cost the same queries for 2 or 12 items."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from moulin.feedback.models import FeedbackEvent, ProductArea
from tests.feedback.inbox_data import make_feedback

BULK = "/feedback/triage/"
UNDO = "/feedback/triage/undo/"
HTMX = {"HX-Request": "true"}


@pytest.mark.parametrize("value", ["abc", "-3", "1.5", "99999999", "²"])
def test_a_bulk_area_that_is_not_an_area_of_ours_is_refused(client_for, product_ops,
                                                            organisation, value):
    item = make_feedback(organisation, "Sync fails", product_area="Sync")

    response = client_for(product_ops).post(BULK, {"ids": str(item.pk), "action": "area",
                                                   "value": value}, headers=HTMX)

    assert response.status_code == 422
    assert "product area" in response.content.decode()
    item.refresh_from_db()
    assert item.product_area.name == "Sync"
    assert not FeedbackEvent.objects.exists()


def test_an_area_of_another_organisation_is_refused(client_for, product_ops, organisation,
                                                    outsider):
    theirs = ProductArea.objects.create(organisation=outsider.organisation, name="Theirs")
    item = make_feedback(organisation, "Sync fails", product_area="Sync")

    response = client_for(product_ops).post(BULK, {"ids": str(item.pk), "action": "area",
                                                   "value": str(theirs.pk)}, headers=HTMX)

    assert response.status_code == 422
    item.refresh_from_db()
    assert item.product_area.name == "Sync"


def _triage_queries(captured) -> int:
    return sum(1 for q in captured if "triage_" in q["sql"] and
               q["sql"].lstrip().upper().startswith("SELECT"))


def _bulk_then_undo(client, items):
    ids = ",".join(str(i.pk) for i in items)
    with CaptureQueriesContext(connection) as bulk:
        response = client.post(BULK, {"ids": ids, "action": "archive"}, headers=HTMX)
    assert response.status_code == 200
    events = ",".join(str(pk) for pk in FeedbackEvent.objects.filter(
        feedback__in=items, kind="updated").values_list("pk", flat=True))
    with CaptureQueriesContext(connection) as undo:
        assert client.post(UNDO, {"events": events}, headers=HTMX).status_code == 200
    return _triage_queries(bulk.captured_queries), _triage_queries(undo.captured_queries)


def test_rows_after_bulk_and_undo_load_their_themes_in_fixed_queries(client_for, product_ops,
                                                                     organisation):
    client = client_for(product_ops)
    few = [make_feedback(organisation, f"Few {n}") for n in range(2)]
    many = [make_feedback(organisation, f"Many {n}") for n in range(12)]

    assert _bulk_then_undo(client, few) == _bulk_then_undo(client, many)
