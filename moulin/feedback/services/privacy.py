"""Personal data: GDPR erasure of a contact everywhere their name or address appears."""

import json
import re

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from moulin.accounts.audit import Origin, audit_record
from moulin.accounts.models import Member
from moulin.core.errors import DomainError
from moulin.customers.models import Contact
from moulin.feedback import hooks
from moulin.feedback.models import (
    Feedback,
    FeedbackEvent,
    ImportRowError,
)

# --- Personal data ----------------------------------------------------------------------------

def personal_data_pattern(needles: list[str]) -> re.Pattern[str]:
    """Any of the values, case-insensitively, longest first ("Marie Curie" before "Marie").
    The apps that copy verbatims scrub their copies with the same pattern (hooks)."""
    return re.compile("|".join(re.escape(n) for n in sorted(needles, key=len, reverse=True)),
                      re.IGNORECASE)


def personal_data_scrubbed(value: object, pattern: re.Pattern[str], replacement: str) -> object:
    """A JSON value (strings, lists, dicts, numbers…) with every match in its strings replaced.
    Keys are names of fields, never personal data: they are kept, so the shape stays."""
    if isinstance(value, str):
        return pattern.sub(replacement, value)
    if isinstance(value, list):
        return [personal_data_scrubbed(item, pattern, replacement) for item in value]
    if isinstance(value, dict):
        return {key: personal_data_scrubbed(item, pattern, replacement)
                for key, item in value.items()}
    return value


def personal_data_spellings(needles: list[str]) -> list[str]:
    """The values as a JSON column may hold them, for a case-insensitive ``icontains`` that
    picks the rows worth reading: as typed, and with the ``\\u`` escapes of non-ASCII
    letters that SQLite keeps (Django writes JSON there with ``ensure_ascii``; SQLite's LIKE
    ignores the case of ASCII letters only, hence the lower- and upper-case escapes)."""
    spellings = dict.fromkeys(needles)
    for needle in needles:
        for cased in (needle, needle.lower(), needle.upper()):
            escaped = json.dumps(cased)[1:-1]
            if escaped != cased:
                spellings[escaped] = None
    return list(spellings)


def _any_contains(field: str, spellings: list[str]) -> Q:
    query = Q()
    for spelling in spellings:
        query |= Q(**{f"{field}__icontains": spelling})
    return query


def feedback_scrub_personal_data(*, contact: Contact, needles: list[str],
                                 replacement: str) -> int:
    """Replace a person's name and address in every verbatim of theirs; returns the count."""
    if not needles:
        return 0
    pattern = personal_data_pattern(needles)
    query = Q()
    for needle in needles:
        query |= Q(text__icontains=needle) | Q(title__icontains=needle)
    rows = Feedback.objects.filter(Q(contact=contact) | query,
                                   organisation_id=contact.organisation_id)
    changed = []
    for row in rows.iterator(chunk_size=500):
        text, title = pattern.sub(replacement, row.text), pattern.sub(replacement, row.title)
        if text != row.text or title != row.title:
            row.text, row.title = text, title
            changed.append(row)
    Feedback.objects.bulk_update(changed, ["text", "title"], batch_size=500)
    FeedbackEvent.objects.bulk_create([FeedbackEvent(feedback=row, kind="erased",
                                                     changes={"personal_data": "removed"})
                                       for row in changed])
    # The layers above (triage: embedding, duplicate key, suggestions) must forget the old text.
    hooks.feedback_saved(organisation_id=contact.organisation_id, ids=[row.pk for row in changed])
    return len(changed)


def feedback_history_scrub_personal_data(*, organisation_id: int, needles: list[str],
                                         replacement: str) -> int:
    """Replace a person's name and address in the history of the organisation's feedback
    (every string of ``FeedbackEvent.changes``: old and new titles, tags…), so that neither
    the item's page nor Undo brings them back; returns the count of events changed."""
    if not needles:
        return 0
    pattern = personal_data_pattern(needles)
    # Only the events whose JSON holds one of the values are read (a LIKE on the JSON text,
    # on SQLite and PostgreSQL alike); the pattern then decides, string by string.
    events = FeedbackEvent.objects.filter(
        _any_contains("changes", personal_data_spellings(needles)),
        feedback__organisation_id=organisation_id).only("pk", "changes").order_by()
    changed = []
    for event in events.iterator(chunk_size=500):
        changes = personal_data_scrubbed(event.changes, pattern, replacement)
        if changes != event.changes:
            event.changes = changes
            changed.append(event)
    FeedbackEvent.objects.bulk_update(changed, ["changes"], batch_size=500)
    return len(changed)


def import_errors_scrub_personal_data(*, organisation_id: int, needles: list[str],
                                      replacement: str) -> int:
    """Replace a person's name and address in the rows the organisation's imports rejected
    (their original values, downloadable as the error report, and the message quoting one);
    returns the count of rows changed. A row re-run later carries the replacement."""
    if not needles:
        return 0
    pattern = personal_data_pattern(needles)
    rows = ImportRowError.objects.filter(
        _any_contains("values", personal_data_spellings(needles))
        | _any_contains("message", needles),
        job__organisation_id=organisation_id).only("pk", "values", "message").order_by()
    changed = []
    for row in rows.iterator(chunk_size=500):
        values = personal_data_scrubbed(row.values, pattern, replacement)
        message = pattern.sub(replacement, row.message)[:500]
        if values != row.values or message != row.message:
            row.values, row.message = values, message
            changed.append(row)
    ImportRowError.objects.bulk_update(changed, ["values", "message"], batch_size=500)
    return len(changed)


ERASED = "[erased]"


def contact_erase(*, actor: Member, origin: Origin, contact: Contact) -> int:
    """GDPR erasure: remove the person's name and address from the contact and from every
    verbatim that quotes them; the feedback stays, attached to the customer. Audited."""
    if contact.organisation_id != actor.organisation_id:
        raise DomainError(_("This contact is not in your organisation."))
    needles = [value for value in (contact.email, contact.name) if value and len(value) >= 3]
    rewritten = feedback_scrub_personal_data(contact=contact, needles=needles,
                                             replacement=ERASED)
    # The hub's own copies: the items' history (Undo writes old titles back) and the import
    # error reports (the original values of rejected rows).
    feedback_history_scrub_personal_data(organisation_id=contact.organisation_id,
                                         needles=needles, replacement=ERASED)
    import_errors_scrub_personal_data(organisation_id=contact.organisation_id,
                                      needles=needles, replacement=ERASED)
    # The layers above copied verbatims (theme examples, cluster keywords): same values, same
    # transaction, so the erasure is whole or not at all.
    hooks.personal_data_erased(organisation_id=contact.organisation_id, needles=needles,
                               replacement=ERASED)
    contact.name, contact.email, contact.role = "", None, ""
    contact.erased_at = timezone.now()
    contact.save(update_fields=["name", "email", "role", "erased_at", "updated_at"])
    audit_record(organisation=actor.organisation, actor=actor, action="contact.erased",
                 origin=origin, target=contact, target_label=_("Contact #%d") % contact.pk,
                 changes={"feedback_rewritten": rewritten})
    return rewritten
