"""Linking feedback to features: one item or many, from the inbox, the feedback page, the
feature page, a whole theme or an emerging cluster. Each change recomputes the feature's demand
(and so its score) in SQL."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from moulin.accounts.models import Member
from moulin.core.errors import DomainError
from moulin.features.models import Feature, FeatureEvent, FeedbackLink, LinkOrigin
from moulin.feedback.models import Feedback, FeedbackEvent, Importance, Status

MAX_LINK_BATCH = 20_000
_EVENT_IDS = 200  # feedback ids kept in one history event (the count is always exact)


@dataclass(frozen=True)
class LinkResult:
    created: int
    updated: int
    unchanged: int

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


def _check(actor: Member, feature: Feature) -> None:
    if feature.organisation_id != actor.organisation_id:
        raise DomainError(_("This feature is not in your organisation."))


def feature_link_feedback(*, actor: Member, feature: Feature,
                          feedback_items: Iterable[Feedback], importance: str | None = None,
                          origin: str = LinkOrigin.MANUAL) -> LinkResult:
    """Link items to a feature. ``importance`` applies to every link (and updates existing
    ones); without it a new link takes the item's own importance. New items marked ``new`` or
    ``triaged`` become ``linked`` (recorded in their history)."""
    _check(actor, feature)
    if importance is not None and importance not in Importance.values:
        raise DomainError(_("Unknown importance “%s”.") % importance, field="importance")
    if origin not in LinkOrigin.values:
        raise DomainError(_("Unknown link origin “%s”.") % origin, field="origin")
    items = {item.pk: item for item in feedback_items}
    if not items:
        raise DomainError(_("Choose at least one feedback item to link."), field="feedback")
    if len(items) > MAX_LINK_BATCH:
        raise DomainError(_("Link at most %d items at once.") % MAX_LINK_BATCH,
                          field="feedback")
    if any(item.organisation_id != actor.organisation_id for item in items.values()):
        raise DomainError(_("Choose feedback of your organisation."), field="feedback")
    with transaction.atomic():
        existing = {link.feedback_id: link for link in
                    FeedbackLink.objects.filter(feature=feature, feedback_id__in=list(items))}
        new = [FeedbackLink(organisation_id=feature.organisation_id, feature=feature,
                            feedback_id=pk, importance=importance or item.importance,
                            origin=origin, created_by=actor)
               for pk, item in items.items() if pk not in existing]
        FeedbackLink.objects.bulk_create(new, batch_size=1000, ignore_conflicts=True)
        changed = [link for link in existing.values()
                   if importance is not None and link.importance != importance]
        if changed:
            FeedbackLink.objects.filter(pk__in=[link.pk for link in changed]).update(
                importance=importance)
        new_ids = [link.feedback_id for link in new]
        if new_ids:
            _mark_linked(actor, feature, new_ids)
        if new or changed:
            FeatureEvent.objects.create(
                feature=feature, actor=actor, kind="linked",
                changes={"feedback": new_ids[:_EVENT_IDS], "count": len(new_ids),
                         "importance_changed": len(changed), "importance": importance,
                         "origin": origin})
            _refresh(feature)
    return LinkResult(len(new), len(changed), len(items) - len(new) - len(changed))


def _mark_linked(actor: Member, feature: Feature, feedback_ids: list[int]) -> None:
    """Items still waiting in the inbox become ``linked``, with a line in their history."""
    waiting = list(Feedback.objects.filter(pk__in=feedback_ids,
                                           status__in=[Status.NEW, Status.TRIAGED])
                   .values_list("pk", "status"))
    if not waiting:
        return
    Feedback.objects.filter(pk__in=[pk for pk, _status in waiting]).update(
        status=Status.LINKED, triaged_at=Coalesce("triaged_at", timezone.now()),
        updated_at=timezone.now())
    FeedbackEvent.objects.bulk_create([
        FeedbackEvent(feedback_id=pk, actor=actor, kind="linked",
                      changes={"status": [status, Status.LINKED], "feature": feature.title})
        for pk, status in waiting], batch_size=1000)


def feature_unlink_feedback(*, actor: Member, feature: Feature,
                            feedback_items: Iterable[Feedback]) -> int:
    """Remove links; an item left without any feature goes back from ``linked`` to
    ``triaged``. Returns the number of links removed."""
    _check(actor, feature)
    ids = [item.pk for item in feedback_items]
    with transaction.atomic():
        removed, _detail = FeedbackLink.objects.filter(feature=feature,
                                                       feedback_id__in=ids).delete()
        if not removed:
            return 0
        orphans = list(Feedback.objects.filter(pk__in=ids, status=Status.LINKED)
                       .exclude(feature_links__isnull=False).values_list("pk", flat=True))
        if orphans:
            Feedback.objects.filter(pk__in=orphans).update(status=Status.TRIAGED,
                                                           updated_at=timezone.now())
            FeedbackEvent.objects.bulk_create([
                FeedbackEvent(feedback_id=pk, actor=actor, kind="unlinked",
                              changes={"status": [Status.LINKED, Status.TRIAGED],
                                       "feature": feature.title}) for pk in orphans])
        FeatureEvent.objects.create(feature=feature, actor=actor, kind="unlinked",
                                    changes={"feedback": ids[:_EVENT_IDS], "count": removed})
        _refresh(feature)
    return removed


def feature_link_set_importance(*, actor: Member, link: FeedbackLink,
                                importance: str) -> FeedbackLink:
    """Change how important one linked item is for this feature."""
    if link.organisation_id != actor.organisation_id:
        raise DomainError(_("This link is not in your organisation."))
    if importance not in Importance.values:
        raise DomainError(_("Unknown importance “%s”.") % importance, field="importance")
    if link.importance != importance:
        before, link.importance = link.importance, importance
        link.save(update_fields=["importance"])
        FeatureEvent.objects.create(feature=link.feature, actor=actor, kind="importance",
                                    changes={"feedback": link.feedback_id,
                                             "importance": [before, importance]})
    return link


def feature_link_theme(*, actor: Member, feature: Feature, theme: object,
                       importance: str | None = None) -> LinkResult:
    """Link every item of a triage theme (and of the themes merged into it) to a feature."""
    from moulin.triage.models import FeedbackTheme

    if theme.organisation_id != actor.organisation_id:
        raise DomainError(_("Choose a theme of your organisation."), field="theme")
    theme_ids = [theme.pk, *theme.merged_themes.values_list("pk", flat=True)]
    items = Feedback.objects.filter(
        pk__in=FeedbackTheme.objects.filter(theme_id__in=theme_ids).values("feedback_id"),
        organisation_id=actor.organisation_id)
    return _bulk(actor, feature, items, importance,
                 _("The theme “%s” has no feedback to link.") % theme)


def feature_link_cluster(*, actor: Member, feature: Feature, cluster: object,
                         importance: str | None = None) -> LinkResult:
    """Link every item of an emerging cluster to a feature."""
    if cluster.organisation_id != actor.organisation_id:
        raise DomainError(_("Choose an emerging theme of your organisation."), field="cluster")
    items = cluster.items.filter(organisation_id=actor.organisation_id)
    return _bulk(actor, feature, items, importance,
                 _("The emerging theme “%s” has no feedback to link.") % cluster)


def _bulk(actor: Member, feature: Feature, items, importance: str | None,
          empty_message: str) -> LinkResult:
    """Link ``items``; ``empty_message`` (a whole sentence) is the error when there are none."""
    items = list(items.only("pk", "organisation_id", "importance"))
    if not items:
        raise DomainError(empty_message)
    return feature_link_feedback(actor=actor, feature=feature, feedback_items=items,
                                 importance=importance, origin=LinkOrigin.BULK)


def _refresh(feature: Feature) -> None:
    from moulin.features.services.demand import demand_recompute

    demand_recompute(organisation_id=feature.organisation_id, feature_ids=[feature.pk])

