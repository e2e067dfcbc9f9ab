"""Readable keywords for groups of short texts: class-based TF-IDF (no Django).

Each group's texts are pooled into one document; a term scores high when it is frequent in the
group and rare across groups (the "c-TF-IDF" of BERTopic): tf(t, group) / words(group) ·
log(1 + mean words per group / frequency of t over all groups). French and English stop words
(plus the commonest German, Spanish and Italian ones) are dropped; bigrams are kept when they
are frequent enough to beat their own words.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer

from moulin.triage.engine.text import without_accents

_ENGLISH = """
a about above after again against all also am an and any are aren't as at be because been before
being below between both but by can can't cannot could couldn't did didn't do does doesn't doing
don't down during each even ever every few for from further get gets getting got had hadn't has
hasn't have haven't having he her here hers herself him himself his how i i'd i'll i'm i've if in
into is isn't it it's its itself just let let's like make me more most much must my myself need
needs no nor not now of off on once only or other ought our ours ourselves out over own please
really same say see she should shouldn't since so some still such than thank thanks that that's
the their theirs them themselves then there there's these they they're this those through to too
try trying under until up us use used using very via want wanted was wasn't way we we're we've
were weren't what what's when where which while who whom why will with won't would wouldn't yes
yet you you'd you'll you're you've your yours yourself yourselves hi hello hey ok okay im dont
cant doesnt didnt isnt wont one two also able anyone someone something anything thing things
know think time day today yesterday always never lot lots bit
"""
_FRENCH = """
a à afin ai aie aient aies ait alors as au aucun aucune aujourd aujourd'hui auquel aura aurai
auraient aurais aurait auras aurez auriez aurions aurons auront aussi autre autres aux avaient
avais avait avant avec avez aviez avions avoir avons ayant bien bon bonjour bonsoir c ça car ce
ceci cela celle celles celui cependant ces cet cette ceux chaque chez ci comme comment d dans de
depuis des deux devrait dire dois doit donc dont du elle elles en encore est et étaient étais
était étant été êtes étiez étions être eu eue eues eûmes eurent eus eut eux faire fait fais
faut fois font hier ici il ils j je jamais jusqu l la là le les leur leurs lors lui m ma mais
me même mêmes merci mes moi mon n na ne ni non nos notre nous on ont ou où par parce pas peu
peut peuvent peux plus pour pourquoi pourrait quand que quel quelle quelles quels qu qui quoi
s sa sans se sera serait ses si sien son sont sous suis sur t ta te tes toi ton toujours tous
tout toute toutes très tu un une unes uns v vers veux voici voilà vos votre vous vu y
aujourdhui svp stp cordialement salut oui ok rien chose choses fois
"""
_OTHER = """
der die das und ist nicht ich sie wir es ein eine zu mit auf für von den dem im bitte danke
el la los las y es no que de en un una por para con se lo muy gracias
il lo gli di che non per una con sono grazie
"""


def _fold(word: str) -> str:
    return without_accents(word.lower())


STOP_WORDS = frozenset(
    _fold(word).replace("’", "'")
    for block in (_ENGLISH, _FRENCH, _OTHER)
    for word in block.split()
)

# Words of two letters or more, allowing inner apostrophes/hyphens ("e-mail", "don't").
_TOKEN = re.compile(r"(?u)\b\w[\w'’-]*\w\b")
_ELISION = re.compile(r"^(?:[cdjlmnst]|qu|jusqu|lorsqu|puisqu)['’]", re.IGNORECASE)


@functools.lru_cache(maxsize=65536)
def _word(raw: str) -> tuple[str, str] | None:
    """(accent-free, as written) forms of a lower-cased token; None for stop words, numbers."""
    displayed = _ELISION.sub("", raw).replace("’", "'")
    folded = _fold(displayed)
    if len(folded) < 2 or folded in STOP_WORDS or folded.isdigit():
        return None
    return folded, displayed


def _tokens(text: str) -> list[tuple[str, str]]:
    """Words without stop words, French elisions split off: (accent-free, as written) pairs."""
    return [word for raw in _TOKEN.findall(text.lower()) if (word := _word(raw)) is not None]


def _display_forms(groups: Sequence[Sequence[str]]) -> dict[str, str]:
    """Most frequent written form of each accent-free word ("credit" -> "crédit")."""
    counts: dict[str, dict[str, int]] = {}
    for texts in groups:
        for text in texts:
            for folded, displayed in _tokens(text):
                forms = counts.setdefault(folded, {})
                forms[displayed] = forms.get(displayed, 0) + 1
    return {folded: max(forms, key=forms.get) for folded, forms in counts.items()}


def group_keywords(groups: Sequence[Sequence[str]], *, top_n: int = 5, min_count: int = 2,
                   min_keywords: int = 3) -> list[list[str]]:
    """Top keywords (words or bigrams) per group of texts, best first, by class-based TF-IDF."""
    if not groups:
        return []
    # One "document" per group: the list of its texts (bigrams never span two texts).
    vectorizer = CountVectorizer(analyzer=_group_terms)
    try:
        counts = vectorizer.fit_transform([list(texts) for texts in groups])
    except ValueError:  # no term at all (only stop words, digits or symbols)
        return [[] for _ in groups]
    vocabulary = np.array(vectorizer.get_feature_names_out())
    bigram = np.array([" " in term for term in vocabulary.tolist()], dtype=bool)
    counts = counts.astype(np.float64).tocsr()
    words_per_group = np.asarray(counts.sum(axis=1)).ravel()
    term_frequency = np.asarray(counts.sum(axis=0)).ravel()
    idf = np.log1p(words_per_group.mean() / np.maximum(term_frequency, 1))
    forms = _display_forms(groups)

    results = []
    for row in range(counts.shape[0]):
        start, end = counts.indptr[row], counts.indptr[row + 1]
        terms, tf = counts.indices[start:end], counts.data[start:end]
        scores = tf / max(words_per_group[row], 1.0) * idf[terms]
        # A term seen once in a group says little about it (unless the group is tiny); a
        # bigram must always recur to be a phrase rather than an accident.
        is_bigram = bigram[terms]
        floor = min(min_count, max(1, len(groups[row]) // 3))
        enough = np.where(is_bigram, tf >= max(2, floor), tf >= floor)
        # Terms that recur first; single occurrences only top up a list that would be too short.
        ranked = np.concatenate([
            terms[enough][np.argsort(-scores[enough], kind="stable")],
            terms[~enough & ~is_bigram][np.argsort(-scores[~enough & ~is_bigram], kind="stable")],
        ])
        chosen: list[str] = []
        for position, term in enumerate(vocabulary[ranked].tolist()):
            if position >= enough.sum() and len(chosen) >= min_keywords:
                break
            parts = term.split(" ")
            # Skip a word already inside a chosen bigram, or a bigram repeating a word.
            if any(term in other.split(" ") for other in chosen if " " in other):
                continue
            if len(parts) == 2 and (
                parts[0] == parts[1] or any(set(parts) == set(c.split(" ")) for c in chosen)
            ):
                continue
            if len(parts) == 2:  # the bigram replaces its words already chosen
                chosen = [c for c in chosen if c not in parts]
            chosen.append(term)
            if len(chosen) >= top_n:
                break
        results.append([" ".join(forms.get(p, p) for p in term.split(" ")) for term in chosen])
    return results


def _group_terms(texts: Sequence[str]) -> list[str]:
    terms = []
    for text in texts:
        words = [folded for folded, _ in _tokens(text)]
        terms.extend(words)
        terms.extend(f"{a} {b}" for a, b in zip(words, words[1:], strict=False))
    return terms


def keyword_label(keywords: Sequence[str], *, size: int = 3) -> str:
    """A short readable label from keywords, e.g. "export · excel · csv"."""
    return " · ".join(keywords[:size])
