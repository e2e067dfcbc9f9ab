"""The triage API: taxonomy CRUD and merge, an item's suggestions and the decisions on them,
model versions (list, retrain, roll back) and settings, with the API's error format."""

from __future__ import annotations

import pytest
from django.urls import reverse

from moulin.triage.models import FeedbackTheme, JobStatus, ModelVersion, Origin, Theme
from moulin.triage.services import feedback_analyse
from tests.builders import make_theme
from tests.triage.triage_data import NEW_ITEMS, make_taxonomy, receive, train

pytestmark = pytest.mark.django_db
API = "/api/v1"


def test_taxonomy_crud_archive_and_merge(api_client, product_ops, organisation,
                                         django_capture_on_commit_callbacks):
    api = api_client(product_ops)
    with django_capture_on_commit_callbacks(execute=True):
        created = api.post(f"{API}/themes", {
            "name_en": "Payment reminders", "name_fr": "Relances clients",
            "description": "Dunning emails.", "examples": ["Reminders are sent twice."]})
    assert created.status_code == 201, created.content
    theme = created.json()
    assert (theme["name_fr"], theme["examples"]) == ("Relances clients",
                                                     ["Reminders are sent twice."])
    assert ModelVersion.objects.get(organisation=organisation).status == JobStatus.DONE

    other = api.post(f"{API}/themes", {"name_en": "Dunning"}).json()
    assert other["name_fr"] == "Dunning", "one name is enough: it fills the other"
    changed = api.patch(f"{API}/themes/{other['id']}", {"description": "Late payers."})
    assert changed.status_code == 200 and changed.json()["description"] == "Late payers."
    assert changed.json()["name_en"] == "Dunning"

    listed = api.get(f"{API}/themes").json()
    assert {t["id"] for t in listed["items"]} == {theme["id"], other["id"]}
    merged = api.post(f"{API}/themes/{other['id']}/merge", {"into_id": theme["id"]})
    assert merged.status_code == 200 and merged.json()["id"] == theme["id"]
    assert Theme.objects.get(pk=other["id"]).merged_into_id == theme["id"]
    assert [t["id"] for t in api.get(f"{API}/themes").json()["items"]] == [theme["id"]]
    everything = api.get(f"{API}/themes", include_archived="true").json()["items"]
    assert len(everything) == 2

    archived = api.post(f"{API}/themes/{theme['id']}/archive")
    assert archived.json()["archived_at"] is not None
    restored = api.post(f"{API}/themes/{theme['id']}/restore")
    assert restored.json()["archived_at"] is None
    refused = api.post(f"{API}/themes/{other['id']}/restore")
    assert refused.status_code == 400 and "merged" in refused.json()["message"]


@pytest.mark.parametrize("body, field", [
    ({"name_en": "", "name_fr": ""}, "name_en"),
    ({"name_en": "x" * 121}, "name_en"),
    ({"name_en": "A", "examples": ["e"] * 21}, "examples"),
    ({"name_en": "A", "product_area_id": 999999}, "product_area_id"),
    ({"name_en": "A", "examples": "not a list"}, "examples"),
])
def test_bad_themes_get_the_field_to_fix(api_client, product_ops, body, field):
    response = api_client(product_ops).post(f"{API}/themes", body)
    assert response.status_code == 422, response.content
    assert field in {e["field"] for e in response.json()["errors"]}


@pytest.mark.parametrize("field", ["name_en", "name_fr"])
def test_a_null_name_is_refused_not_replaced_by_the_other_language(api_client, product_ops,
                                                                   organisation, field):
    """{"name_en": null} used to answer 200 and copy the French name into the English one."""
    theme = make_theme(organisation, "Payment reminders", "Relances clients")
    response = api_client(product_ops).patch(f"{API}/themes/{theme.pk}", {field: None})
    assert response.status_code == 422, response.content
    assert [e["field"] for e in response.json()["errors"]] == [field]
    theme.refresh_from_db()
    assert (theme.name_en, theme.name_fr) == ("Payment reminders", "Relances clients")
    schema = api_client(product_ops).get(f"{API}/openapi.json").json()
    patch = schema["components"]["schemas"]["ThemePatch"]["properties"][field]
    assert patch["type"] == "string" and "anyOf" not in patch and "default" not in patch


def test_merging_a_theme_twice_is_a_conflict_as_for_an_item(api_client, client_for,
                                                             product_ops, organisation):
    """A retried merge answered 400 where merging an item twice answers 409."""
    sso = make_theme(organisation, "SSO")
    access = make_theme(organisation, "Access rights")
    api = api_client(product_ops)
    assert api.post(f"{API}/themes/{sso.pk}/merge", {"into_id": access.pk}).status_code == 200
    again = api.post(f"{API}/themes/{sso.pk}/merge", {"into_id": access.pk})
    assert again.status_code == 409, again.content
    assert again.json()["code"] == "conflict"
    assert again.json()["message"] == "This theme is already merged into “Access rights”."
    page = client_for(product_ops).post(reverse("triage:theme_merge", args=[sso.pk]),
                                        {"into": access.pk})
    assert page.status_code == 422
    assert "This theme is already merged into “Access rights”." in page.content.decode()


def test_duplicate_name_is_a_conflict(api_client, product_ops, organisation):
    make_theme(organisation, "Cash forecasting")
    response = api_client(product_ops).post(f"{API}/themes", {"name_en": "cash forecasting"})
    assert response.status_code == 409 and response.json()["code"] == "conflict"


def test_suggestions_accept_correct_remove_and_review(api_client, product_ops, organisation):
    themes = make_taxonomy(organisation)
    train(organisation)
    item = receive(organisation, NEW_ITEMS[0][0])
    feedback_analyse(organisation_id=organisation.pk, ids=[item.pk])
    api = api_client(product_ops)

    triage = api.get(f"{API}/feedback/{item.pk}/triage").json()
    assert triage["suggestions"][0]["theme_id"] == themes["bank_sync"].pk
    assert triage["suggestions"][0]["rank"] == 1 and triage["suggestions"][0]["confidence"] > 0
    assert triage["sentiment"] in ("negative", "neutral", "positive")
    assert triage["model_version"] == 1 and triage["language"] == "en"

    accepted = api.post(f"{API}/feedback/{item.pk}/themes", {"rank": 1}).json()
    assert accepted["outcome"] == "reviewed"
    assert accepted["themes"] == [{"theme_id": themes["bank_sync"].pk,
                                   "theme": "Bank synchronisation", "origin": "accepted",
                                   "confidence": triage["suggestions"][0]["confidence"]}]
    corrected = api.post(f"{API}/feedback/{item.pk}/themes",
                         {"theme_id": themes["forecast"].pk}).json()
    assert {t["theme_id"] for t in corrected["themes"]} == {themes["bank_sync"].pk,
                                                           themes["forecast"].pk}
    removed = api.delete(f"{API}/feedback/{item.pk}/themes/{themes['forecast'].pk}")
    assert removed.status_code == 200
    assert [t["theme_id"] for t in removed.json()["themes"]] == [themes["bank_sync"].pk]
    again = api.delete(f"{API}/feedback/{item.pk}/themes/{themes['forecast'].pk}")
    assert again.status_code == 200, "removing an absent theme changes nothing"

    reviewed = api.post(f"{API}/feedback/{item.pk}/triage/review", {"decision": "unknown"})
    assert reviewed.json()["outcome"] == "unknown"
    assert FeedbackTheme.objects.filter(feedback=item, origin=Origin.ACCEPTED).exists()

    both = api.post(f"{API}/feedback/{item.pk}/themes", {"rank": 1, "theme_id": 1})
    assert both.status_code == 422 and both.json()["errors"][0]["field"] == "rank"
    neither = api.post(f"{API}/feedback/{item.pk}/themes", {})
    assert neither.status_code == 422
    bad_rank = api.post(f"{API}/feedback/{item.pk}/themes", {"rank": 7})
    assert bad_rank.status_code == 422
    bad_decision = api.post(f"{API}/feedback/{item.pk}/triage/review", {"decision": "maybe"})
    assert bad_decision.status_code == 422


def test_a_merged_themes_id_removes_the_theme_it_went_into_as_it_applies_it(
        api_client, product_ops, organisation):
    """An integration still holding the id of a merged theme: applying it gives the item the
    theme it went into; removing it used to answer 200 and leave that theme on the item."""
    from moulin.accounts.audit import CLI
    from moulin.triage.services import theme_merge

    sso = make_theme(organisation, "SSO")
    access = make_theme(organisation, "Access rights")
    theme_merge(actor=product_ops, origin=CLI, theme=sso, into=access)
    item = receive(organisation, "Please support Okta single sign-on.")
    api = api_client(product_ops)
    applied = api.post(f"{API}/feedback/{item.pk}/themes", {"theme_id": sso.pk}).json()
    assert [t["theme_id"] for t in applied["themes"]] == [access.pk]
    removed = api.delete(f"{API}/feedback/{item.pk}/themes/{sso.pk}")
    assert removed.status_code == 200 and removed.json()["themes"] == []
    assert not FeedbackTheme.objects.filter(feedback=item).exists()


def test_model_versions_retrain_and_roll_back(api_client, admin, organisation,
                                              django_capture_on_commit_callbacks):
    make_taxonomy(organisation)
    first = train(organisation)
    api = api_client(admin)
    with django_capture_on_commit_callbacks(execute=True):
        queued = api.post(f"{API}/triage/models/retrain")
    assert queued.status_code == 202 and queued.json()["number"] == 2
    second = api.get(f"{API}/triage/models/{queued.json()['id']}").json()
    assert second["status"] == "done" and second["is_active"]
    assert second["progress_done"] == second["progress_total"] > 0
    versions = api.get(f"{API}/triage/models").json()["items"]
    assert [v["number"] for v in versions] == [2, 1]
    rolled = api.post(f"{API}/triage/models/{first.pk}/activate")
    assert rolled.status_code == 200 and rolled.json()["is_active"]
    assert not ModelVersion.objects.get(number=2, organisation=organisation).is_active


def test_settings(api_client, admin, sales_viewer, organisation):
    api = api_client(admin)
    assert api.get(f"{API}/triage/settings").json()["auto_apply_threshold"] == 0.9
    changed = api.patch(f"{API}/triage/settings", {"auto_apply_threshold": 0.75,
                                                   "retrain_after": 10})
    assert changed.status_code == 200
    assert (changed.json()["auto_apply_threshold"], changed.json()["retrain_after"]) == (0.75, 10)
    bad = api.patch(f"{API}/triage/settings", {"auto_apply_threshold": 1.5})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "auto_apply_threshold"
    viewer = api_client(sales_viewer)
    assert viewer.get(f"{API}/triage/settings").status_code == 200
    assert viewer.patch(f"{API}/triage/settings", {"retrain_after": 3}).status_code == 403


def test_other_organisations_get_404(api_client, outsider, organisation):
    theme = make_theme(organisation, "Ours")
    item = receive(organisation, NEW_ITEMS[0][0])
    api = api_client(outsider)
    assert api.get(f"{API}/themes/{theme.pk}").status_code == 404
    assert api.get(f"{API}/feedback/{item.pk}/triage").status_code == 404
    assert api.post(f"{API}/themes/{theme.pk}/archive").status_code == 404
    assert api.get(f"{API}/themes").json()["items"] == []


def test_inbox_filters_reach_the_feedback_api(api_client, pm, organisation):
    themes = make_taxonomy(organisation, ["bank_sync", "access"])
    item = receive(organisation, NEW_ITEMS[0][0])
    FeedbackTheme.objects.create(organisation=organisation, feedback=item,
                                 theme=themes["bank_sync"])
    receive(organisation, NEW_ITEMS[6][0])
    api = api_client(pm)
    found = api.get(f"{API}/feedback", theme=str(themes["bank_sync"].pk)).json()["items"]
    assert [f["id"] for f in found] == [item.pk]
    pending = api.get(f"{API}/feedback", outcome="pending").json()["items"]
    assert len(pending) == 2, "not analysed yet counts as pending"
    assert api.get(f"{API}/feedback", sentiment="furious").status_code == 422
