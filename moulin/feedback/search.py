"""Full-text search over feedback, on SQLite (FTS5) and PostgreSQL (tsvector), and highlighting.

User input never reaches the query syntax: it is split into words, each word quoted (FTS5) or
passed to ``websearch_to_tsquery`` (PostgreSQL), so any text is a valid search.
"""

from __future__ import annotations

import re
import unicodedata

from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WORD = re.compile(r"\w+", re.UNICODE)
MAX_TERMS = 12


def terms(query: str) -> list[str]:
    """The words of a search, at most MAX_TERMS, each at least 2 characters."""
    return [w for w in WORD.findall(query.lower()) if len(w) >= 2][:MAX_TERMS]


def apply_search(queryset: QuerySet, query: str) -> QuerySet:
    """Keep the rows matching every word of ``query`` (prefix match on SQLite; French and
    English stemming on PostgreSQL)."""
    words = terms(query)
    if not words:
        return queryset
    if connection.vendor == "postgresql":
        # Words are stemmed and unaccented by each language's configuration (a row matches in
        # any of them); the last word is also a prefix, as the person may still be typing it
        # ("synchro" finds "synchronisation"). Prefixes on every word would make the index
        # scan several times slower on common words. Words are \w+ only, so the tsquery text
        # cannot carry operators.
        text = " & ".join([*words[:-1], f"{words[-1]}:*"])
        return queryset.extra(where=[
            "feedback_feedback.search_vector @@ (to_tsquery('moulin_french', %s) || "
            "to_tsquery('moulin_english', %s) || to_tsquery('moulin_simple', %s))"],
            params=[text, text, text])
    if connection.vendor == "sqlite":
        match = " AND ".join(f'"{w}"*' for w in words)
        return queryset.filter(id__in=RawSQL(
            "SELECT rowid FROM feedback_fts WHERE feedback_fts MATCH %s", (match,)))
    condition = None
    for word in words:
        part = Q(text__icontains=word) | Q(title__icontains=word)
        condition = part if condition is None else condition & part
    return queryset.filter(condition)


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text.lower())
                   if unicodedata.category(c) != "Mn")


def highlight(text: str, query: str, *, limit: int | None = 400) -> SafeString:
    """HTML-escaped ``text`` (cut around the first match when ``limit``), with the words that
    start like a search term wrapped in <mark>. Accent-insensitive."""
    words = [_fold(w)[:max(3, len(w) - 2)] for w in terms(query)]
    if limit and len(text) > limit:
        start = 0
        folded = _fold(text)
        positions = [folded.find(w) for w in words if w and folded.find(w) >= 0]
        if positions:
            start = max(0, min(positions) - limit // 4)
        snippet = text[start:start + limit]
        text = ("…" if start else "") + snippet + ("…" if start + limit < len(text) else "")
    if not words:
        return escape(text)
    out, last = [], 0
    for match in WORD.finditer(text):
        folded = _fold(match.group())
        if any(folded.startswith(w) for w in words if w):
            out.append(escape(text[last:match.start()]))
            out.append(f"<mark>{escape(match.group())}</mark>")
            last = match.end()
    out.append(escape(text[last:]))
    return mark_safe("".join(out))  # noqa: S308 - every piece above is escaped
