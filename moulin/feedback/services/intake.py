"""Feedback intake: every channel (form, API, import, webhooks, email) ends here.

Intake cleans raw values into a ``FeedbackInput`` (row-level errors name the field), links the
customer (by id, by contact, then by email domain) and upserts by ``(source, external_id)`` so a
retried delivery never duplicates. ``FeedbackWriter`` does it for a batch with a fixed number of
queries, which is what makes bulk API calls and imports fast.

An update from the source never undoes what people did: once a person has triaged an item, the
source no longer sets its importance nor its product area, and its tags are only ever added to
(see ``FeedbackWriter``). Changing an existing item needs the right to change feedback.
"""

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from moulin.accounts.models import Member, Organisation
from moulin.core import parsing, policy
from moulin.core.bulk import bulk_insert, filter_in
from moulin.core.errors import DomainError
from moulin.core.parsing import parse_field
from moulin.core.policy import Action
from moulin.customers.models import Contact, Customer, CustomerDomain
from moulin.customers.services import PUBLIC_EMAIL_DOMAINS, RowError, contact_upsert
from moulin.feedback import hooks
from moulin.feedback.language import detect_language
from moulin.feedback.models import (
    Feedback,
    FeedbackEvent,
    Importance,
    ProductArea,
    Source,
    Status,
    Tag,
)

# 10 MB of text is accepted (support transcripts can be long); the limit keeps one row sane.
MAX_TEXT_LENGTH = 10_000_000
MAX_TAGS = 30
IMPORTANCE_WORDS = {
    "nice_to_have": Importance.NICE_TO_HAVE, "nice to have": Importance.NICE_TO_HAVE,
    "low": Importance.NICE_TO_HAVE, "faible": Importance.NICE_TO_HAVE,
    "bonus": Importance.NICE_TO_HAVE, "souhaitable": Importance.NICE_TO_HAVE,
    "important": Importance.IMPORTANT, "medium": Importance.IMPORTANT,
    "moyen": Importance.IMPORTANT, "normal": Importance.IMPORTANT,
    "critical": Importance.CRITICAL, "critique": Importance.CRITICAL,
    "high": Importance.CRITICAL, "urgent": Importance.CRITICAL, "bloquant": Importance.CRITICAL,
    "blocker": Importance.CRITICAL,
}
SOURCES = frozenset(Source.values)  # ``.values`` builds a new list on every access
# The channels people report through (and the API itself): no integration or import writes
# under them, so no (source, external_id) key of another writer can be taken over there.
OPEN_SOURCES = frozenset({Source.API, Source.WEB_FORM, Source.SURVEY})
# The oldest date an item can have (older is a typing error): 1 January 1900 in any time zone.
# The slack after now: one day, as a sender's evening may already be tomorrow here.
EARLIEST_RECEIVED_AT = datetime(1900, 1, 1, tzinfo=UTC) - timedelta(hours=14)
FUTURE_SLACK = timedelta(days=1)
# What people triage: once a person changed one of these (or the status left "new"), the
# source's importance and product area no longer apply to the item.
TRIAGE_FIELDS = frozenset({"status", "importance", "product_area_id", "tags"})
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass
class FeedbackInput:
    """One feedback item from any channel, cleaned and validated."""

    text: str
    source: str
    title: str = ""
    external_id: str | None = None
    customer_external_id: str = ""
    customer_id: int | None = None
    contact_email: str = ""
    contact_name: str = ""
    received_at: datetime | None = None
    importance: str = Importance.IMPORTANT
    product_area: str = ""
    tags: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    attachments: list[dict] = field(default_factory=list)
    language: str = ""


def api_sources(*, actor: Member) -> frozenset[str]:
    """The sources ``actor`` may name through the public API.

    The integrations' sources (Zendesk, Intercom, email…) and imports are keyed by their own
    external ids: only members who may change feedback (who could edit those items anyway) may
    write under them, to backfill history before connecting an integration. Everyone else
    sends ``api`` or a channel people report through."""
    if policy.can(actor, "feedback", Action.CHANGE):
        return SOURCES
    return OPEN_SOURCES


def _received_at(value: object) -> datetime | None:
    received_at = parsing.parse_datetime(value)
    if received_at is None:
        return None
    # Far dates break week truncation and local-time display (year 10000) for every reader.
    if received_at > timezone.now() + FUTURE_SLACK:
        raise ValueError(_("This date is in the future."))
    if received_at < EARLIEST_RECEIVED_AT:
        raise ValueError(_("Expected a date between 1900 and 2999."))
    return received_at


def feedback_input(raw: dict, *, default_source: str = Source.API,
                   sources: frozenset[str] = SOURCES) -> FeedbackInput:
    """Clean a raw mapping (API item, import row, vendor payload) or raise RowError;
    ``sources`` are the ones the sender may name (``api_sources`` for the public API)."""
    text = parse_field("text", lambda v: parsing.clean_text(v, max_length=MAX_TEXT_LENGTH,
                                                       field="text"), raw.get("text"))
    if not text:
        raise RowError(_("The feedback text is empty: it is the one field that is required."),
                       field="text")
    source = parsing.clean_text(raw.get("source")).lower() or default_source
    if source not in SOURCES:
        raise RowError(_("Unknown source “%(source)s”; use one of: %(choices)s.") % {
            "source": source[:40], "choices": ", ".join(Source.values)}, field="source")
    if source not in sources:
        raise RowError(_("Only feedback managers may send feedback as “%(source)s” (an "
                         "integration's or an import's channel); use one of: %(choices)s.") % {
            "source": source, "choices": ", ".join(s for s in Source.values if s in sources)},
            field="source")
    importance_raw = parsing.clean_text(raw.get("importance")).lower()
    importance = Importance.IMPORTANT
    if importance_raw:
        importance = IMPORTANCE_WORDS.get(importance_raw.replace("-", " ").replace("_", " "),
                                          IMPORTANCE_WORDS.get(importance_raw))
        if importance is None:
            raise RowError(_("Importance must be nice_to_have, important or critical; got "
                             "“%s”.") % importance_raw[:40], field="importance")
    email = parsing.clean_text(raw.get("contact_email")).lower()
    if email and (not EMAIL.match(email) or len(email) > 254):
        raise RowError(_("“%s” is not an email address.") % email[:80], field="contact_email")
    tags = [t[:60] for t in parsing.split_list(raw.get("tags"))]
    if len(tags) > MAX_TAGS:
        raise RowError(_("At most %d tags per item.") % MAX_TAGS, field="tags")
    links = [parsing.clean_text(link)[:2000] for link in parsing.split_list(raw.get("links"))]
    customer_id = raw.get("customer_id")
    if customer_id not in (None, ""):
        try:
            customer_id = int(customer_id)
        except (TypeError, ValueError):
            raise RowError(_("customer_id must be a number."), field="customer_id") from None
        if not 0 < customer_id < 2**63:
            raise RowError(_("No customer with id %d in your organisation.") % customer_id,
                           field="customer_id")
    else:
        customer_id = None
    language = parsing.clean_text(raw.get("language")).lower()[:8]
    if language and language not in {"fr", "en", "other"}:
        language = "other"
    return FeedbackInput(
        text=text, source=source,
        title=parse_field("title", lambda v: parsing.clean_text(v, max_length=300, field="title"),
                     raw.get("title")),
        external_id=parse_field("external_id", lambda v: parsing.clean_text(
            v, max_length=200, field="external_id"), raw.get("external_id")) or None,
        customer_external_id=parsing.clean_text(raw.get("customer_external_id"))[:100],
        customer_id=customer_id, contact_email=email,
        contact_name=parsing.clean_text(raw.get("contact_name"))[:200],
        received_at=parse_field("created_at", _received_at,
                                raw.get("created_at") or raw.get("received_at")),
        importance=importance,
        product_area=parsing.clean_text(raw.get("product_area"))[:120],
        tags=tags, links=links,
        attachments=list(raw.get("attachments") or [])[:50], language=language,
    )


@dataclass
class ItemResult:
    """What happened to one item of a batch: created, updated or an error (with its field)."""

    index: int
    status: str  # created | updated | error
    id: int | None = None
    external_id: str | None = None
    field: str | None = None
    message: str = ""
    forbidden: bool = False  # an update the actor has no right to make


class ChangeNotAllowed(RowError):
    """The item exists and would change, and the actor may only create feedback."""

    status = 403
    code = "forbidden"


def _change_not_allowed_message() -> str:
    return _("This feedback already exists (same source and external id) and would change: "
             "updating it needs the right to change feedback. Ask a feedback manager, or "
             "send it unchanged.")


HISTORY_TEXT = 500


def _history_value(key: str, value: object) -> object:
    """A value as the history keeps it: JSON, and short (a verbatim can be 10 MB)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if key == "text" and isinstance(value, str) and len(value) > HISTORY_TEXT:
        return value[:HISTORY_TEXT] + "…"
    if key == "attachments" and isinstance(value, list):
        return [str(a.get("name") or a.get("filename") or a.get("url") or "")[:200]
                if isinstance(a, dict) else str(a)[:200] for a in value[:20]]
    if key == "links" and isinstance(value, list):
        return [str(link)[:300] for link in value[:20]]
    return value


class FeedbackWriter:
    """Upserts feedback for one organisation in batches with a fixed number of queries.

    An existing item (same source and external id) takes the source's verbatim, title,
    customer, contact, date, language, links and attachments. Its triage belongs to people:
    once a person has triaged it (status no longer "new", or a person changed its status,
    importance, product area or tags), the source no longer sets its importance nor its area;
    and a source only ever adds tags (a tag carries no author, so removing one could remove a
    person's). Each update is one history event with the values before and after; a payload
    that changes nothing writes nothing. Updating needs the right to change feedback, unless no
    member acts (an integration's verified delivery).
    """

    UPDATABLE = ("title", "text", "customer_id", "contact_id", "received_at", "importance",
                 "product_area_id", "language", "links", "attachments", "updated_at")

    def __init__(self, organisation: Organisation, actor: Member | None):
        self.organisation = organisation
        self.actor = actor
        self.may_change = actor is None or policy.can(actor, "feedback", Action.CHANGE)
        self.areas = {a.name.lower(): a for a in ProductArea.objects.filter(
            organisation=organisation)}
        self.tags = {t.name.lower(): t for t in Tag.objects.filter(organisation=organisation)}

    # -- lookups shared by the whole batch ------------------------------------------------------
    def _customers(self, items: list[FeedbackInput]) -> tuple[dict, dict]:
        org = self.organisation
        external_ids = {i.customer_external_id for i in items if i.customer_external_id}
        ids = {i.customer_id for i in items if i.customer_id}
        by_external = {c.external_id: c.pk for c in filter_in(Customer.objects.filter(
            organisation=org), "external_id", external_ids).only("id", "external_id")}
        known_ids = set(Customer.objects.filter(organisation=org, pk__in=ids)
                        .values_list("pk", flat=True))
        return by_external, {pk: pk for pk in known_ids}

    def _contacts(self, items: list[FeedbackInput]) -> dict[str, SimpleNamespace]:
        """The contact (``pk``, ``customer_id``) behind each address, created when new."""
        emails = {i.contact_email for i in items if i.contact_email}

        def known(addresses) -> dict[str, SimpleNamespace]:
            return {email: SimpleNamespace(pk=pk, customer_id=customer_id)
                    for email, pk, customer_id in filter_in(Contact.objects.filter(
                        organisation=self.organisation), "email", addresses)
                    .values_list("email", "pk", "customer_id")}

        contacts = known(emails)
        missing = emails - contacts.keys()
        if missing:
            domains = {e.rpartition("@")[2] for e in missing} - PUBLIC_EMAIL_DOMAINS
            by_domain = dict(CustomerDomain.objects.filter(
                organisation=self.organisation, domain__in=domains)
                .values_list("domain", "customer_id"))
            names = {i.contact_email: i.contact_name for i in items if i.contact_email}
            Contact.objects.bulk_create([
                Contact(organisation=self.organisation, email=email, name=names.get(email, ""),
                        customer_id=by_domain.get(email.rpartition("@")[2]))
                for email in sorted(missing)
            ], ignore_conflicts=True)
            contacts.update(known(missing))
        return contacts

    def _area(self, name: str) -> ProductArea | None:
        if not name:
            return None
        area = self.areas.get(name.lower())
        if area is None:
            area, _created = ProductArea.objects.get_or_create(organisation=self.organisation,
                                                               name=name)
            self.areas[name.lower()] = area
        return area

    def tag_ids(self, names: list[str]) -> list[int]:
        missing = [n for n in names if n.lower() not in self.tags]
        if missing:
            Tag.objects.bulk_create([Tag(organisation=self.organisation, name=n)
                                     for n in dict.fromkeys(missing)], ignore_conflicts=True)
            for tag in Tag.objects.filter(organisation=self.organisation, name__in=missing):
                self.tags[tag.name.lower()] = tag
        return [self.tags[n.lower()].pk for n in names if n.lower() in self.tags]

    # -- the batch ------------------------------------------------------------------------------
    def write(self, items: list[FeedbackInput | RowError]) -> list[ItemResult]:
        """Upsert ``items`` (already cleaned, or the error cleaning gave); one result per item.

        Two items of the batch with the same (source, external_id): the first wins, the second
        is reported, so a batch never writes the same row twice.
        """
        results: list[ItemResult | None] = [None] * len(items)
        valid: list[tuple[int, FeedbackInput]] = []
        seen: dict[tuple[str, str], int] = {}
        for index, item in enumerate(items):
            if isinstance(item, RowError):
                results[index] = ItemResult(index, "error", field=item.field,
                                            message=item.message)
                continue
            if item.external_id:
                key = (item.source, item.external_id)
                if key in seen:
                    results[index] = ItemResult(
                        index, "error", external_id=item.external_id, field="external_id",
                        message=_("Duplicate of item %d in this batch (same source and "
                                  "external id).") % seen[key])
                    continue
                seen[key] = index
            valid.append((index, item))
        if not valid:
            return results  # type: ignore[return-value]

        by_external, known_ids = self._customers([i for _i, i in valid])
        contacts = self._contacts([i for _i, i in valid])
        existing = {}
        for source in {i.source for _i, i in valid if i.external_id}:
            ids = [i.external_id for _i, i in valid if i.source == source and i.external_id]
            existing.update({(source, f.external_id): f for f in filter_in(
                Feedback.objects.filter(organisation=self.organisation, source=source),
                "external_id", ids)})

        current_tags = self._current_tags(existing.values())
        triaged = self._triaged_by_people(existing.values())
        now = timezone.now()
        to_create: list[tuple[int, Feedback, FeedbackInput]] = []
        to_update: list[tuple[int, Feedback, FeedbackInput]] = []
        unchanged: list[tuple[int, Feedback, FeedbackInput]] = []
        history: dict[int, dict] = {}  # {feedback id: its changes} of the updated rows
        for index, item in valid:
            contact = contacts.get(item.contact_email) if item.contact_email else None
            customer_id = None
            if item.customer_id:
                customer_id = known_ids.get(item.customer_id)
                if customer_id is None:
                    results[index] = ItemResult(index, "error", external_id=item.external_id,
                                                field="customer_id",
                                                message=_("No customer with id %d in your "
                                                          "organisation.") % item.customer_id)
                    continue
            elif item.customer_external_id:
                customer_id = by_external.get(item.customer_external_id)
                if customer_id is None:
                    results[index] = ItemResult(
                        index, "error", external_id=item.external_id,
                        field="customer_external_id",
                        message=_("No customer has the external id “%s”: create it first "
                                  "(customers import or API).") % item.customer_external_id)
                    continue
            elif contact is not None:
                customer_id = contact.customer_id
            area = self._area(item.product_area)
            values = {
                "title": item.title, "text": item.text, "customer_id": customer_id,
                "contact_id": contact.pk if contact else None,
                "received_at": item.received_at or now, "importance": item.importance,
                "product_area_id": area.pk if area else None,
                "language": item.language or detect_language(f"{item.title} {item.text}"),
                "links": item.links, "attachments": item.attachments, "updated_at": now,
            }
            found = existing.get((item.source, item.external_id)) if item.external_id else None
            if found is not None:
                if item.received_at is None:
                    values["received_at"] = found.received_at
                if found.pk in triaged:
                    values["importance"] = found.importance
                    values["product_area_id"] = found.product_area_id
                changes = {key: [_history_value(key, getattr(found, key)),
                                 _history_value(key, value)]
                           for key, value in values.items()
                           if key != "updated_at" and getattr(found, key) != value}
                tags = current_tags.get(found.pk, {})
                added = {name.lower(): name for name in item.tags
                         if name.lower() not in tags}
                if added:
                    changes["tags"] = [sorted(tags.values()),
                                       sorted([*tags.values(), *added.values()])]
                # A retried delivery usually changes nothing: then nothing is written.
                if not changes:
                    unchanged.append((index, found, item))
                    continue
                if not self.may_change:
                    results[index] = ItemResult(
                        index, "error", id=found.pk, external_id=item.external_id,
                        field="external_id", message=_change_not_allowed_message(),
                        forbidden=True)
                    continue
                for key, value in values.items():
                    setattr(found, key, value)
                history[found.pk] = {"via": found.source, **changes}
                to_update.append((index, found, item))
            else:
                values.update(organisation_id=self.organisation.pk, source=item.source,
                              external_id=item.external_id, created_at=now,
                              submitted_by_id=self.actor.pk if self.actor else None,
                              status=Status.NEW, triaged_at=None, customer_arr=0)
                to_create.append((index, SimpleNamespace(pk=None, values=values,
                                                         external_id=item.external_id), item))

        arr = dict(filter_in(Customer.objects.all(), "id", {
            row.values["customer_id"] for _i, row, _x in to_create
            if row.values["customer_id"]}).values_list("pk", "arr"))
        for _i, row, _x in to_create:
            row.values["customer_arr"] = arr.get(row.values["customer_id"]) or 0
        with transaction.atomic():
            # New rows need no history entry: the row itself says when, from where and by whom
            # it arrived (the feedback page shows that as the first line of its history).
            ids = bulk_insert(Feedback, [row.values for _i, row, _x in to_create])
            for (_i, row, _x), pk in zip(to_create, ids, strict=True):
                row.pk = pk
            if to_update:
                Feedback.objects.bulk_update([row for _i, row, _x in to_update],
                                             list(self.UPDATABLE), batch_size=1000)
                FeedbackEvent.objects.bulk_create(
                    [FeedbackEvent(feedback=row, actor=self.actor, kind="updated",
                                   changes=history[row.pk])
                     for _i, row, _x in to_update],
                    batch_size=1000)
            self._write_tags(to_create, to_update, current_tags)
        for index, row, _item in to_create:
            results[index] = ItemResult(index, "created", id=row.pk, external_id=row.external_id)
        for index, row, _item in [*to_update, *unchanged]:
            results[index] = ItemResult(index, "updated", id=row.pk, external_id=row.external_id)
        # Upper layers (triage) analyse new and changed items once this write commits.
        hooks.feedback_saved(organisation_id=self.organisation.pk,
                             ids=[row.pk for _i, row, _x in [*to_create, *to_update]])
        return results  # type: ignore[return-value]

    @staticmethod
    def _current_tags(rows) -> dict[int, dict[str, str]]:
        """{feedback id: {lowercased name: name}} of the existing rows' tags."""
        through = Feedback.tags.through
        current: dict[int, dict[str, str]] = {}
        ids = [row.pk for row in rows]
        for feedback_id, name in filter_in(through.objects.all(), "feedback_id", ids) \
                .values_list("feedback_id", "tag__name"):
            current.setdefault(feedback_id, {})[name.lower()] = name
        return current

    @staticmethod
    def _triaged_by_people(rows) -> set[int]:
        """The existing rows a person triaged: status left "new", or a person changed a triage
        field (any history event but the intake's own, which carry "via")."""
        triaged = {row.pk for row in rows if row.status != Status.NEW}
        waiting = [row.pk for row in rows if row.status == Status.NEW]
        for feedback_id, changes in filter_in(FeedbackEvent.objects.all(), "feedback_id",
                                              waiting).values_list("feedback_id", "changes"):
            if (isinstance(changes, dict) and "via" not in changes
                    and TRIAGE_FIELDS & changes.keys()):
                triaged.add(feedback_id)
        return triaged

    def _write_tags(self, created, updated, current: dict[int, dict[str, str]]) -> None:
        """New rows get the batch's tags; updated rows keep theirs and gain the batch's new
        ones (a source never removes a tag: it may be a person's)."""
        links = []
        for _i, row, item in created:
            links.extend({"feedback_id": row.pk, "tag_id": tag_id}
                          for tag_id in dict.fromkeys(self.tag_ids(item.tags)))
        for _i, row, item in updated:
            have = current.get(row.pk, {})
            new = [name for name in item.tags if name.lower() not in have]
            links.extend({"feedback_id": row.pk, "tag_id": tag_id}
                         for tag_id in dict.fromkeys(self.tag_ids(new)))
        bulk_insert(Feedback.tags.through, links)


MAX_BATCH = 1000


def feedback_bulk_upsert(*, organisation: Organisation, actor: Member | None,
                         raw_items: list[dict], default_source: str = Source.API,
                         sources: frozenset[str] = SOURCES) -> list[ItemResult]:
    """Clean and upsert up to 1,000 items; one result per item, errors never block the rest."""
    if len(raw_items) > MAX_BATCH:
        raise DomainError(_("At most %d items per call: split the batch.") % MAX_BATCH,
                          field="items")
    cleaned: list[FeedbackInput | RowError] = []
    for raw in raw_items:
        try:
            cleaned.append(feedback_input(raw, default_source=default_source, sources=sources))
        except RowError as error:
            cleaned.append(error)
    return FeedbackWriter(organisation, actor).write(cleaned)


def feedback_create(*, organisation: Organisation, actor: Member | None, raw: dict,
                    default_source: str = Source.WEB_FORM,
                    sources: frozenset[str] = SOURCES) -> tuple[Feedback, bool]:
    """Create (or, for a known source + external id, update) one item; raises RowError
    (ChangeNotAllowed when the update needs a right the actor lacks)."""
    result = FeedbackWriter(organisation, actor).write(
        [feedback_input(raw, default_source=default_source, sources=sources)])[0]
    if result.status == "error":
        error = ChangeNotAllowed if result.forbidden else RowError
        raise error(result.message, field=result.field)
    return Feedback.objects.get(pk=result.id), result.status == "created"


# --- Intake form (views/intake.py) ------------------------------------------------------------

def feedback_submit(*, actor: Member, raw: dict) -> Feedback:
    """Record what a member heard from a customer (the intake form): the contact first, tied to
    the customer chosen (else found from their address), then the feedback, as the member's."""
    customer = None
    if raw.get("customer_id"):
        customer = Customer.objects.filter(organisation_id=actor.organisation_id,
                                           pk=raw["customer_id"]).first()
        if customer is None:
            raise RowError(_("Choose a customer of your organisation."), field="customer_id")
    if raw.get("contact_email"):
        contact_upsert(organisation=actor.organisation, email=raw["contact_email"],
                       name=parsing.clean_text(raw.get("contact_name")), customer=customer)
    item, _created = feedback_create(organisation=actor.organisation, actor=actor, raw=raw,
                                     default_source=Source.WEB_FORM)
    return item
