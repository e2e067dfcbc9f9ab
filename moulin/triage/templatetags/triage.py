"""Template tags that put the triage intelligence on the feedback hub's pages.

The feedback app sits below triage and cannot import it; its templates include
``triage/_*.html`` fragments that load these tags. Theme names are read once per request.
"""

from __future__ import annotations

from django import template
from django.core.exceptions import ObjectDoesNotExist
from django.utils import formats
from django.utils.translation import gettext as _

from moulin.core import policy
from moulin.core.forms import select_options
from moulin.core.policy import Action
from moulin.feedback.selectors import SENTIMENTS, TRIAGE_OUTCOMES
from moulin.triage import selectors
from moulin.triage.models import Outcome, Sentiment

register = template.Library()
MODULE = "feedback"


def _member(context):
    request = context.get("request")
    return getattr(request, "member", None), request


def _themes(request, member) -> dict:
    cached = getattr(request, "_triage_themes", None)
    if cached is None:
        cached = selectors.themes_by_id(organisation_id=member.organisation_id)
        request._triage_themes = cached
    return cached


@register.inclusion_tag("triage/_triage_panel.html", takes_context=True)
def triage_panel(context, item):
    """The feedback page's themes card: applied themes, suggestions, decisions."""
    member, request = _member(context)
    if member is None or not policy.can(member, MODULE, Action.VIEW):
        return {"hidden": True}
    return {"item": item, "request": request, "csrf_token": context.get("csrf_token"),
            "triage": selectors.feedback_triage(member=member, feedback=item,
                                                themes=_themes(request, member)),
            "can_decide": policy.can(member, MODULE, Action.CHANGE)}


@register.inclusion_tag("triage/_row_triage.html", takes_context=True)
def triage_row(context, item):
    """An inbox row's themes, suggestions and sentiment (from what the inbox prefetched)."""
    member, request = _member(context)
    if member is None:
        return {"hidden": True}
    try:
        analysis = item.analysis
    except ObjectDoesNotExist:
        analysis = None
    triage = selectors.feedback_triage(member=member, feedback=item,
                                       themes=_themes(request, member), analysis=analysis,
                                       links=list(item.theme_links.all()))
    return {"item": item, "triage": triage, "can_triage": context.get("can_triage")}


@register.inclusion_tag("triage/_inbox_filter_selects.html", takes_context=True)
def triage_filters(context):
    """The inbox's theme, suggestion-outcome and sentiment filters."""
    member, request = _member(context)
    filters = context.get("filters")
    errors = context.get("errors") or {}

    themes = selectors.theme_choices(member=member, include_archived=True) if member else []
    theme_choices = [(t.pk, f"{t.name} ({t.product_area.name})" if t.product_area else t.name)
                     if t.archived_at is None else (t.pk, _("%s (archived)") % t.name)
                     for t in themes]
    outcome_labels = dict(Outcome.choices)
    sentiment_labels = dict(Sentiment.choices)
    return {
        "theme": select_options(theme_choices, getattr(filters, "theme", []), _("Any theme")),
        "outcome": select_options([(v, outcome_labels[v]) for v in TRIAGE_OUTCOMES],
                                  getattr(filters, "outcome", []), _("Any review state")),
        "sentiment": select_options([(v, sentiment_labels[v]) for v in SENTIMENTS],
                                    getattr(filters, "sentiment", []), _("Any sentiment")),
        "errors": errors,
    }


@register.inclusion_tag("triage/_theme_picker.html", takes_context=True)
def theme_picker(context):
    """The dialog that ``t``/``c`` opens to put the focused item under any theme."""
    member, request = _member(context)
    can = member is not None and policy.can(member, MODULE, Action.CHANGE)
    return {"can_decide": can,
            "themes": selectors.theme_choices(member=member) if can else []}


@register.filter
def percent(fraction, decimals=0) -> str:
    """A confidence or threshold stored as a fraction, as the pages show it: 0.853 -> "85"
    (rounded like the suggestions' percentages). With `percent:1`, 0.925 -> "92.5" ("92,5"
    in French) and 0.85 -> "85": a tenth only when it matters. Empty for a missing value."""
    if fraction is None or fraction == "":
        return ""
    value = round(float(fraction) * 100, int(decimals))
    return str(int(value)) if value == int(value) else formats.number_format(value)
