"""A retried delivery, an API update or an import re-run never undoes what people triaged.

Rule: once a person has triaged an item (its status left "new", or they changed its status,
importance, product area or tags), the source no longer changes its importance nor its area.
Tags a source sends are always added to the item's, never replace them. Every update a source
makes is in the item's history with the values before and after; the same payload twice
changes nothing and writes nothing.
"""

import pytest

from moulin.feedback.models import Feedback, FeedbackEvent, ProductArea, Source
from moulin.feedback.services import feedback_bulk_upsert, feedback_update

URL = "/api/v1/feedback"
PAYLOAD = {"text": "PDF exports are blank.", "external_id": "ticket-7", "importance": "important",
           "tags": ["exports"]}


@pytest.fixture
def api(api_client, admin):
    return api_client(admin)


def names(item: Feedback) -> list[str]:
    return sorted(t.name for t in item.tags.all())


def test_the_same_post_again_keeps_what_a_pm_triaged(api, pm, organisation):
    created = api.post(URL, PAYLOAD)
    assert created.status_code == 201
    item = Feedback.objects.get(pk=created.json()["id"])
    area = ProductArea.objects.create(organisation=organisation, name="Reporting")
    feedback_update(actor=pm, feedback=item, importance="critical", product_area=area,
                    tags=["pdf"])
    events = FeedbackEvent.objects.count()

    again = api.post(URL, PAYLOAD)

    assert again.status_code == 200
    item.refresh_from_db()
    assert (item.importance, item.product_area, item.status) == ("critical", area, "new")
    assert names(item) == ["exports", "pdf"]  # the source's tag back, the PM's tag kept
    again_twice = api.post(URL, PAYLOAD)
    assert again_twice.status_code == 200
    # The second identical call changes nothing at all, and writes no history.
    assert FeedbackEvent.objects.count() == events + 1


def test_an_identical_retry_writes_nothing(api):
    api.post(URL, PAYLOAD)
    before = Feedback.objects.get().updated_at

    assert api.post(URL, PAYLOAD).status_code == 200

    assert not FeedbackEvent.objects.exists()
    assert Feedback.objects.get().updated_at == before


def test_a_source_update_after_triage_changes_the_text_adds_tags_and_records_both(api, pm):
    item = Feedback.objects.get(pk=api.post(URL, PAYLOAD).json()["id"])
    feedback_update(actor=pm, feedback=item, status="triaged", tags=["exports", "pdf"])

    api.post(URL, {**PAYLOAD, "text": "PDF exports are blank since 3.2.",
                   "importance": "nice_to_have", "tags": ["regression"]})

    item.refresh_from_db()
    assert item.text == "PDF exports are blank since 3.2."
    assert item.importance == "important"  # triaged: the source no longer sets it
    assert names(item) == ["exports", "pdf", "regression"]
    event = FeedbackEvent.objects.filter(feedback=item, actor__isnull=False,
                                         changes__has_key="via").get()
    assert event.changes["via"] == "api"
    assert event.changes["text"] == ["PDF exports are blank.", "PDF exports are blank since 3.2."]
    assert event.changes["tags"] == [["exports", "pdf"], ["exports", "pdf", "regression"]]
    assert "importance" not in event.changes


def test_an_untriaged_item_still_follows_its_source(api):
    item = Feedback.objects.get(pk=api.post(URL, PAYLOAD).json()["id"])

    api.post(URL, {**PAYLOAD, "importance": "critical", "product_area": "Exports"})

    item.refresh_from_db()
    assert item.importance == "critical" and item.product_area.name == "Exports"
    event = FeedbackEvent.objects.get(feedback=item)
    assert event.changes["importance"] == ["important", "critical"]
    assert event.changes["product_area_id"] == [None, item.product_area_id]


def test_a_webhook_retry_keeps_an_item_a_pm_set_by_bulk_triage(organisation, pm, client_for):
    raw = {"text": "Sync fails", "external_id": "zd-9", "source": Source.ZENDESK,
           "importance": "nice_to_have", "product_area": "Sync", "tags": ["sync"]}
    [result] = feedback_bulk_upsert(organisation=organisation, actor=None, raw_items=[raw])
    item = Feedback.objects.get(pk=result.id)
    client_for(pm).post("/feedback/triage/", {"ids": str(item.pk), "action": "importance",
                                              "value": "critical"}, headers={"HX-Request": "true"})

    [retry] = feedback_bulk_upsert(organisation=organisation, actor=None,
                                   raw_items=[{**raw, "tags": []}])

    assert retry.status == "updated"
    item.refresh_from_db()
    assert (item.importance, item.product_area.name, names(item)) == ("critical", "Sync",
                                                                     ["sync"])


def test_an_import_re_run_keeps_triage(organisation, product_ops, pm):
    raw = {"text": "Dashboard is blank", "external_id": "T-4", "importance": "low",
           "tags": "ui"}
    [first] = feedback_bulk_upsert(organisation=organisation, actor=product_ops,
                                   raw_items=[raw], default_source=Source.CSV_IMPORT)
    item = Feedback.objects.get(pk=first.id)
    area = ProductArea.objects.create(organisation=organisation, name="Dashboards")
    feedback_update(actor=pm, feedback=item, product_area=area, tags=["ui", "safari"])

    feedback_bulk_upsert(organisation=organisation, actor=product_ops, raw_items=[raw],
                         default_source=Source.CSV_IMPORT)

    item.refresh_from_db()
    assert (item.importance, item.product_area, names(item)) == ("nice_to_have", area,
                                                                 ["safari", "ui"])
    assert FeedbackEvent.objects.filter(feedback=item).count() == 1  # the PM's change only


def test_the_feedback_page_shows_what_the_source_changed(api, client_for, pm):
    item_id = api.post(URL, {**PAYLOAD, "created_at": "2026-03-02T09:30:00Z"}).json()["id"]
    api.post(URL, {**PAYLOAD, "text": "PDF exports are blank since 3.2.",
                   "created_at": "2026-03-03T09:30:00Z", "contact_email": "ana@initech.test",
                   "links": ["https://example.test/t/7"]})

    page = client_for(pm).get(f"/feedback/{item_id}/").content.decode()

    assert "Verbatim: <del>PDF exports are blank.</del> → <ins>PDF exports are blank since " \
           "3.2.</ins>" in page
    assert "Updated through: API" in page
    assert "<ins>ana@initech.test</ins>" in page
    assert "Date: <del>March 2, 2026" in page
