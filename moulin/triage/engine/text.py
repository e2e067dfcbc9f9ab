"""Text preparation shared by the embedders and the classifier's word features (no Django)."""

from __future__ import annotations

import re
import unicodedata

# Both models read the start of a text: a feedback item's theme shows in its first lines, and
# the pure-Python tokenizer of the default embedder costs time in proportion to the length.
MAX_EMBEDDED_CHARACTERS = 4000
MAX_FEATURE_CHARACTERS = 4000

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SEPARATORS = re.compile(r"[\W_]+")


def _as_text(value: object) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def clean_for_embedding(value: object) -> str:
    """The start of the text, without control characters and lone surrogates."""
    text = _as_text(value)[:MAX_EMBEDDED_CHARACTERS]
    text = _CONTROL.sub(" ", text)
    # Lone surrogates (broken emoji from some exports) cannot be encoded: replace them.
    return text.encode("utf-8", "replace").decode("utf-8")


def without_accents(text: str) -> str:
    """The text with its accents and other combining marks removed: "Réclamé" -> "Reclame"."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def clean_for_features(value: object) -> str:
    """Lower-cased, accent-free start of the text: "Réclamation" and "reclamation" match."""
    return without_accents(clean_for_embedding(_as_text(value)[:MAX_FEATURE_CHARACTERS]).lower())


def label_as_text(label: str) -> str:
    """A label written as words: "card_arrival" -> "card arrival"."""
    return _SEPARATORS.sub(" ", label).strip()
