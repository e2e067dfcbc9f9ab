"""Personal data: GDPR erasure of a contact everywhere their name or address appears."""

import io
import json
import logging
import re

from django.core.files.base import ContentFile
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
    ImportJob,
    ImportRowError,
)

logger = logging.getLogger(__name__)

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


def _scrubbed_csv(data: bytes, pattern: re.Pattern[str], replacement: str) -> bytes | None:
    """The file's bytes with the values replaced, in its own encoding; None if unchanged."""
    from moulin.feedback.importing import detect_encoding

    encoding = detect_encoding(io.BytesIO(data))
    text = data.decode(encoding)
    scrubbed = pattern.sub(replacement, text)
    return None if scrubbed == text else scrubbed.encode(encoding, errors="replace")


def _scrubbed_xlsx(data: bytes, pattern: re.Pattern[str], replacement: str) -> bytes | None:
    """The workbook with the values replaced in every text cell; None if unchanged."""
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(data))
    changed = False
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and pattern.search(cell.value):
                    cell.value = pattern.sub(replacement, cell.value)
                    changed = True
    if not changed:
        return None
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def import_files_scrub_personal_data(*, organisation_id: int, needles: list[str],
                                     replacement: str) -> int:
    """Replace a person's name and address in the files the organisation uploaded to the
    import wizard (kept so a failed import can run again, which would otherwise bring them
    back); returns the count of files rewritten. A file that cannot be read any more is
    deleted: nothing of the person may stay in it."""
    if not needles:
        return 0
    pattern = personal_data_pattern(needles)
    rewritten = 0
    for job in ImportJob.objects.filter(organisation_id=organisation_id).exclude(file=""):
        storage, name = job.file.storage, job.file.name
        if not storage.exists(name):
            continue
        with storage.open(name, "rb") as handle:
            data = handle.read()
        try:
            if job.file_format == "xlsx":
                scrubbed = _scrubbed_xlsx(data, pattern, replacement)
            else:
                scrubbed = _scrubbed_csv(data, pattern, replacement)
        except Exception:  # unreadable: deleted rather than kept with the person in it
            logger.warning("import file %s unreadable during an erasure: deleted", name)
            storage.delete(name)
            ImportJob.objects.filter(pk=job.pk).update(file="")
            rewritten += 1
            continue
        if scrubbed is None:
            continue
        storage.delete(name)
        saved = storage.save(name, ContentFile(scrubbed))
        if saved != name:
            ImportJob.objects.filter(pk=job.pk).update(file=saved)
        rewritten += 1
    return rewritten


ERASED = "[erased]"


def contact_erase(*, actor: Member, origin: Origin, contact: Contact) -> int:
    """GDPR erasure: remove the person's name and address from the contact and from every
    verbatim that quotes them; the feedback stays, attached to the customer. Audited."""
    if contact.organisation_id != actor.organisation_id:
        raise DomainError(_("This contact is not in your organisation."))
    needles = [value for value in (contact.email, contact.name) if value and len(value) >= 3]
    rewritten = feedback_scrub_personal_data(contact=contact, needles=needles,
                                             replacement=ERASED)
    # The hub's own copies: the items' history (Undo writes old titles back), the import
    # error reports (the original values of rejected rows) and the uploaded files.
    feedback_history_scrub_personal_data(organisation_id=contact.organisation_id,
                                         needles=needles, replacement=ERASED)
    import_errors_scrub_personal_data(organisation_id=contact.organisation_id,
                                      needles=needles, replacement=ERASED)
    # the uploaded files too: re-running a failed import would bring the person back
    import_files_scrub_personal_data(organisation_id=contact.organisation_id,
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
