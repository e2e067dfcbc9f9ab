"""GDPR erasure reaches the triage layer: turning an emerging theme into a theme copies
representative verbatims into the theme's example phrases, and the clustering run writes
keywords and a label; erasing a contact removes their name and address from those copies too,
and the model, which learned from the examples, is retrained."""

from __future__ import annotations

import pytest
from django.urls import reverse

from moulin.accounts.audit import CLI
from moulin.customers.models import Contact
from moulin.feedback.services import contact_erase, feedback_create
from moulin.triage.models import EmergingCluster, JobStatus, ModelVersion, Theme, TriageJob
from moulin.triage.services import emerging
from tests.triage.discovery_data import forget_indexes

pytestmark = pytest.mark.django_db

EMAIL = "jeanne.dupont@acme.fr"


@pytest.fixture(autouse=True)
def _fresh_index():
    forget_indexes()
    yield
    forget_indexes()


def say(organisation, actor, text: str, *, email: str = "", name: str = ""):
    raw = {"text": text}
    if email:
        raw.update({"contact_email": email, "contact_name": name})
    item, _created = feedback_create(organisation=organisation, actor=actor, raw=raw)
    return item


@pytest.fixture
def bank_sync(organisation, cs_contributor):
    """An emerging theme about the bank sync; its closest verbatim is Jeanne's, signed."""
    items = [
        say(organisation, cs_contributor,
            f"Jeanne Dupont ({EMAIL}): the bank sync fails every Monday morning.",
            email=EMAIL, name="Jeanne Dupont"),
        say(organisation, cs_contributor, "The bank sync failed again this Monday."),
        say(organisation, cs_contributor, "Bank synchronisation breaks at the start of the week."),
    ]
    job = TriageJob.objects.create(organisation=organisation, kind=TriageJob.Kind.CLUSTER,
                                   status=JobStatus.DONE)
    cluster = EmergingCluster.objects.create(
        organisation=organisation, job=job, label="bank sync · monday · failed",
        keywords=["bank sync", "monday", "failed"], size=len(items),
        representative_ids=[item.pk for item in items])
    cluster.items.set(items)
    return cluster


def contact() -> Contact:
    return Contact.objects.get(email=EMAIL)


def trained_everything() -> None:
    """As if the background worker had run every queued retraining."""
    ModelVersion.objects.filter(status=JobStatus.QUEUED).update(status=JobStatus.DONE)


def queued_retrainings() -> int:
    return ModelVersion.objects.filter(status=JobStatus.QUEUED).count()


def test_erasing_a_contact_removes_them_from_the_examples_of_a_converted_theme(
        client_for, product_ops, bank_sync):
    theme = emerging.cluster_convert(actor=product_ops, cluster=bank_sync,
                                     name_en="Bank sync").theme
    assert any("Jeanne Dupont" in example for example in theme.examples)

    client = client_for(product_ops)
    response = client.post(f"/feedback/contacts/{contact().pk}/erase/")
    assert response.status_code == 302

    theme.refresh_from_db()
    joined = " ".join(theme.examples)
    assert "Jeanne" not in joined and "jeanne" not in joined
    assert "[erased]" in joined
    assert "the bank sync fails every Monday morning." in joined  # what they said stays
    page = client.get(reverse("triage:taxonomy")).content.decode()
    assert "Bank sync" in page
    assert "jeanne" not in page.lower()


def test_examples_are_scrubbed_in_every_theme_of_the_organisation_only(
        organisation, outsider, admin, product_ops, bank_sync):
    theme = emerging.cluster_convert(actor=product_ops, cluster=bank_sync,
                                     name_en="Bank sync").theme
    typed = Theme.objects.create(organisation=organisation, name_en="Onboarding",
                                 name_fr="Onboarding", description="Asked by Jeanne Dupont.",
                                 examples=["Call JEANNE DUPONT back about onboarding"])
    elsewhere = Theme.objects.create(organisation=outsider.organisation, name_en="Calls",
                                     name_fr="Appels",
                                     examples=["Call Jeanne Dupont back about onboarding"])

    contact_erase(actor=admin, origin=CLI, contact=contact())

    theme.refresh_from_db()
    typed.refresh_from_db()
    elsewhere.refresh_from_db()
    assert "Jeanne" not in " ".join(theme.examples)
    assert typed.examples == ["Call [erased] back about onboarding"]
    assert typed.description == "Asked by [erased]."
    # Another organisation's Jeanne Dupont is not the person who asked to be erased.
    assert elsewhere.examples == ["Call Jeanne Dupont back about onboarding"]


def test_a_retraining_is_queued_when_a_theme_example_named_the_person(admin, product_ops,
                                                                    bank_sync):
    emerging.cluster_convert(actor=product_ops, cluster=bank_sync, name_en="Bank sync")
    trained_everything()  # the model learned Jeanne's signed verbatim as a seed example

    contact_erase(actor=admin, origin=CLI, contact=contact())

    assert queued_retrainings() == 1


def test_no_retraining_when_no_theme_named_the_person(organisation, admin, cs_contributor):
    Theme.objects.create(organisation=organisation, name_en="Exports", name_fr="Exports",
                         examples=["The PDF export times out"])
    say(organisation, cs_contributor, "Exports are slow.", email=EMAIL, name="Jeanne Dupont")

    contact_erase(actor=admin, origin=CLI, contact=contact())

    assert queued_retrainings() == 0


def test_emerging_theme_keywords_and_label_forget_the_person(admin, bank_sync):
    bank_sync.keywords = ["jeanne dupont", "bank sync", "dupont", "monday"]
    bank_sync.label = "jeanne dupont · bank sync · dupont"
    bank_sync.save()

    contact_erase(actor=admin, origin=CLI, contact=contact())

    bank_sync.refresh_from_db()
    assert bank_sync.keywords == ["bank sync", "monday"]
    assert "jeanne" not in bank_sync.label and "dupont" not in bank_sync.label
    assert "bank sync" in bank_sync.label


def test_converting_a_cluster_does_not_copy_email_addresses_or_phone_numbers(
        organisation, cs_contributor, product_ops):
    items = [say(organisation, cs_contributor,
                 f"Write to {EMAIL} or call +33 6 12 34 56 78: exports of 500 rows fail."),
             say(organisation, cs_contributor, "Exports fail, call 06.12.34.56.78 please.")]
    job = TriageJob.objects.create(organisation=organisation, kind=TriageJob.Kind.CLUSTER,
                                   status=JobStatus.DONE)
    cluster = EmergingCluster.objects.create(
        organisation=organisation, job=job, label="exports · fail", keywords=["exports"],
        size=2, representative_ids=[item.pk for item in items])
    cluster.items.set(items)

    theme = emerging.cluster_convert(actor=product_ops, cluster=cluster,
                                     name_en="Exports").theme

    assert theme.examples == [
        "Write to [erased] or call [erased]: exports of 500 rows fail.",
        "Exports fail, call [erased] please.",
    ]


def test_models_that_may_have_learned_from_the_person_are_deleted(
        client_for, admin, organisation, cs_contributor, django_capture_on_commit_callbacks):
    """Older versions kept for rollback hold the words and vectors they learned (Jeanne's
    signed verbatim here): after the erasure they cannot come back, and the version in use is
    replaced by one trained on the scrubbed data."""
    from moulin.core.errors import Conflict
    from moulin.triage.services import feedback_theme_apply, model_activate, model_train_now

    theme = Theme.objects.create(organisation=organisation, name_en="Bank sync",
                                 name_fr="Synchronisation bancaire")
    signed = say(organisation, cs_contributor,
                 f"Jeanne Dupont ({EMAIL}): the bank sync fails every Monday.",
                 email=EMAIL, name="Jeanne Dupont")
    feedback_theme_apply(actor=admin, feedback=signed, theme=theme)
    older = model_train_now(organisation_id=organisation.pk, trigger="test")
    in_use = model_train_now(organisation_id=organisation.pk, trigger="test")
    assert in_use.is_active

    with django_capture_on_commit_callbacks(execute=True):  # the queued retraining runs
        contact_erase(actor=admin, origin=CLI, contact=contact())

    versions = {v.number: v for v in ModelVersion.objects.filter(organisation=organisation)}
    newest = versions[max(versions)]
    assert (newest.trigger, newest.status, newest.is_active) == ("erasure", JobStatus.DONE,
                                                                 True)
    assert versions[older.number].artefact is None and versions[in_use.number].artefact is None
    assert newest.metrics  # the numbers of every version stay
    with pytest.raises(Conflict, match="erasure"):
        model_activate(actor=admin, origin=CLI, version=versions[older.number])
    page = client_for(admin).get(reverse("triage:model_versions")).content.decode()
    assert page.count("Deleted after a personal-data erasure") == len(versions) - 1  # all old
    assert all(v.artefact is None for v in versions.values() if v.pk != newest.pk)
    assert "personal data erased" in page
