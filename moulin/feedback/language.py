"""Offline language guess for feedback: French, English or other.

A stop-word vote: fast (microseconds), no model, right on the sentences product teams receive.
The triage module may replace it with a learned detector; the interface stays ``detect_language``.
"""

import re

FRENCH = frozenset(
    "le la les un une des du de d l et est sont pas ne que qui pour dans sur avec nous vous "
    "ils elle il je j on ce cette ces au aux mais ou où très plus peut faire fait être avoir "
    "notre votre leur leurs mon ma mes ton sa son ses quand comme aussi tout tous toutes "
    "bonjour merci serait pourrait faudrait souhaitons aimerions impossible fonctionne "
    "problème n c s qu y en".split()
)
ENGLISH = frozenset(
    "the a an and is are not that which who for in on with we you they he she it i this "
    "these those to of at but or very more can could would should be have has do does did "
    "our your their my when as also all hello thanks please want need would like doesn't "
    "don't can't cannot issue working".split()
)
WORD = re.compile(r"[a-zA-ZÀ-ÿ']+")
ACCENTS = frozenset("éèêàùçôîâœ")


def detect_language(text: str) -> str:
    """'fr', 'en' or 'other' for ``text`` (its first 600 characters are enough)."""
    head = text[:600].lower()
    words = [w for part in WORD.findall(head) for w in part.split("'") if w]
    if not words:
        return "other"
    french = sum(map(FRENCH.__contains__, words))
    english = sum(map(ENGLISH.__contains__, words))
    french += min(sum(map(ACCENTS.__contains__, head)), 3) * 0.5
    if max(french, english) < 1:
        return "other"
    if french > english:
        return "fr"
    if english > french:
        return "en"
    return "other"
