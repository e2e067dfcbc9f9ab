"""Turning spreadsheet rows into feedback or customers, a chunk at a time.

One class per import kind, with the same three steps: ``clean`` a row (the field parsers of the
feedback and customer services, so an import accepts exactly what the API accepts), ``prepare``
a chunk (lookups shared by its rows: customers named in a feedback file, owners), and ``write``
it (``FeedbackWriter`` in bulk, or ``CustomerWriter`` + ``contact_upsert`` row by row in
savepoints). Validation runs the first two steps over the whole file; the loader runs all three.
``job_rows`` reads the rows of a job's stored file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice

from django.conf import settings
from django.db import DataError, IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from moulin.accounts.models import Member
from moulin.core.errors import DomainError
from moulin.customers.models import Customer, Lifecycle
from moulin.customers.services import (
    CustomerInput,
    CustomerWriter,
    RowError,
    contact_upsert,
    customer_input,
)
from moulin.feedback.import_columns import TARGET_FIELDS
from moulin.feedback.importing import FileShape, Row, plain, read_rows
from moulin.feedback.models import Importance, ImportJob, ImportKind, Source
from moulin.feedback.services import FeedbackInput, FeedbackWriter, feedback_input

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Stored with a row error that can never succeed by re-running it: the same external id is
# imported by an earlier row of the file. It is not a column, so reports leave it out.
DUPLICATE_KEY = "__duplicate_of_row__"
PREVIEW_TEXT = 160


@dataclass
class Outcome:
    """One row on its way in: cleaned into ``item``, or stopped by ``error``."""

    row_number: int
    values: dict  # the row as read: {column: value}
    item: object = None
    error: RowError | None = None
    duplicate_of: int | None = None
    customer_name: str = ""
    contact: dict = field(default_factory=dict)
    error_id: int | None = None  # when re-running a stored row error

    def fail(self, message: str, field_name: str | None) -> None:
        self.item, self.error = None, RowError(message, field=field_name)

    def stored_values(self) -> dict:
        values = {column: plain(value) for column, value in self.values.items()}
        if self.duplicate_of:
            values[DUPLICATE_KEY] = self.duplicate_of
        return values


@dataclass
class Written:
    status: str  # created | updated | error
    field: str | None = None
    message: str = ""


def _duplicate_message(row: int) -> str:
    return _("Row %d of this file has the same external id: only the first one is "
             "imported.") % row


class FeedbackRows:
    """Rows of a feedback file → ``FeedbackInput`` → ``FeedbackWriter``."""

    kind = ImportKind.FEEDBACK

    def __init__(self, job: ImportJob, actor: Member | None):
        self.job = job
        self.actor = actor
        self.mapping = {key: column for key, column in job.mapping.items() if column}
        self.seen: dict[tuple[str, str], int] = {}
        self.writer: FeedbackWriter | None = None

    def reset(self) -> None:
        """Forget what the writer cached (after a rolled-back chunk)."""
        self.writer = None

    def clean(self, row_number: int, values: dict) -> Outcome:
        outcome = Outcome(row_number, values)
        raw = {key: values.get(column, "") for key, column in self.mapping.items()}
        if not str(raw.get("external_id") or "").strip():
            # Deterministic: re-running the job (or its failed rows) updates, never duplicates.
            raw["external_id"] = f"import-{self.job.pk}-{row_number}"
        try:
            item = feedback_input(raw, default_source=Source.CSV_IMPORT)
        except RowError as error:
            outcome.error = error
            return outcome
        key = (item.source, item.external_id or "")
        first = self.seen.setdefault(key, row_number)
        if first != row_number:
            outcome.duplicate_of = first
            outcome.fail(_duplicate_message(first), "external_id")
            return outcome
        outcome.item = item
        outcome.customer_name = str(raw.get("customer_name") or "").strip()[:200]
        return outcome

    def prepare(self, outcomes: list[Outcome]) -> None:
        """Find the customers the rows name (by external id, or by name then external id)."""
        org = self.job.organisation_id
        valid = [o for o in outcomes if o.item is not None]
        external_ids = {o.item.customer_external_id for o in valid if o.item.customer_external_id}
        names = {o.customer_name for o in valid
                 if o.customer_name and not o.item.customer_external_id}
        known_external = set(Customer.objects.filter(
            organisation_id=org, external_id__in=external_ids)
            .values_list("external_id", flat=True))
        by_external = dict(Customer.objects.filter(organisation_id=org, external_id__in=names)
                           .values_list("external_id", "pk"))
        by_name: dict[str, list[int]] = {}
        for lowered, pk in (Customer.objects.filter(organisation_id=org)
                            .annotate(lowered=Lower("name"))
                            .filter(lowered__in={n.lower() for n in names})
                            .values_list("lowered", "pk")):
            by_name.setdefault(lowered, []).append(pk)
        for outcome in valid:
            item: FeedbackInput = outcome.item
            if item.customer_external_id:
                if item.customer_external_id not in known_external:
                    outcome.fail(_("No customer has the external id “%s”: create it first "
                                   "(customers import or API).") % item.customer_external_id,
                                 "customer_external_id")
                continue
            if not outcome.customer_name:
                continue
            matches = by_name.get(outcome.customer_name.lower(), [])
            if len(matches) == 1:
                item.customer_id = matches[0]
            elif len(matches) > 1:
                outcome.fail(_("Several customers are named “%s”: map a column with the "
                               "customer's external id instead.") % outcome.customer_name,
                             "customer_name")
            elif outcome.customer_name in by_external:
                item.customer_id = by_external[outcome.customer_name]
            else:
                outcome.fail(_("No customer is named “%s”: create it first (customers import) "
                               "or fix the name.") % outcome.customer_name, "customer_name")

    def write(self, outcomes: list[Outcome]) -> list[Written]:
        if self.writer is None:
            self.writer = FeedbackWriter(self.job.organisation, self.actor)
        results = self.writer.write([o.item if o.error is None else o.error for o in outcomes])
        return [Written(r.status, r.field, r.message) for r in results]

    def display(self, outcome: Outcome) -> dict[str, str]:
        """The row as it will be imported, one text per mapped field (for the preview)."""
        item: FeedbackInput | None = outcome.item
        if item is None:
            return {key: _text(outcome.values.get(column)) for key, column in
                    self.mapping.items()}
        text = item.text if len(item.text) <= PREVIEW_TEXT else item.text[:PREVIEW_TEXT] + "…"
        return {
            "text": text, "title": item.title, "external_id": item.external_id or "",
            "source": str(Source(item.source).label),
            "customer_external_id": item.customer_external_id,
            "customer_name": outcome.customer_name, "contact_email": item.contact_email,
            "contact_name": item.contact_name,
            "created_at": _when(item.received_at) or _("on import"),
            "importance": str(Importance(item.importance).label),
            "product_area": item.product_area, "tags": ", ".join(item.tags),
        }


class CustomerRows:
    """Rows of a customers file → ``CustomerWriter.upsert`` (+ ``contact_upsert``) per row."""

    kind = ImportKind.CUSTOMERS
    CONTACT = {"contact_email": "email", "contact_name": "name", "contact_role": "role"}

    def __init__(self, job: ImportJob, actor: Member | None):
        self.job = job
        self.actor = actor  # changing an existing customer needs the right to (per row)
        self.mapping = {key: column for key, column in job.mapping.items() if column}
        self.writer: CustomerWriter | None = None

    def reset(self) -> None:
        self.writer = None

    def _writer_reset(self) -> CustomerWriter:
        self.writer = None
        return self._writer()

    def _writer(self) -> CustomerWriter:
        if self.writer is None:
            self.writer = CustomerWriter(self.job.organisation, actor=self.actor)
        return self.writer

    def clean(self, row_number: int, values: dict) -> Outcome:
        outcome = Outcome(row_number, values)
        raw = {key: values.get(column, "") for key, column in self.mapping.items()
               if key not in self.CONTACT}
        contact = {name: str(values.get(self.mapping[key]) or "").strip()
                   for key, name in self.CONTACT.items() if key in self.mapping}
        try:
            data = customer_input(raw)
            email = contact.get("email", "").lower()
            if email and (not EMAIL.match(email) or len(email) > 254):
                raise RowError(_("“%s” is not an email address.") % email[:80],
                               field="contact_email")
        except RowError as error:
            outcome.error = error
            return outcome
        # A customer repeated on several rows is normal (one row per contact in CRM exports):
        # each row updates it again and adds its contact.
        outcome.item = data
        outcome.contact = contact if contact.get("email") else {}
        return outcome

    def prepare(self, outcomes: list[Outcome]) -> None:
        """Owners must be members: checked before anything is written."""
        owners = self._writer().owners
        for outcome in outcomes:
            data: CustomerInput | None = outcome.item
            if data is not None and data.owner_email and data.owner_email not in owners:
                outcome.fail(_("No member signs in with %s (owner).") % data.owner_email,
                             "owner_email")

    def write(self, outcomes: list[Outcome]) -> list[Written]:
        writer = self._writer()
        results = []
        for outcome in outcomes:
            if outcome.error is not None:
                results.append(Written("error", outcome.error.field, outcome.error.message))
                continue
            try:
                # A savepoint per row: the customer and its contact go in together or not at all.
                with transaction.atomic():
                    customer, created = writer.upsert(outcome.item)
                    if outcome.contact:
                        contact_upsert(organisation=self.job.organisation,
                                       customer=customer, **outcome.contact)
            except (RowError, IntegrityError, DataError) as error:
                field_name = getattr(error, "field", None)
                message = getattr(error, "message", None) or _(
                    "This row could not be saved (%s).") % str(error)[:200]
                results.append(Written("error", field_name, message))
                # The savepoint took back what the writer may have cached (a new segment).
                writer = self._writer_reset()
                continue
            results.append(Written("created" if created else "updated"))
        return results

    def display(self, outcome: Outcome) -> dict[str, str]:
        data: CustomerInput | None = outcome.item
        if data is None:
            return {key: _text(outcome.values.get(column)) for key, column in
                    self.mapping.items()}
        arr = ""
        if data.arr is not None:
            arr = f"{formats.number_format(data.arr, 2, use_l10n=True, force_grouping=True)} " \
                  f"{data.currency or self.job.organisation.currency}"
        return {
            "name": data.name, "external_id": data.external_id or "",
            "domains": ", ".join(data.domains), "plan": data.plan, "segment": data.segment,
            "industry": data.industry, "country": data.country,
            "lifecycle": str(Lifecycle(data.lifecycle).label), "arr": arr,
            "currency": data.currency,
            "renewal_date": formats.date_format(data.renewal_date, "DATE_FORMAT")
            if data.renewal_date else "",
            "owner_email": data.owner_email,
            "health_score": "" if data.health_score is None else str(data.health_score),
            **{key: outcome.contact.get(name, "") for key, name in self.CONTACT.items()},
        }


def _text(value: object) -> str:
    text = "" if value is None else str(plain(value))
    return text if len(text) <= PREVIEW_TEXT else text[:PREVIEW_TEXT] + "…"


def _when(value) -> str:
    if value is None:
        return ""
    # The long format: "Nov. 2, 2026" cannot be misread, "11/02/2026" could (2 Nov or 11 Feb?).
    return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT")


def rows_for(job: ImportJob, actor: Member | None = None) -> FeedbackRows | CustomerRows:
    """The row handler for the job's kind."""
    if job.kind == ImportKind.CUSTOMERS:
        return CustomerRows(job, actor)
    return FeedbackRows(job, actor)


def preview_columns(job: ImportJob) -> list[tuple[str, object, str]]:
    """(field, label, column) for each mapped field, in the wizard's order."""
    return [(f.key, f.label, job.mapping[f.key]) for f in TARGET_FIELDS[job.kind]
            if job.mapping.get(f.key)]


@contextmanager
def job_rows(job: ImportJob) -> Iterator[Iterator[Row]]:
    """``with job_rows(job) as rows``: the data rows of the job's stored file, read as it was
    inspected on upload. DomainError when the file is gone; ImportFileError while reading."""
    missing = _("The uploaded file is no longer available: upload it again.")
    if not job.file:
        raise DomainError(missing)
    try:
        stream = job.file.open("rb")
    except OSError as exc:
        raise DomainError(missing) from exc
    shape = FileShape(job.file_format, tuple(job.columns), encoding=job.encoding,
                      delimiter=job.delimiter)
    rows = read_rows(stream, shape, max_bytes=settings.IMPORT_MAX_BYTES)
    try:
        yield rows
    finally:
        rows.close()  # before the stream it reads
        stream.close()


def chunks(items: Iterable, size: int) -> Iterator[list]:
    """``items`` in lists of ``size`` (the last one shorter)."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
