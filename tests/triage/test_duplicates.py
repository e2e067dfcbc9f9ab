"""Duplicates and similar feedback: the panel on a feedback page, merging (and undoing it), the
intake form's warning, the API, and the per-organisation index kept in memory."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from moulin.accounts.models import AuditEntry
from moulin.feedback.models import Feedback, FeedbackEvent, Status
from moulin.triage import vector_store
from moulin.triage.models import FeedbackAnalysis
from moulin.triage.services import duplicates
from tests.triage.discovery_data import (
    EXPORT_TIMEOUT,
    EXPORT_TIMEOUT_PARAPHRASE,
    EXPORT_TIMEOUT_SHOUTED,
    UNRELATED,
    analyse,
    forget_indexes,
    make_customer,
    make_feedback,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_index():
    forget_indexes()
    yield
    forget_indexes()


@pytest.fixture
def export_feedback(organisation, cs_contributor):
    """The same complaint from three customers, in three wordings, among unrelated items."""
    initech = make_customer(organisation, "Initech", arr="120000", segment="Enterprise")
    globex = make_customer(organisation, "Globex", arr="30000", segment="SMB")
    hooli = make_customer(organisation, "Hooli", arr="50000", segment="SMB")
    first = make_feedback(organisation, cs_contributor, EXPORT_TIMEOUT, customer=initech,
                          days_ago=10)
    paraphrase = make_feedback(organisation, cs_contributor, EXPORT_TIMEOUT_PARAPHRASE,
                               customer=globex, days_ago=3)
    shouted = make_feedback(organisation, cs_contributor, EXPORT_TIMEOUT_SHOUTED,
                            customer=hooli, days_ago=2)
    others = [make_feedback(organisation, cs_contributor, text, customer=initech, days_ago=5)
              for text in UNRELATED]
    analyse(first, paraphrase, shouted, *others)
    return {"first": first, "paraphrase": paraphrase, "shouted": shouted, "others": others,
            "initech": initech, "globex": globex, "hooli": hooli}


def panel(client, item: Feedback):
    return client.get(reverse("triage:similar_panel", args=[item.pk]), headers={"HX-Request":
                                                                                 "true"})


def test_feedback_page_loads_the_similar_panel(client_for, pm, export_feedback):
    page = client_for(pm).get(reverse("feedback:detail", args=[export_feedback["first"].pk]))
    assert page.status_code == 200
    assert reverse("triage:similar_panel", args=[export_feedback["first"].pk]) in \
        page.content.decode()


def test_exact_duplicate_and_paraphrase_are_found(client_for, pm, export_feedback):
    response = panel(client_for(pm), export_feedback["first"])
    assert response.status_code == 200
    body = response.content.decode()
    assert f'data-feedback="{export_feedback["paraphrase"].pk}"' in body
    assert f'data-feedback="{export_feedback["shouted"].pk}"' in body
    assert "Exact duplicate" in body  # the shouted one: same words, other case and punctuation
    for other in export_feedback["others"]:
        assert f'data-feedback="{other.pk}"' not in body

    found = duplicates.feedback_similar(member=pm, feedback=export_feedback["first"])
    by_id = {s.feedback.pk: s for s in found}
    assert by_id[export_feedback["shouted"].pk].exact
    assert by_id[export_feedback["shouted"].pk].near_duplicate
    assert by_id[export_feedback["paraphrase"].pk].similarity > 0.75


def test_same_customer_comes_first(organisation, cs_contributor, pm, export_feedback):
    again = make_feedback(organisation, cs_contributor,
                          "Our PDF exports keep timing out on the big workspace with the "
                          "invoices.", customer=export_feedback["globex"])
    analyse(again)
    found = duplicates.feedback_similar(member=pm, feedback=export_feedback["paraphrase"])
    assert found[0].feedback.pk == again.pk
    assert found[0].same_customer


def test_merge_keeps_both_customers_demand(client_for, product_ops, export_feedback):
    client = client_for(product_ops)
    kept, duplicate = export_feedback["first"], export_feedback["paraphrase"]
    response = client.post(reverse("triage:feedback_merge", args=[duplicate.pk]),
                           {"into": kept.pk, "page": kept.pk}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "Merged #" in body
    assert "2 customers" in body  # Initech and Globex now stand behind the kept item

    duplicate.refresh_from_db()
    assert duplicate.status == Status.MERGED
    assert duplicate.merged_into_id == kept.pk
    assert duplicate.customer_id == export_feedback["globex"].pk  # its row and customer stay
    demand = duplicates.feedback_demand(feedback=kept)
    assert (demand.items, demand.customers, demand.arr) == (2, 2, Decimal("150000"))

    assert FeedbackEvent.objects.filter(feedback=duplicate, kind="merged").exists()
    assert FeedbackEvent.objects.filter(feedback=kept, kind="merged").exists()
    entry = AuditEntry.objects.get(action="feedback.merged")
    assert entry.changes["merged_into"] == kept.pk

    # Hidden from the inbox by default, still there with every status.
    inbox = client.get(reverse("feedback:inbox")).content.decode()
    assert reverse("feedback:detail", args=[duplicate.pk]) not in inbox
    everything = client.get(reverse("feedback:inbox") + "?status=all").content.decode()
    assert reverse("feedback:detail", args=[duplicate.pk]) in everything

    # No longer offered as similar to the kept item; listed as its merged duplicate instead.
    similar = duplicates.feedback_similar(member=product_ops, feedback=kept)
    assert duplicate.pk not in {s.feedback.pk for s in similar}
    assert "Merged duplicates" in panel(client, kept).content.decode()
    merged = panel(client, duplicate).content.decode()
    link = reverse("feedback:detail", args=[kept.pk])
    assert f'This item is a duplicate merged into <a href="{link}">#{kept.pk} — ' in merged
    assert "</a>. Its customer counts for that item." in merged


def test_merge_can_be_undone(client_for, product_ops, export_feedback):
    client = client_for(product_ops)
    kept, duplicate = export_feedback["first"], export_feedback["shouted"]
    client.post(reverse("triage:feedback_merge", args=[duplicate.pk]), {"into": kept.pk})
    response = client.post(reverse("triage:feedback_unmerge", args=[duplicate.pk]))
    assert response.status_code == 302
    duplicate.refresh_from_db()
    assert duplicate.merged_into_id is None
    assert duplicate.status == Status.NEW
    assert FeedbackEvent.objects.filter(feedback=duplicate, kind="unmerged").exists()
    assert AuditEntry.objects.filter(action="feedback.unmerged").exists()
    assert duplicates.feedback_demand(feedback=kept).customers == 1


def test_history_names_merges_in_words(client_for, product_ops, export_feedback):
    client = client_for(product_ops)
    kept, duplicate = export_feedback["first"], export_feedback["shouted"]
    client.post(reverse("triage:feedback_merge", args=[duplicate.pk]), {"into": kept.pk})
    client.post(reverse("triage:feedback_unmerge", args=[duplicate.pk]))
    for item, expected in ((duplicate, ["Merged into", f"#{kept.pk}", "undid a merge"]),
                           (kept, ["Duplicate merged in", "Duplicate separated",
                                   f"#{duplicate.pk}"])):
        history = client.get(reverse("feedback:detail", args=[item.pk])).content.decode()
        history = history[history.index('id="feedback-history"'):]
        for words in expected:
            assert words in history
        for key in ("merged_into", "merged_from", "unmerged"):
            assert f"{key}:" not in history and f"— {key}" not in history


def test_merging_a_chain_moves_the_duplicates_to_the_kept_item(product_ops, export_feedback):
    first, paraphrase, shouted = (export_feedback[k] for k in ("first", "paraphrase",
                                                               "shouted"))
    duplicates.feedback_merge(actor=product_ops, duplicate=shouted, kept=paraphrase)
    duplicates.feedback_merge(actor=product_ops, duplicate=paraphrase, kept=first)
    shouted.refresh_from_db()
    assert shouted.merged_into_id == first.pk
    demand = duplicates.feedback_demand(feedback=first)
    assert (demand.items, demand.customers, demand.arr) == (3, 3, Decimal("200000"))


def test_bad_merges_say_what_to_fix(client_for, product_ops, export_feedback):
    client = client_for(product_ops)
    first, paraphrase = export_feedback["first"], export_feedback["paraphrase"]
    url = reverse("triage:feedback_merge", args=[first.pk])
    hx = {"HX-Request": "true"}
    assert "into itself" in client.post(url, {"into": first.pk}, headers=hx).content.decode()
    response = client.post(url, {"into": "abc"}, headers=hx)
    assert response.status_code == 422
    assert "Choose the item to keep" in response.content.decode()
    assert client.post(url, {"into": 987654321}, headers=hx).status_code == 422
    client.post(reverse("triage:feedback_merge", args=[paraphrase.pk]), {"into": first.pk})
    response = client.post(reverse("triage:feedback_merge", args=[export_feedback["shouted"].pk]),
                           {"into": paraphrase.pk}, headers=hx)
    assert response.status_code == 422
    assert "merge into that one" in response.content.decode()


def test_only_managers_merge_and_outsiders_see_nothing(client_for, cs_contributor, outsider,
                                                      export_feedback):
    first, paraphrase = export_feedback["first"], export_feedback["paraphrase"]
    url = reverse("triage:feedback_merge", args=[paraphrase.pk])
    assert client_for(cs_contributor).post(url, {"into": first.pk}).status_code == 403
    body = panel(client_for(cs_contributor), first).content.decode()
    assert "Merge here" not in body  # a contributor sees similar items, without merge buttons
    assert panel(client_for(outsider), first).status_code == 404
    assert client_for(outsider).post(url, {"into": first.pk}).status_code == 404
    paraphrase.refresh_from_db()
    assert paraphrase.merged_into_id is None


def test_intake_form_warns_about_a_near_duplicate(client_for, cs_contributor, export_feedback):
    client = client_for(cs_contributor)
    form = client.get(reverse("feedback:submit")).content.decode()
    assert reverse("triage:intake_similar") in form  # the text field asks while typing

    response = client.post(reverse("triage:intake_similar"), {
        "text": "pdf export timing out for workspaces with more than 500 invoices"},
        headers={"HX-Request": "true"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "similar-warning" in body
    assert reverse("feedback:detail", args=[export_feedback["first"].pk]) in body

    exact = client.post(reverse("triage:intake_similar"), {"text": EXPORT_TIMEOUT.upper()})
    assert "This looks already recorded." in exact.content.decode()

    unrelated = client.post(reverse("triage:intake_similar"), {
        "text": "Please add a keyboard shortcut to approve a payment run."})
    assert "similar-warning" not in unrelated.content.decode()


@pytest.mark.parametrize("text", ["", "   ", "😀🔥👍", "ok", "x" * 1_000_000,
                                  "Le PDF " * 150_000, "\x00\x00 nul"])
def test_intake_warning_survives_any_text(client_for, cs_contributor, export_feedback, text):
    response = client_for(cs_contributor).post(reverse("triage:intake_similar"), {"text": text})
    assert response.status_code == 200


def test_similar_to_a_text_ignores_empty_and_emoji_only(pm, export_feedback):
    assert duplicates.text_similar(member=pm, text="") == []
    assert duplicates.text_similar(member=pm, text="🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂") == []


def test_api_similar_merge_and_unmerge(api_client, product_ops, sales_viewer, export_feedback):
    first, paraphrase = export_feedback["first"], export_feedback["paraphrase"]
    viewer = api_client(sales_viewer, "read")
    found = viewer.get(f"/api/v1/feedback/{first.pk}/similar")
    assert found.status_code == 200
    ids = [row["id"] for row in found.json()]
    assert paraphrase.pk in ids and export_feedback["shouted"].pk in ids
    assert viewer.post(f"/api/v1/feedback/{paraphrase.pk}/merge",
                       {"into": first.pk}).status_code == 403

    manager = api_client(product_ops)
    merged = manager.post(f"/api/v1/feedback/{paraphrase.pk}/merge", {"into": first.pk})
    assert merged.status_code == 200, merged.content
    assert merged.json()["merged_into"] == first.pk
    assert merged.json()["customers"] == 2
    again = manager.post(f"/api/v1/feedback/{paraphrase.pk}/merge", {"into": first.pk})
    assert again.status_code == 409
    assert manager.post(f"/api/v1/feedback/{paraphrase.pk}/unmerge").status_code == 200
    assert manager.post(f"/api/v1/feedback/{paraphrase.pk}/unmerge").status_code == 409

    text = manager.post("/api/v1/triage/similar", {"text": EXPORT_TIMEOUT_PARAPHRASE})
    assert text.status_code == 200
    assert paraphrase.pk in [row["id"] for row in text.json()]
    assert manager.post("/api/v1/triage/similar", {"text": "🔥"}).json() == []


def test_index_is_refreshed_incrementally(organisation, cs_contributor, pm, export_feedback,
                                          monkeypatch):
    index = vector_store.organisation_index(organisation.pk)
    size = len(index)
    late = make_feedback(organisation, cs_contributor,
                         "Exports to PDF of large invoice workspaces time out every time.")
    analyse(late)
    same = vector_store.organisation_index(organisation.pk)
    assert same is index  # updated in place, not reloaded
    assert len(same) == size + 1
    assert late.pk in {s.feedback.pk for s in duplicates.feedback_similar(
        member=pm, feedback=export_feedback["first"])}

    late_id = late.pk
    late.delete()  # an item erased: never offered, even before the index notices
    assert late_id not in {s.feedback.pk for s in duplicates.feedback_similar(
        member=pm, feedback=export_feedback["first"])}
    monkeypatch.setattr(vector_store, "COUNT_EVERY", 0)  # the periodic count: rebuilt
    rebuilt = vector_store.organisation_index(organisation.pk)
    assert len(rebuilt) == size
    assert late_id not in rebuilt


def test_item_without_analysis_is_embedded_on_the_fly(organisation, cs_contributor, pm,
                                                      export_feedback):
    fresh = make_feedback(organisation, cs_contributor, EXPORT_TIMEOUT_PARAPHRASE + " Again.")
    FeedbackAnalysis.objects.filter(feedback=fresh).delete()  # not analysed yet
    found = duplicates.feedback_similar(member=pm, feedback=Feedback.objects.get(pk=fresh.pk))
    assert export_feedback["paraphrase"].pk in {s.feedback.pk for s in found}


def test_erasing_a_contact_re_analyses_the_verbatims_that_named_them(
        organisation, cs_contributor, admin, django_capture_on_commit_callbacks):
    from moulin.accounts.audit import CLI
    from moulin.customers.models import Contact
    from moulin.feedback.services import contact_erase

    item = make_feedback(organisation, cs_contributor,
                         "Marie Dupont says the PDF export times out on big workspaces.")
    analyse(item)
    before = FeedbackAnalysis.objects.get(feedback=item)
    contact = Contact.objects.create(organisation=organisation, name="Marie Dupont",
                                     email="marie.dupont@initech.com")
    with django_capture_on_commit_callbacks(execute=True):
        contact_erase(actor=admin, origin=CLI, contact=contact)
    item.refresh_from_db()
    assert "Marie" not in item.text
    after = FeedbackAnalysis.objects.get(feedback=item)
    # the stored vector and duplicate key now describe the erased text, not the name
    assert after.text_key != before.text_key
    assert bytes(after.vector) != bytes(before.vector)


def test_merged_demand_adds_arr_in_the_reporting_currency(api_client, organisation,
                                                          product_ops, cs_contributor):
    """The kept item's demand converts a GBP customer's ARR with the organisation's rate and
    keeps a currency without a rate apart (10,000 GBP were added as 10,000 euros)."""
    from moulin.features.models import CurrencyRate
    from tests.builders import make_customer as customer_in

    CurrencyRate.objects.create(organisation=organisation, currency="GBP", rate="1.2")
    kept = make_feedback(organisation, cs_contributor, "The PDF export times out.",
                         customer=customer_in(organisation, "Initech", arr=Decimal("100000")))
    british = make_feedback(organisation, cs_contributor, "PDF exports time out for us too.",
                            customer=customer_in(organisation, "Globex", arr=Decimal("10000"),
                                                 currency="GBP"))
    swiss = make_feedback(organisation, cs_contributor, "Exporting to PDF never finishes.",
                          customer=customer_in(organisation, "Vandelay", arr=Decimal("5000"),
                                               currency="CHF"))
    api = api_client(product_ops)
    assert api.post(f"/api/v1/feedback/{british.pk}/merge", {"into": kept.pk}).status_code == 200
    merged = api.post(f"/api/v1/feedback/{swiss.pk}/merge", {"into": kept.pk}).json()
    assert merged["customers"] == 3 and merged["currency"] == "EUR"
    assert Decimal(str(merged["arr"])) == Decimal("112000")
    assert {k: Decimal(str(v)) for k, v in merged["arr_unconverted"].items()} \
        == {"CHF": Decimal("5000")}
    demand = duplicates.feedback_demand(feedback=kept)
    assert (demand.arr, demand.arr_unconverted) == (Decimal("112000.00"),
                                                    {"CHF": Decimal("5000.00")})
