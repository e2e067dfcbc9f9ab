"""What people decide about an item's themes: accept a suggestion, correct it with another
theme, remove a theme, say "unknown — possible new theme", or dismiss the suggestions.

Every decision is a label the next model learns from (counted towards ``retrain_after``),
marks the item as reviewed (a re-analysis never overrides it), and is written to the item's
history. The model's automatic guess is replaced by the person's choice.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from moulin.accounts.models import Member
from moulin.core.errors import DomainError
from moulin.feedback.models import Feedback, FeedbackEvent
from moulin.triage.models import FeedbackAnalysis, FeedbackTheme, Origin, Outcome, Theme
from moulin.triage.services.analysis import feedback_analyse
from moulin.triage.services.taxonomy import suggestions_shown, theme_resolve, themes_by_id
from moulin.triage.services.training import labels_counted


def _check(actor: Member, feedback: Feedback) -> None:
    if feedback.organisation_id != actor.organisation_id:
        raise DomainError(_("This feedback is not in your organisation."))


def _theme_names(feedback: Feedback) -> list[str]:
    return sorted(FeedbackTheme.objects.filter(feedback=feedback)
                  .values_list("theme__name_en", flat=True))


def _analysis(feedback: Feedback) -> FeedbackAnalysis | None:
    analysis = FeedbackAnalysis.objects.filter(feedback=feedback).defer("vector").first()
    if analysis is None:  # not analysed yet (queued): do it now, it takes milliseconds
        feedback_analyse(organisation_id=feedback.organisation_id, ids=[feedback.pk])
        analysis = FeedbackAnalysis.objects.filter(feedback=feedback).defer("vector").first()
    return analysis


def _reviewed(actor: Member, feedback: Feedback, outcome: str, *, decided: bool = True) -> None:
    """Set the item's outcome; ``decided`` False puts it back to review (no reviewer)."""
    analysis = _analysis(feedback)
    if analysis is not None:
        FeedbackAnalysis.objects.filter(pk=analysis.pk).update(
            outcome=outcome, reviewed_at=timezone.now() if decided else None,
            reviewed_by=actor if decided else None)


def _remember_removed(feedback: Feedback, *, add: int | None = None,
                      drop: int | None = None) -> None:
    """Keep the item's list of themes a person took off it (never re-applied automatically,
    e.g. when a retraining refreshes its suggestions); applying one by hand drops it."""
    analysis = FeedbackAnalysis.objects.select_for_update().filter(
        feedback=feedback).only("removed_themes").first()
    if analysis is None:
        return
    removed = [pk for pk in (analysis.removed_themes or []) if pk not in (add, drop)]
    if add is not None:
        removed.append(add)
    if removed != (analysis.removed_themes or []):
        FeedbackAnalysis.objects.filter(pk=analysis.pk).update(removed_themes=removed)


def _history(actor: Member, feedback: Feedback, before: list[str], after: list[str],
             kind: str = "themes") -> None:
    if before != after:
        FeedbackEvent.objects.create(feedback=feedback, actor=actor, kind=kind,
                                     changes={"themes": [before, after]})


def feedback_theme_apply(*, actor: Member, feedback: Feedback, theme: Theme,
                         origin: str = Origin.MANUAL, confidence: float | None = None
                         ) -> FeedbackTheme:
    """Put ``feedback`` under ``theme`` (a person's choice); the model's guess goes away."""
    _check(actor, feedback)
    if theme.organisation_id != actor.organisation_id:
        raise DomainError(_("Choose a theme of your organisation."), field="theme")
    target = theme_resolve(theme.pk, themes_by_id(organisation_id=actor.organisation_id)) \
        or theme
    if target.archived_at is not None:
        raise DomainError(_("“%s” is archived: restore it or choose another theme.")
                          % target.name, field="theme")
    with transaction.atomic():
        before = _theme_names(feedback)
        FeedbackTheme.objects.filter(feedback=feedback, origin=Origin.AUTOMATIC).exclude(
            theme=target).delete()
        link, created = FeedbackTheme.objects.get_or_create(
            feedback=feedback, theme=target,
            defaults={"organisation_id": actor.organisation_id, "origin": origin,
                      "confidence": confidence, "applied_by": actor})
        confirmed = not created and (link.origin == Origin.AUTOMATIC
                                     or link.applied_by_id is None)
        if confirmed:
            link.origin, link.applied_by = origin, actor
            link.save(update_fields=["origin", "applied_by"])
        _reviewed(actor, feedback, Outcome.REVIEWED)
        _remember_removed(feedback, drop=target.pk)
        _history(actor, feedback, before, _theme_names(feedback))
        if created or confirmed:  # a new label; the same decision twice teaches nothing new
            labels_counted(organisation=actor.organisation_id, actor=actor)
    return link


def suggestion_accept(*, actor: Member, feedback: Feedback, rank: int = 1) -> FeedbackTheme:
    """Accept the ``rank``-th suggestion (1 = the top one) as the item's page, the inbox and
    the API number them (``suggestions_shown``): one keystroke in the inbox."""
    _check(actor, feedback)
    if not isinstance(rank, int) or isinstance(rank, bool) or rank < 1:
        raise DomainError(_("Choose suggestion 1, 2 or 3."), field="rank")
    analysis = _analysis(feedback)
    suggestions = suggestions_shown(analysis.suggestions if analysis is not None else None,
                                    themes_by_id(organisation_id=actor.organisation_id))
    if rank > len(suggestions):
        if not suggestions:
            raise DomainError(_("There is no suggestion for this item: choose a theme."),
                              field="rank")
        raise DomainError(ngettext("There is only %(n)d suggestion for this item.",
                                   "There are only %(n)d suggestions for this item.",
                                   len(suggestions)) % {"n": len(suggestions)},
                          field="rank")
    theme, confidence = suggestions[rank - 1]
    return feedback_theme_apply(actor=actor, feedback=feedback, theme=theme,
                                origin=Origin.ACCEPTED, confidence=confidence)


def feedback_theme_remove(*, actor: Member, feedback: Feedback, theme: Theme) -> bool:
    """Take a theme off an item (a no-op when it was not there); True when one was removed.
    A merged theme stands for the theme it went into (its links moved there), as when
    applying it."""
    _check(actor, feedback)
    theme = theme_resolve(theme.pk, themes_by_id(organisation_id=actor.organisation_id)) \
        or theme
    with transaction.atomic():
        before = _theme_names(feedback)
        removed, _detail = FeedbackTheme.objects.filter(feedback=feedback, theme=theme).delete()
        if removed:
            _remember_removed(feedback, add=theme.pk)
            left = FeedbackTheme.objects.filter(feedback=feedback).exists()
            # nothing decided any more without a theme: the item goes back to review
            _reviewed(actor, feedback, Outcome.REVIEWED if left else Outcome.SUGGESTED,
                      decided=left)
            _history(actor, feedback, before, _theme_names(feedback))
    return bool(removed)


def feedback_mark_unknown(*, actor: Member, feedback: Feedback) -> None:
    """No theme fits: "unknown — possible new theme" (emerging themes start from these)."""
    _check(actor, feedback)
    with transaction.atomic():
        if FeedbackAnalysis.objects.select_for_update().filter(
                feedback=feedback, outcome=Outcome.UNKNOWN, reviewed_at__isnull=False).exists():
            return  # already said (a double press, a retried call): one decision, one line
        before = _theme_names(feedback)
        FeedbackTheme.objects.filter(feedback=feedback, origin=Origin.AUTOMATIC).delete()
        _reviewed(actor, feedback, Outcome.UNKNOWN)
        _history(actor, feedback, before, [*_theme_names(feedback), str(_("unknown"))])


def suggestion_dismiss(*, actor: Member, feedback: Feedback) -> None:
    """The suggestions are wrong and no theme is needed: reviewed, without a theme."""
    _check(actor, feedback)
    with transaction.atomic():
        before = _theme_names(feedback)
        FeedbackTheme.objects.filter(feedback=feedback, origin=Origin.AUTOMATIC).delete()
        _reviewed(actor, feedback, Outcome.REVIEWED)
        _history(actor, feedback, before, _theme_names(feedback))
