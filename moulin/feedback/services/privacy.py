"""Personal data: GDPR erasure of a contact everywhere their name or address appears."""

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
)

# --- Personal data ----------------------------------------------------------------------------

def personal_data_pattern(needles: list[str]) -> re.Pattern[str]:
    """Any of the values, case-insensitively, longest first ("Marie Curie" before "Marie").
    The apps that copy verbatims scrub their copies with the same pattern (hooks)."""
    return re.compile("|".join(re.escape(n) for n in sorted(needles, key=len, reverse=True)),
                      re.IGNORECASE)


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


ERASED = "[erased]"


def contact_erase(*, actor: Member, origin: Origin, contact: Contact) -> int:
    """GDPR erasure: remove the person's name and address from the contact and from every
    verbatim that quotes them; the feedback stays, attached to the customer. Audited."""
    if contact.organisation_id != actor.organisation_id:
        raise DomainError(_("This contact is not in your organisation."))
    needles = [value for value in (contact.email, contact.name) if value and len(value) >= 3]
    rewritten = feedback_scrub_personal_data(contact=contact, needles=needles,
                                             replacement=ERASED)
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
