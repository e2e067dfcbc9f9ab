"""Readable rendering of an audit entry's changes: "role: viewer → admin"."""

from django import template
from django.utils.html import format_html, format_html_join

register = template.Library()


def _value(value: object) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(_value(v) for v in value) or "—"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_value(v)}" for k, v in value.items())
    if value in (None, ""):
        return "—"
    return str(value)


@register.filter
def audit_changes(changes: object) -> str:
    """One line per changed field; a [before, after] pair reads as "before → after"."""
    if not isinstance(changes, dict) or not changes:
        return ""
    rows = []
    for key, value in changes.items():
        if isinstance(value, list) and len(value) == 2:
            rows.append((key, f"{_value(value[0])} → {_value(value[1])}"))
        else:
            rows.append((key, _value(value)))
    return format_html('<dl class="changes">{}</dl>', format_html_join(
        "", "<dt>{}</dt><dd>{}</dd>", rows))
