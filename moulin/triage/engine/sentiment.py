"""Offline sentiment of customer feedback, French and English first (no Django, no model file).

No labelled sentiment data set is available offline, so two hand-written signals are combined:

- a **lexicon** of French and English opinion words and phrases ("broken", "inadmissible",
  "works perfectly", "pas terrible") with negation ("not", "n't", "no longer", "ne … pas",
  "ne … plus", "jamais", "sans") flipping the words that follow, contrast ("but", "mais")
  weighting the second half, and requests ("would be great", "serait top") softened: asking for
  a feature is not praise;
- when embeddings are given, the similarity to hand-written **anchor sentences** (negative,
  positive and neutral feedback in both languages) in the embedder's space, which also covers
  the other languages of a multilingual embedder and wordings the lexicon misses.

`sentiment(texts, embeddings)` returns ("negative" | "neutral" | "positive", score in [-1, 1]).
Accuracy on the hand-labelled FR/EN set in tests/triage/test_engine_sentiment.py is reported in
docs/benchmarks.md ("Sentiment").
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Sequence

import numpy as np

from moulin.triage.engine.text import without_accents

NEGATIVE, NEUTRAL, POSITIVE = "negative", "neutral", "positive"
# |score| below this is neutral.
NEUTRAL_BAND = 0.2
# Weight of the lexicon and of the anchor similarity in the combined score.
LEXICON_WEIGHT = 0.6
ANCHOR_WEIGHT = 0.4
# Anchor similarity difference (positive minus negative) mapped to ±1.
_ANCHOR_SCALE = 0.12

_POSITIVE = """
good great excellent love loved loves loving like liked nice awesome amazing perfect perfectly
helpful easy easier fast faster quick quickly happy glad thanks thank appreciate appreciated
brilliant fantastic smooth smoothly intuitive useful best better improved improvement improvements
impressed recommend pleased satisfied wonderful reliable clean kudos delighted enjoy enjoyed
pleasant efficient simple clear superb solid cool neat handy lifesaver
bien bon bonne bons bonnes super genial geniale excellent excellente excellents parfait parfaite
parfaitement top merci adore adorons adorent aime aimons pratique pratiques rapide rapides
rapidement facile faciles simple simples intuitif intuitive utile utiles efficace efficaces
content contente contents ravi ravie ravis satisfait satisfaite satisfaits bravo formidable
magnifique agreable fluide clair claire reactif reactive reactifs ameliore amelioree
amelioration meilleur meilleure fiable felicitations recommande chouette nickel impeccable
"""
_NEGATIVE = """
bad terrible awful horrible hate hated hates slow slower slowly broken broke bug buggy bugs crash
crashes crashed crashing error errors fail fails failed failing failure problem problems issue
issues annoying annoyed frustrating frustrated frustration disappointed disappointing
disappointment useless confusing confused difficult unusable worse worst poor wrong stuck
unacceptable ridiculous angry unhappy complaint laggy lag freezes freeze frozen unreliable
expensive overpriced impossible unable cannot nightmare painful mess messy sucks outage down
missing lost gone
mauvais mauvaise mauvaises nul nulle nuls lent lente lents lentes lenteur lenteurs bug bugs
bogue plante plantage plantages crash erreur erreurs probleme problemes souci soucis impossible
bloque bloquee bloques bloquant bloquante casse cassee panne echoue echec decu decue decus
decevant decevante frustrant frustrante agacant penible horrible catastrophe catastrophique
inutilisable inadmissible inacceptable complique compliquee difficile confus perdu perdue pire
marre galere dommage regrette lamentable honteux insupportable ralentit disparu disparue
disparus disparues incomprehensible illisible manque manquent inutile
"""
# Verbs of things working; they only count when negated ("ne fonctionne plus", "doesn't load").
_FUNCTION = """
work works working worked load loads loading open opens sync syncs connect log respond responds
reply replies fonctionne fonctionnent marche marchent charge chargent ouvre ouvrent repond
repondent arrive peux peut pouvons synchronise
"""
# Phrases first (matched on the folded text), with their weight.
_PHRASES = {
    "pas terrible": -1.0, "no longer": 0.0, "not bad": 0.8, "pas mal": 0.6, "rien a redire": 1.0,
    "doesn't work": -1.2, "does not work": -1.2, "don't work": -1.2, "not working": -1.2,
    "stopped working": -1.2, "ne marche pas": -1.2, "ne fonctionne pas": -1.2,
    "temps fou": -0.8, "on perd": -0.6, "perd du temps": -0.8, "waste of time": -1.2,
    "a jour": 0.0, "no problem": 0.8, "sans probleme": 0.8, "pas de probleme": 0.8,
    "thank you": 1.0, "merci beaucoup": 1.0, "great job": 1.2, "well done": 1.2,
    "nobody answered": -1.0, "personne ne": -0.8, "en a marre": -1.2,
    # Polite requests: "merci d'ajouter…" asks, it does not thank.
    "merci de": 0.0, "merci d": 0.0, "thanks in advance": 0.0, "merci d'avance": 0.0,
}
_NEGATORS = frozenset(
    "not no never without nothing neither nor hardly nobody dont doesnt didnt isnt wasnt arent "
    "cant couldnt wont wouldnt shouldnt haven hasnt ne pas jamais sans aucun aucune rien ni "
    "nullement".split()
)
# "plus" negates only after "ne" ("ne … plus"); alone it means "more".
_NE_PLUS = "plus"
_CONTRAST = frozenset("but however though although mais cependant pourtant toutefois".split())
_INTENSIFIERS = frozenset(
    "very really so too extremely totally completely absolutely super tres vraiment trop "
    "tellement completement totalement vachement".split()
)
_REQUEST = frozenset(
    "would could should please if wish hope serait seraient pourriez pourrait aimerais aimerions "
    "souhaiterais souhaiterions si svp".split()
)
_NEGATION_WINDOW = 3


def _fold(text: str) -> str:
    return without_accents(text.casefold().replace("’", "'"))


def _words(block: str) -> dict[str, float]:
    return {_fold(word): 1.0 for word in block.split()}


_POSITIVE_WORDS = _words(_POSITIVE)
_NEGATIVE_WORDS = _words(_NEGATIVE)
_FUNCTION_WORDS = _words(_FUNCTION)
_PHRASE_PATTERN = re.compile(
    r"\b(" + "|".join(re.escape(p) for p in sorted(_PHRASES, key=len, reverse=True)) + r")\b"
)
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[!?.,;:]")
_CLAUSE_END = frozenset(".,;:!?")


def _tokens(text: str) -> list[str]:
    tokens = []
    for token in _TOKEN.findall(text):
        if token.endswith("n't"):  # "doesn't" -> "does", "n't"
            tokens.extend([token[:-3], "not"])
        elif "'" in token:  # French elision: "n'arrive" -> "ne", "arrive"; "l'export" -> "export"
            head, _, tail = token.partition("'")
            tokens.extend(["ne", tail] if head == "n" else [tail])
        else:
            tokens.append(token)
    return tokens


def lexicon_score(text: str) -> float:
    """Sentiment in [-1, 1] from the word lists alone."""
    folded = _fold(text or "")
    if not folded.strip():
        return 0.0
    total = 0.0
    for match in _PHRASE_PATTERN.finditer(folded):
        total += _PHRASES[match.group(1)]
    # Words inside a matched phrase are not counted again ("no longer" still negates).
    remainder = _PHRASE_PATTERN.sub(
        lambda m: " not " if m.group(1) == "no longer" else " , ", folded
    )
    tokens = _tokens(remainder)
    weight_after_contrast = 1.0
    ne_seen_at = -100
    for position, word in enumerate(tokens):
        if word in _CLAUSE_END:
            ne_seen_at = -100
            continue
        if word in _CONTRAST:
            weight_after_contrast = 1.5
            total *= 0.5
            continue
        if word == "ne":
            ne_seen_at = position
        polarity = 0.0
        if word in _POSITIVE_WORDS:
            polarity = 1.0
        elif word in _NEGATIVE_WORDS:
            polarity = -1.0
        elif word in _FUNCTION_WORDS:
            polarity = 0.7  # counts only when negated, below
        if polarity == 0.0:
            continue
        window = tokens[max(0, position - _NEGATION_WINDOW):position]
        for cut in range(len(window) - 1, -1, -1):  # negation stops at the clause boundary
            if window[cut] in _CLAUSE_END:
                window = window[cut + 1:]
                break
        negated = any(t in _NEGATORS for t in window) or (
            _NE_PLUS in tokens[position + 1:position + 3] and ne_seen_at >= position - 3
        ) or (
            # "ne fonctionne plus", "n'arrive pas": the negator follows the verb.
            ne_seen_at >= position - 2 and any(
                t in {"pas", "plus", "jamais", "rien"} for t in tokens[position + 1:position + 3]
            )
        )
        if word in _FUNCTION_WORDS and word not in _POSITIVE_WORDS and not negated:
            continue
        if negated:
            # A negated complaint ("not bad", "sans bug") is milder praise than the reverse.
            polarity = -polarity * (0.5 if polarity < 0 else 1.0)
        if any(t in _INTENSIFIERS for t in window):
            polarity *= 1.5
        if polarity > 0 and any(t in _REQUEST for t in tokens[max(0, position - 5):position]):
            polarity *= 0.2  # "it would be great to…", "ce serait top si…": a request
        total += polarity * weight_after_contrast
    exclamations = min(folded.count("!"), 3)
    if total:
        total *= 1 + 0.1 * exclamations
    return total / math.sqrt(total * total + 2.0)


# Anchor sentences: what typical negative, positive and neutral feedback says.
_ANCHORS = {
    NEGATIVE: [
        "This is broken and it is really frustrating",
        "It doesn't work anymore since the update",
        "Very disappointed, this is unacceptable",
        "The app keeps crashing and nobody helps us",
        "It is far too slow, we are wasting our time",
        "Ça ne marche plus depuis la mise à jour, c'est pénible",
        "Très déçu, c'est inadmissible",
        "L'application plante sans arrêt",
        "Impossible de travailler, tout est bloqué",
        "C'est beaucoup trop lent et compliqué",
    ],
    POSITIVE: [
        "I love this feature, great job",
        "Thank you, it works perfectly",
        "The team is very happy with the tool",
        "Excellent support, very quick answer",
        "Much better and easier to use now",
        "Super outil, merci à toute l'équipe",
        "Ça marche parfaitement, bravo",
        "Nous sommes très satisfaits",
        "Le support a été très réactif, merci",
        "C'est beaucoup plus simple et rapide maintenant",
    ],
    NEUTRAL: [
        "Could you add an export to CSV?",
        "How do I change my password?",
        "We use the tool for our monthly reports",
        "Is there an API for this?",
        "Please add a filter by date",
        "Pouvez-vous ajouter un export CSV ?",
        "Comment modifier mon mot de passe ?",
        "Nous utilisons l'outil pour nos rapports mensuels",
        "Existe-t-il une API pour cela ?",
        "Merci d'ajouter un filtre par date",
    ],
}
_anchor_cache: dict[tuple[str, int], dict[str, np.ndarray]] = {}
_anchor_lock = threading.Lock()


def _anchor_vectors(embedder) -> dict[str, np.ndarray]:
    key = (getattr(embedder, "name", type(embedder).__name__), id(embedder))
    with _anchor_lock:
        if key not in _anchor_cache:
            _anchor_cache[key] = {
                label: np.asarray(embedder.encode(sentences), dtype=np.float32)
                for label, sentences in _ANCHORS.items()
            }
        return _anchor_cache[key]


def anchor_scores(embeddings: np.ndarray, embedder=None) -> np.ndarray | None:
    """Per row, (similarity to positive anchors - to negative ones) mapped to [-1, 1]; None when
    the anchors cannot be embedded in the same space."""
    if embedder is None:
        from moulin.triage.engine.embedders import get_embedder

        embedder = get_embedder()
    anchors = _anchor_vectors(embedder)
    if anchors[POSITIVE].shape[1] != embeddings.shape[1]:
        return None

    def closeness(label: str) -> np.ndarray:
        sims = embeddings @ anchors[label].T
        top = np.sort(sims, axis=1)[:, -3:]  # the three most similar anchors
        return top.mean(axis=1)

    positive, negative, neutral = closeness(POSITIVE), closeness(NEGATIVE), closeness(NEUTRAL)
    raw = (positive - negative) / _ANCHOR_SCALE
    # Closer to the neutral anchors than to either opinion: shrink towards 0.
    raw = np.where(neutral > np.maximum(positive, negative), raw * 0.5, raw)
    return np.tanh(raw)


def sentiment(texts: Sequence[str], embeddings: np.ndarray | None = None, *,
              embedder=None) -> list[tuple[str, float]]:
    """(label, score in [-1, 1]) per text; an empty text is ("neutral", 0.0).

    With `embeddings` (rows of the texts, from `embedder` or the default embedder), the anchor
    similarity is blended with the lexicon; without, the lexicon alone decides."""
    lexicon = np.array([lexicon_score(text) for text in texts], dtype=np.float64)
    combined = lexicon
    if embeddings is not None and len(texts):
        vectors = np.asarray(embeddings, dtype=np.float32)
        if vectors.shape[0] != len(texts):
            raise ValueError(f"{len(texts)} texts for {vectors.shape[0]} embedding rows")
        anchors = anchor_scores(vectors, embedder)
        if anchors is not None:
            combined = LEXICON_WEIGHT * lexicon + ANCHOR_WEIGHT * anchors
    results = []
    for text, score in zip(texts, combined.tolist(), strict=True):
        if not (text or "").strip():
            results.append((NEUTRAL, 0.0))
            continue
        score = max(-1.0, min(1.0, score))
        label = NEUTRAL if abs(score) < NEUTRAL_BAND else (POSITIVE if score > 0 else NEGATIVE)
        results.append((label, round(score, 4)))
    return results
