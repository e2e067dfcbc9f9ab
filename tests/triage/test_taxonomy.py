"""Product Ops keep a taxonomy of product areas → themes, with names in both languages, a
description and example phrases: editable, archivable (kept for history, never suggested) and
mergeable (links move over, the merged theme points at its target)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from moulin.accounts.audit import CLI
from moulin.accounts.models import AuditEntry
from moulin.feedback.models import ProductArea
from moulin.triage.models import FeedbackTheme, JobStatus, ModelVersion, Origin, Theme
from moulin.triage.services import feedback_analyse, theme_merge
from tests.builders import make_theme
from tests.triage.triage_data import NEW_ITEMS, analysis_of, make_taxonomy, receive, train

pytestmark = pytest.mark.django_db


def new_theme(client, **data):
    return client.post(reverse("triage:theme_create"), data)


def test_product_ops_add_a_bilingual_theme_and_the_model_retrains(
        client_for, product_ops, organisation, django_capture_on_commit_callbacks):
    area = ProductArea.objects.create(organisation=organisation, name="Connecteurs bancaires")
    client = client_for(product_ops)
    with django_capture_on_commit_callbacks(execute=True):
        response = new_theme(client, name_en="Bank synchronisation",
                             name_fr="Synchronisation bancaire", product_area=area.pk,
                             description="Bank feeds that fail or arrive late.",
                             examples="Bank sync fails every Monday.\n\nLes relevés arrivent "
                                      "en retard.\nBank sync fails every Monday.")
    assert response.status_code == 302
    theme = Theme.objects.get(organisation=organisation)
    assert (theme.name_en, theme.name_fr, theme.product_area) == (
        "Bank synchronisation", "Synchronisation bancaire", area)
    assert theme.examples == ["Bank sync fails every Monday.", "Les relevés arrivent en retard."]
    assert AuditEntry.objects.filter(action="theme.created", target_id=str(theme.pk)).exists()
    version = ModelVersion.objects.get(organisation=organisation)
    assert (version.trigger, version.status, version.is_active) == ("taxonomy", JobStatus.DONE,
                                                                   True)

    page = client.get(reverse("triage:taxonomy")).content.decode()
    assert "Connecteurs bancaires" in page and "Bank synchronisation" in page
    assert "Les relevés arrivent en retard." in page


def test_theme_names_follow_the_interface_language(organisation):
    from django.utils import translation

    theme = make_theme(organisation, "Payment reminders", "Relances clients")
    with translation.override("fr"):
        assert theme.name == "Relances clients"
    with translation.override("en"):
        assert theme.name == "Payment reminders"


@pytest.mark.parametrize("data, message", [
    ({"name_en": "", "name_fr": ""}, "Give the theme a name"),
    ({"name_en": "x" * 121}, "at most 120 characters"),
    ({"name_en": "Forecast", "examples": "\n".join(f"phrase {n}" for n in range(21))},
     "At most 20 example phrases"),
    ({"name_en": "Forecast", "examples": "y" * 301}, "at most 300 characters"),
    ({"name_en": "Forecast", "examples": "\n".join(f"phrase {n}" for n in range(5000))},
     "at most 20000 characters"),
    ({"name_en": "Forecast", "product_area": "999999"}, "Select a valid choice"),
])
def test_bad_themes_say_what_to_fix(client_for, product_ops, organisation, data, message):
    response = new_theme(client_for(product_ops), **data)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not Theme.objects.filter(organisation=organisation).exists()


def test_pasting_thousands_of_example_lines_is_refused_at_once():
    """The 21st distinct phrase stops the reading (it used to compare every line with every
    kept one: a pasted 20,000-line list took 19 s before the same answer)."""
    from moulin.core.errors import DomainError
    from moulin.triage.services.taxonomy import clean_examples

    lines = [f"phrase {n}" for n in range(2_000)]
    with pytest.raises(DomainError, match="At most 20 example phrases"):
        clean_examples(lines)
    repeated = ["Same phrase", "same PHRASE", ""] * 1000 + ["Other"]
    assert clean_examples(repeated) == ["Same phrase", "Other"]


def test_two_active_themes_cannot_share_a_name(client_for, product_ops, organisation):
    make_theme(organisation, "Cash forecasting", "Prévisions de trésorerie")
    response = new_theme(client_for(product_ops), name_en="Forecasts",
                         name_fr="prévisions de trésorerie")
    assert response.status_code == 422
    assert "already exists" in response.content.decode()


def test_edit_a_theme(client_for, product_ops, organisation):
    theme = make_theme(organisation, "Forecast", "Prévision")
    client = client_for(product_ops)
    assert client.get(reverse("triage:theme_edit", args=[theme.pk])).status_code == 200
    response = client.post(reverse("triage:theme_edit", args=[theme.pk]), {
        "name_en": "Cash forecasting", "name_fr": "Prévisions de trésorerie",
        "description": "The 13-week forecast.", "examples": "Forecast is slow"})
    assert response.status_code == 302
    theme.refresh_from_db()
    assert (theme.name_en, theme.examples) == ("Cash forecasting", ["Forecast is slow"])
    assert AuditEntry.objects.filter(action="theme.updated").exists()


def test_archived_themes_are_never_suggested_but_stay_in_filters_and_history(
        client_for, product_ops, organisation):
    themes = make_taxonomy(organisation)
    train(organisation)
    item = receive(organisation, NEW_ITEMS[0][0])
    feedback_analyse(organisation_id=organisation.pk, ids=[item.pk])
    FeedbackTheme.objects.create(organisation=organisation, feedback=receive(
        organisation, "Older item about bank feeds."), theme=themes["bank_sync"],
        origin=Origin.MANUAL)
    assert analysis_of(item).suggestions[0]["theme"] == themes["bank_sync"].pk

    client = client_for(product_ops)
    assert client.post(reverse("triage:theme_archive",
                               args=[themes["bank_sync"].pk])).status_code == 302
    feedback_analyse(organisation_id=organisation.pk, ids=[item.pk], force=True)
    assert themes["bank_sync"].pk not in [s["theme"] for s in analysis_of(item).suggestions]
    assert FeedbackTheme.objects.filter(theme=themes["bank_sync"]).count() == 1, "links kept"

    row = f'id="theme-{themes["bank_sync"].pk}"'
    assert row not in client.get(reverse("triage:taxonomy")).content.decode()
    archived = client.get(reverse("triage:taxonomy"), {"archived": "1"}).content.decode()
    assert row in archived and "archived" in archived
    inbox = client.get(reverse("feedback:inbox")).content.decode()
    assert "Bank synchronisation (archived)" in inbox, "the theme filter still offers it"

    assert client.post(reverse("triage:theme_restore",
                               args=[themes["bank_sync"].pk])).status_code == 302
    themes["bank_sync"].refresh_from_db()
    assert themes["bank_sync"].archived_at is None


def test_merge_moves_the_links_and_keeps_the_merged_theme(client_for, product_ops,
                                                          organisation):
    sso = make_theme(organisation, "SSO", "SSO", examples=["Okta login"])
    access = make_theme(organisation, "Access rights", "Droits d'accès")
    only_sso = receive(organisation, "Please support Okta.")
    both = receive(organisation, "Okta SSO and read-only roles.")
    for item in (only_sso, both):
        FeedbackTheme.objects.create(organisation=organisation, feedback=item, theme=sso,
                                     origin=Origin.ACCEPTED)
    FeedbackTheme.objects.create(organisation=organisation, feedback=both, theme=access,
                                 origin=Origin.MANUAL)
    client = client_for(product_ops)
    response = client.post(reverse("triage:theme_merge", args=[sso.pk]), {"into": access.pk})
    assert response.status_code == 302

    sso.refresh_from_db()
    access.refresh_from_db()
    assert sso.merged_into == access and sso.archived_at is not None
    assert list(FeedbackTheme.objects.filter(theme=sso)) == []
    assert set(FeedbackTheme.objects.filter(theme=access).values_list("feedback", "origin")) == {
        (only_sso.pk, Origin.MERGE), (both.pk, Origin.MANUAL)}
    assert "Okta login" in access.examples and "SSO" in access.examples
    assert AuditEntry.objects.filter(action="theme.merged", target_id=str(sso.pk)).exists()
    history = client.get(reverse("triage:taxonomy"), {"archived": "1"}).content.decode()
    assert "merged into Access rights" in history


def test_bad_merges_are_refused(client_for, product_ops, organisation, outsider):
    theme = make_theme(organisation, "A")
    archived = make_theme(organisation, "B", archived_at="2026-01-01T00:00Z")
    client = client_for(product_ops)
    response = client.post(reverse("triage:theme_merge", args=[theme.pk]), {"into": theme.pk})
    assert response.status_code == 422
    response = client.post(reverse("triage:theme_merge", args=[theme.pk]), {"into": archived.pk})
    assert response.status_code == 422
    theirs = make_theme(outsider.organisation, "Theirs")
    response = client.post(reverse("triage:theme_merge", args=[theme.pk]), {"into": theirs.pk})
    assert response.status_code == 422
    with pytest.raises(Exception, match="organisation"):
        theme_merge(actor=product_ops, origin=CLI, theme=theme, into=theirs)


def test_who_sees_and_edits_the_taxonomy(client_for, cs_contributor, sales_viewer, outsider,
                                         organisation):
    theme = make_theme(organisation, "Payment reminders")
    for member in (cs_contributor, sales_viewer):
        client = client_for(member)
        page = client.get(reverse("triage:taxonomy"))
        assert page.status_code == 200 and "Payment reminders" in page.content.decode()
        assert "Add a theme" not in page.content.decode()
        assert new_theme(client, name_en="Nope").status_code == 403
        assert client.get(reverse("triage:theme_edit", args=[theme.pk])).status_code == 403
    outsider_client = client_for(outsider)
    assert outsider_client.get(reverse("triage:theme_edit", args=[theme.pk])).status_code == 404
    assert "Payment reminders" not in outsider_client.get(
        reverse("triage:taxonomy")).content.decode()


def test_a_theme_merged_meanwhile_cannot_be_merged_again_from_a_stale_page(product_ops,
                                                                          organisation):
    """Two people merge the same theme at once, into two targets: the second is refused."""
    from django.utils import translation

    from moulin.core.errors import DomainError

    theme = make_theme(organisation, "Cash forecast", "Prévision")
    first = make_theme(organisation, "Forecasting", "Prévisions")
    second = make_theme(organisation, "Planning", "Planification")
    read_by_the_second_person = Theme.objects.get(pk=theme.pk)
    theme_merge(actor=product_ops, origin=CLI, theme=theme, into=first)
    with translation.override("en"), pytest.raises(DomainError,
                                                   match="already merged into “Forecasting”"):
        theme_merge(actor=product_ops, origin=CLI, theme=read_by_the_second_person, into=second)
    assert Theme.objects.get(pk=theme.pk).merged_into_id == first.pk
