"""Triage pages: an item's theme suggestions, and the one-keystroke decisions on them
(accept the n-th suggestion, correct with another theme, remove a theme, unknown, dismiss).

The feedback page shows the panel (``triage/_triage_panel.html``); the inbox shows the same
decisions on each row. A decision from the inbox answers the changed row (swapped out of band)
and a toast, like the inbox's own triage actions; from the feedback page, the updated panel.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from moulin.core import parsing, policy
from moulin.core.errors import DomainError
from moulin.core.policy import Action
from moulin.core.views import render_form
from moulin.feedback import selectors as feedback_selectors
from moulin.feedback.selectors import FeedbackFilters
from moulin.triage import selectors, services

MODULE = "feedback"
DECISIONS = {"accept", "apply", "remove", "unknown", "dismiss"}


def panel_context(request: HttpRequest, item, *, message: str = "", error: bool = False
                  ) -> dict:
    """What ``triage/_triage_panel.html`` needs (also used by the template tag)."""
    member = request.member
    return {"item": item, "triage": selectors.feedback_triage(member=member, feedback=item),
            "can_decide": policy.can(member, MODULE, Action.CHANGE),
            "message": message, "error": error}


@policy.requires(MODULE, Action.VIEW)
def feedback_themes(request: HttpRequest, pk: int) -> HttpResponse:
    """The triage panel of one item (polled while the item is being analysed)."""
    item = feedback_selectors.feedback_get(member=request.member, pk=pk)  # 404 first
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    return render_form(request, "triage/_triage_panel.html", panel_context(request, item))


def _decide(request: HttpRequest, item) -> str:
    """Run the decision the form names; returns the confirmation message."""
    member = request.member
    decision = request.POST.get("decision", "")
    if decision not in DECISIONS:
        raise DomainError(_("Unknown decision: accept, apply, remove, unknown or dismiss."),
                          field="decision")
    if decision == "accept":
        rank = parsing.parse_id(request.POST.get("rank") or "1")
        link = services.suggestion_accept(actor=member, feedback=item, rank=rank or 0)
        return _("Theme “%s” applied.") % link.theme.name
    if decision in ("apply", "remove"):
        theme_id = parsing.parse_id(request.POST.get("theme") or "")
        if theme_id is None:
            raise DomainError(_("Choose a theme."), field="theme")
        theme = selectors.theme_get(member=member, pk=theme_id)
        if decision == "apply":
            services.feedback_theme_apply(actor=member, feedback=item, theme=theme)
            return _("Theme “%s” applied.") % theme.name
        services.feedback_theme_remove(actor=member, feedback=item, theme=theme)
        return _("Theme “%s” removed.") % theme.name
    if decision == "unknown":
        services.feedback_mark_unknown(actor=member, feedback=item)
        return _("Marked “unknown — possible new theme”.")
    services.suggestion_dismiss(actor=member, feedback=item)
    return _("Suggestions dismissed.")


def _inbox_answer(request: HttpRequest, item_id: int, message: str, *, error: bool = False
                  ) -> HttpResponse:
    """The inbox row, swapped in place, and the toast (the inbox's own answer format)."""
    rows = []
    if not error:
        rows = list(feedback_selectors.feedback_list(member=request.member,
                                                     filters=FeedbackFilters())
                    .filter(pk=item_id))
        for row in rows:
            row.title_html = row.title
            row.excerpt_html = row.text[:260] + ("…" if len(row.text) > 260 else "")
    return render_form(request, "feedback/_triage_result.html",
                       {"rows": rows, "message": message, "error": error, "can_triage": True,
                        "oob": True}, invalid=error)


@policy.requires(MODULE, Action.CHANGE)
@require_POST
def feedback_theme_decide(request: HttpRequest, pk: int) -> HttpResponse:
    """Accept, correct, remove, "unknown" or dismiss: one keystroke in the inbox."""
    member = request.member
    item = feedback_selectors.feedback_get(member=member, pk=pk, action=Action.CHANGE)
    from_inbox = request.POST.get("from") == "inbox"
    try:
        message = _decide(request, item)
    except DomainError as error:
        if from_inbox:
            return _inbox_answer(request, item.pk, error.message, error=True)
        if not request.htmx:
            messages.error(request, error.message)
            return redirect("feedback:detail", pk=item.pk)
        return render_form(request, "triage/_triage_panel.html",
                           panel_context(request, item, message=error.message, error=True),
                           invalid=True)
    if from_inbox:
        return _inbox_answer(request, item.pk, message)
    if not request.htmx:
        messages.success(request, message)
        return redirect("feedback:detail", pk=item.pk)
    return render_form(request, "triage/_triage_panel.html",
                       panel_context(request, item, message=message))
