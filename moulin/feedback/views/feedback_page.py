"""The page of one feedback item: the verbatim, its customer and contact, the same customer's
other feedback, its history, and its triage fields (edited in place with htmx)."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.utils import formats, timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from moulin.core import policy
from moulin.core.errors import DomainError
from moulin.core.policy import Action
from moulin.core.views import render_form
from moulin.feedback import selectors, services
from moulin.feedback.forms import FeedbackTriageForm
from moulin.feedback.models import Feedback

MODULE = "feedback"
FIELD_LABELS = {
    "status": gettext_lazy("Status"), "importance": gettext_lazy("Importance"),
    "product_area_id": gettext_lazy("Product area"), "title": gettext_lazy("Title"),
    "tags": gettext_lazy("Tags"), "customer_id": gettext_lazy("Customer"),
    "source": gettext_lazy("Source"), "via": gettext_lazy("Updated through"),
    # what an update from the source changed (services/intake.py)
    "text": gettext_lazy("Verbatim"), "received_at": gettext_lazy("Date"),
    "contact_id": gettext_lazy("Contact"), "language": gettext_lazy("Language"),
    "links": capfirst(Feedback._meta.get_field("links").verbose_name),
    "attachments": capfirst(Feedback._meta.get_field("attachments").verbose_name),
    "personal_data": gettext_lazy("Personal data"),
    "themes": gettext_lazy("Themes"),  # set by the triage intelligence
    "feature": gettext_lazy("Feature"),  # linked from moulin/features
    # duplicates merged by the triage intelligence (moulin/triage/services/duplicates.py)
    "merged_into": gettext_lazy("Merged into"), "merged_from": gettext_lazy("Duplicate merged in"),
    "unmerged": gettext_lazy("Duplicate separated"), "moved": gettext_lazy("Its duplicates moved"),
}
# History values that are feedback ids, shown as "#123".
FEEDBACK_ID_FIELDS = {"merged_into", "merged_from", "unmerged", "moved"}


def _safe_url(value: object) -> str:
    """A link from a payload, only if it is http(s): never ``javascript:`` or ``data:``."""
    text = str(value or "").strip()
    return text if urlsplit(text).scheme in {"http", "https"} else ""


def _links(item: Feedback) -> list[dict]:
    links = item.links if isinstance(item.links, list) else []
    return [{"text": str(link)[:300], "url": _safe_url(link)} for link in links[:100]]


def _attachments(item: Feedback) -> list[dict]:
    out = []
    for attachment in (item.attachments if isinstance(item.attachments, list) else [])[:100]:
        if isinstance(attachment, dict):
            url = _safe_url(attachment.get("url"))
            name = str(attachment.get("name") or attachment.get("filename") or url or "—")
            out.append({"name": name[:200], "url": url,
                        "type": str(attachment.get("content_type") or
                                    attachment.get("type") or "")[:100],
                        "size": attachment.get("size") if isinstance(
                            attachment.get("size"), int) else None})
        else:
            out.append({"name": str(attachment)[:200], "url": _safe_url(attachment),
                        "type": "", "size": None})
    return out


def _value_label(field: str, value: object) -> str:
    """A history value as people read it (choices by their label)."""
    if value in (None, "", []):
        return "—"
    if field in FEEDBACK_ID_FIELDS:
        return ", ".join(f"#{v}" for v in (value if isinstance(value, list) else [value]))
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if field in ("status", "importance", "source", "via", "language"):
        field = "source" if field == "via" else field
        choices = dict(Feedback._meta.get_field(field).choices)
        return str(choices.get(value, value))
    if field == "received_at" and isinstance(value, str):
        try:
            return formats.date_format(timezone.localtime(datetime.fromisoformat(value)),
                                       "DATETIME_FORMAT")
        except (ValueError, OverflowError):
            return value
    return str(value)


def _history(item: Feedback) -> list[dict]:
    entries = []
    for entry in selectors.feedback_history_entries(feedback=item):
        event = entry.event
        entries.append({
            "event": event,
            # No member behind it: an integration, an import or the API did it.
            "actor": event.actor.name if event.actor_id and event.actor else
            item.get_source_display(),
            "changes": [{"field": str(FIELD_LABELS.get(key, key)),
                         "before": _value_label(key, before), "after": _value_label(key, after)}
                        for key, before, after in entry.changes],
            "facts": [{"field": str(FIELD_LABELS.get(key, key)), "value": _value_label(key, value)}
                      for key, value in entry.facts],
        })
    return entries


def _triage_form(item: Feedback, data=None) -> FeedbackTriageForm:
    return FeedbackTriageForm(data, organisation_id=item.organisation_id, initial={
        "title": item.title, "status": item.status, "importance": item.importance,
        "product_area": item.product_area_id,
        "tags": ", ".join(tag.name for tag in item.tags.all())})


def _context(request: HttpRequest, item: Feedback, form: FeedbackTriageForm | None) -> dict:
    member = request.member
    can_change = policy.can(member, MODULE, Action.CHANGE)
    return {
        "item": item, "form": form if can_change else None, "can_change": can_change,
        "same_customer": selectors.feedback_same_customer(member=member, feedback=item),
        "history": _history(item), "links": _links(item), "attachments": _attachments(item),
    }


@policy.requires(MODULE, Action.VIEW)
def feedback_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Everything about one piece of feedback."""
    item = selectors.feedback_get(member=request.member, pk=pk)  # 404 first, then the method
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    return render_form(request, "feedback/feedback_detail.html",
                       _context(request, item, _triage_form(item)))


@policy.requires(MODULE, Action.CHANGE)
@require_POST
def feedback_triage(request: HttpRequest, pk: int) -> HttpResponse:
    """Change status, importance, product area, tags or title; answers the updated card."""
    member = request.member
    item = selectors.feedback_get(member=member, pk=pk, action=Action.CHANGE)
    form = _triage_form(item, request.POST)
    event = None
    if form.is_valid():
        data = form.cleaned_data
        try:
            event = services.feedback_update(
                actor=member, feedback=item, status=data["status"],
                importance=data["importance"], product_area=data["product_area"],
                title=data["title"], tags=data["tags"])
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
    if form.errors:
        template = "feedback/_feedback_triage.html" if request.htmx else \
            "feedback/feedback_detail.html"
        return render_form(request, template, _context(request, item, form), invalid=True)
    message = _("Saved.") if event else _("Nothing changed.")
    if not request.htmx:
        messages.success(request, message)
        return redirect("feedback:detail", pk=item.pk)
    item = selectors.feedback_get(member=member, pk=pk)  # fresh tags and product area
    context = _context(request, item, _triage_form(item))
    context.update({"saved": True, "message": message,
                    "undo": str(event.pk) if event else ""})
    return render_form(request, "feedback/_feedback_triage.html", context)
