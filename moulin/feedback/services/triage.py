"""Triage: changing an item's status, importance, area and tags, one or many, with undo."""

from django.utils import timezone
from django.utils.translation import gettext as _

from moulin.accounts.models import Member
from moulin.core import parsing
from moulin.core.errors import DomainError
from moulin.customers.models import Customer
from moulin.feedback.models import (
    Feedback,
    FeedbackEvent,
    Importance,
    ProductArea,
    Status,
)
from moulin.feedback.services.intake import FeedbackWriter

# --- Triage -------------------------------------------------------------------------------------

def _event(feedback: Feedback, actor: Member | None, kind: str, changes: dict) -> FeedbackEvent:
    return FeedbackEvent.objects.create(feedback=feedback, actor=actor, kind=kind,
                                        changes=changes)


def feedback_update(*, actor: Member, feedback: Feedback, status: str | None = None,
                    importance: str | None = None, product_area: ProductArea | None | str = "",
                    title: str | None = None, tags: list[str] | None = None,
                    customer: Customer | None | str = "") -> FeedbackEvent | None:
    """Change triage fields; the change is recorded in history (and can be undone)."""
    if feedback.organisation_id != actor.organisation_id:
        raise DomainError(_("This feedback is not in your organisation."))
    before = {"status": feedback.status, "importance": feedback.importance,
              "product_area_id": feedback.product_area_id, "title": feedback.title,
              "customer_id": feedback.customer_id,
              "tags": sorted(feedback.tags.values_list("name", flat=True))}
    if status is not None:
        if status not in Status.values:
            raise DomainError(_("Unknown status “%s”.") % status, field="status")
        feedback.status = status
        if status != Status.NEW and feedback.triaged_at is None:
            feedback.triaged_at = timezone.now()
    if importance is not None:
        if importance not in Importance.values:
            raise DomainError(_("Unknown importance “%s”.") % importance, field="importance")
        feedback.importance = importance
    if product_area != "":
        if product_area is not None and product_area.organisation_id != actor.organisation_id:
            raise DomainError(_("Choose a product area of your organisation."),
                              field="product_area")
        feedback.product_area = product_area
    if customer != "":
        if customer is not None and customer.organisation_id != actor.organisation_id:
            raise DomainError(_("Choose a customer of your organisation."), field="customer")
        feedback.customer = customer
    if title is not None:
        feedback.title = parsing.clean_text(title)[:300]
    feedback.save()
    if tags is not None:
        writer = FeedbackWriter(feedback.organisation, actor)
        feedback.tags.set(writer.tag_ids([t[:60] for t in parsing.split_list(tags)]))
    after = {"status": feedback.status, "importance": feedback.importance,
             "product_area_id": feedback.product_area_id, "title": feedback.title,
             "customer_id": feedback.customer_id,
             "tags": sorted(feedback.tags.values_list("name", flat=True))}
    changes = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
    if not changes:
        return None
    return _event(feedback, actor, "updated", changes)


def feedback_undo(*, actor: Member, event: FeedbackEvent) -> FeedbackEvent | None:
    """Put back the values an 'updated' event changed (the inbox's undo)."""
    feedback = event.feedback
    if feedback.organisation_id != actor.organisation_id or event.kind != "updated":
        raise DomainError(_("This change cannot be undone."))
    old = {k: v[0] for k, v in event.changes.items() if isinstance(v, list) and len(v) == 2}
    area = ""
    if "product_area_id" in old:
        area = ProductArea.objects.filter(organisation_id=actor.organisation_id,
                                          pk=old["product_area_id"]).first()
    customer = ""
    if "customer_id" in old:
        customer = Customer.objects.filter(organisation_id=actor.organisation_id,
                                           pk=old["customer_id"]).first()
    return feedback_update(actor=actor, feedback=feedback, status=old.get("status"),
                           importance=old.get("importance"), product_area=area,
                           title=old.get("title"), tags=old.get("tags"), customer=customer)


BULK_ACTIONS = {"archive", "triage", "close", "reopen", "importance", "tag", "area"}


def feedback_bulk_action(*, actor: Member, items: list[Feedback], action: str,
                         value: str = "") -> list[FeedbackEvent]:
    """Apply one triage action to many items; returns the events (for undo)."""
    if action not in BULK_ACTIONS:
        raise DomainError(_("Unknown action “%s”.") % action, field="action")
    area = None
    if action == "area":
        area = ProductArea.objects.filter(organisation_id=actor.organisation_id,
                                          pk=parsing.parse_id(value) or 0).first()
        if area is None:  # never "no area" by mistake: an unknown id changes nothing
            raise DomainError(_("Choose a product area of your organisation."),
                              field="product_area")
    events = []
    for item in items:
        kwargs: dict = {}
        if action == "archive":
            kwargs["status"] = Status.ARCHIVED
        elif action == "triage":
            kwargs["status"] = Status.TRIAGED
        elif action == "close":
            kwargs["status"] = Status.CLOSED
        elif action == "reopen":
            kwargs["status"] = Status.NEW
        elif action == "importance":
            kwargs["importance"] = value
        elif action == "tag":
            current = list(item.tags.values_list("name", flat=True))
            kwargs["tags"] = [*current, value] if value else current
        elif action == "area":
            kwargs["product_area"] = area
        event = feedback_update(actor=actor, feedback=item, **kwargs)
        if event:
            events.append(event)
    return events


def feedback_bulk_undo(*, actor: Member, events: list[FeedbackEvent]) -> list[FeedbackEvent]:
    """Undo several changes (one inbox action on many items), newest first."""
    undone = []
    for event in sorted(events, key=lambda e: e.pk, reverse=True):
        result = feedback_undo(actor=actor, event=event)
        if result:
            undone.append(result)
    return undone
