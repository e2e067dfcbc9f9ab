"""Inbound integrations: configure a channel, take a vendor's delivery fast, and turn it into
feedback in the background.

A delivery is answered in milliseconds: the signature is verified, the raw request stored and
its processing queued. A replayed event (same vendor event id) is answered without being
processed again. Processing parses the payload with the vendor's module and upserts through the
feedback hub by ``(source, external id)``, so processing twice never makes a copy; a failure
is stored on the delivery with a message, and the delivery can be retried.

Two integrations of one vendor (Zendesk EU and Zendesk US) number their tickets alike: the
organisation's first integration of a vendor keeps the vendor's ids as they are, the next ones
prefix theirs with ``<integration id>:`` (see ``_external_ids``).
"""

from __future__ import annotations

import base64
import binascii
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType

from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from moulin.accounts.audit import Origin, audit_record
from moulin.accounts.models import Member
from moulin.core import parsing
from moulin.core.bulk import filter_in
from moulin.core.errors import Conflict, DomainError
from moulin.feedback.models import Feedback
from moulin.feedback.services import MAX_BATCH, feedback_bulk_upsert
from moulin.integrations import email as inbound_email
from moulin.integrations import hubspot, intercom, slack, zendesk
from moulin.integrations.inbound import (
    InboundRequest,
    PayloadError,
    SignatureError,
    body_fingerprint,
)
from moulin.integrations.models import DeliveryStatus, Integration, Vendor, WebhookDelivery

logger = logging.getLogger(__name__)

VENDORS: dict[str, ModuleType] = {
    Vendor.INTERCOM: intercom, Vendor.ZENDESK: zendesk, Vendor.HUBSPOT: hubspot,
    Vendor.SLACK: slack, Vendor.EMAIL: inbound_email,
}
# These vendors sign every request: an integration without their secret cannot verify them.
SIGNING_VENDORS = {Vendor.INTERCOM, Vendor.ZENDESK, Vendor.HUBSPOT, Vendor.SLACK}
# Webhook payloads are small; an email may carry attachments (the vendors allow 25-30 MB, we
# keep 10 MB: the message is stored whole so that it can be processed again).
MAX_BODY_BYTES = 1024 * 1024
MAX_EMAIL_BYTES = 10 * 1024 * 1024
# A request that fails verification is kept for inspection, but never whole.
REJECTED_BODY_BYTES = 64 * 1024
# Headers never stored: credentials.
SECRET_HEADERS = {"cookie", "authorization", "proxy-authorization", "x-moulin-secret"}
BODY_ENCODING = "x-moulin-body-encoding"  # set when a body that is not UTF-8 is kept in base64


def max_body_bytes(vendor: str) -> int:
    """The largest request body accepted for ``vendor`` (413 above it)."""
    return MAX_EMAIL_BYTES if vendor == Vendor.EMAIL else MAX_BODY_BYTES


# --- Configuration ------------------------------------------------------------------------------

def _check_name(organisation_id: int, name: str, exclude_pk: int | None = None) -> str:
    name = parsing.clean_text(name)
    if not name:
        raise DomainError(_("Give the integration a name."), field="name")
    taken = Integration.objects.filter(organisation_id=organisation_id, name__iexact=name)
    if exclude_pk:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise Conflict(_("An integration named “%s” exists already.") % name, field="name")
    return name


def integration_create(*, actor: Member, origin: Origin, vendor: str, name: str,
                       signing_secret: str = "") -> Integration:
    """Add an inbound channel; its webhook URL carries a new unguessable key."""
    if vendor not in Vendor.values:
        raise DomainError(_("Unknown vendor “%s”.") % vendor[:40], field="vendor")
    name = _check_name(actor.organisation_id, name)
    signing_secret = signing_secret.strip()
    if vendor in SIGNING_VENDORS and not signing_secret:
        raise DomainError(_("%s signs its requests: paste its signing secret, or no request "
                            "could be verified.") % Vendor(vendor).label, field="signing_secret")
    integration = Integration.objects.create(organisation=actor.organisation, vendor=vendor,
                                             name=name, signing_secret=signing_secret)
    audit_record(organisation=actor.organisation, actor=actor, action="integration.created",
                 origin=origin, target=integration, changes={"vendor": vendor})
    return integration


def integration_update(*, actor: Member, origin: Origin, integration: Integration,
                       name: str | None = None, signing_secret: str = "",
                       enabled: bool | None = None) -> Integration:
    """Rename, replace the signing secret (blank keeps it) or enable/disable a channel."""
    _check_owner(actor, integration)
    changes: dict[str, object] = {}
    if name is not None:
        name = _check_name(actor.organisation_id, name, exclude_pk=integration.pk)
        if name != integration.name:
            changes["name"] = [integration.name, name]
            integration.name = name
    signing_secret = signing_secret.strip()
    if signing_secret and signing_secret != integration.signing_secret:
        integration.signing_secret = signing_secret
        changes["signing_secret"] = "replaced"  # noqa: S105 — the log never holds a secret
    if enabled is not None and enabled != integration.enabled:
        changes["enabled"] = [integration.enabled, enabled]
        integration.enabled = enabled
    if changes:
        integration.save()
        audit_record(organisation=actor.organisation, actor=actor,
                     action="integration.updated", origin=origin, target=integration,
                     changes=changes)
    return integration


def integration_rotate_url_key(*, actor: Member, origin: Origin,
                               integration: Integration) -> Integration:
    """Give the channel a new webhook URL; the old one answers 404 from now on."""
    _check_owner(actor, integration)
    integration.url_key = secrets.token_urlsafe()
    integration.save(update_fields=["url_key", "updated_at"])
    audit_record(organisation=actor.organisation, actor=actor, action="integration.updated",
                 origin=origin, target=integration, changes={"url_key": "rotated"})
    return integration


def _check_owner(actor: Member, integration: Integration) -> None:
    if integration.organisation_id != actor.organisation_id:
        raise DomainError(_("This integration is not in your organisation."))


# --- Receiving ----------------------------------------------------------------------------------

@dataclass
class Receipt:
    """What became of one request: accepted (queued), duplicate (a replay) or rejected."""

    delivery: WebhookDelivery
    outcome: str  # accepted | duplicate | rejected
    message: str = ""
    reply: dict | None = None  # the immediate answer the vendor expects (Slack)


def stored_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The request's headers worth keeping with the delivery (never credentials)."""
    kept = {}
    for name, value in list(headers.items())[:60]:
        name = name.lower()
        if name in SECRET_HEADERS or name.startswith("x-moulin-"):
            continue
        kept[name] = str(value)[:1000]
    return kept


def _stored(request: InboundRequest, body: bytes) -> tuple[dict, str]:
    headers = stored_headers(request.headers)
    try:
        text = body.decode("utf-8")
        if "\x00" not in text:
            return headers, text
    except UnicodeDecodeError:
        pass
    # Kept byte for byte (an 8-bit email, arbitrary bytes): databases refuse NULs in text.
    return {**headers, BODY_ENCODING: "base64"}, base64.b64encode(body).decode("ascii")


def _signature_problem(vendor: ModuleType, request: InboundRequest, *, secret: str,
                       now: float) -> str:
    """Why the request is not proven to come from the vendor ("" when it is), in the active
    language."""
    try:
        vendor.verify(request, secret=secret, now=now)
    except SignatureError as error:
        return error.message
    return ""


def delivery_receive(*, integration: Integration, request: InboundRequest,
                     now: float | None = None) -> Receipt:
    """Verify and store one request, and queue its processing; never processes a replay.

    The receipt's message is for the vendor and stays English (like the API's errors); what
    the delivery log keeps is in the organisation's language."""
    vendor = VENDORS[integration.vendor]
    now = time.time() if now is None else now
    with translation.override("en"):
        problem = _signature_problem(vendor, request, secret=integration.signing_secret,
                                     now=now)
    with translation.override(integration.organisation.language):
        if problem:
            logged = _signature_problem(vendor, request, secret=integration.signing_secret,
                                        now=now) or problem
            headers, body = _stored(request, request.body[:REJECTED_BODY_BYTES])
            delivery = WebhookDelivery.objects.create(
                integration=integration, status=DeliveryStatus.REJECTED, headers=headers,
                body=body, error=logged[:500])
            return Receipt(delivery, "rejected", problem)
        # Slack shows its immediate reply to the person in Slack: the organisation's language.
        reply = vendor.reply(request)
        event_id = (vendor.event_id(request) or body_fingerprint(request.body))[:200]
        headers, body = _stored(request, request.body)
        try:
            with transaction.atomic():
                delivery = WebhookDelivery.objects.create(
                    integration=integration, event_id=event_id, headers=headers, body=body)
        except IntegrityError:
            existing = WebhookDelivery.objects.get(integration=integration, event_id=event_id)
            # For the vendor only (never shown in Moulin): English, like the API's messages.
            return Receipt(existing, "duplicate",
                           "This event was received already; it is not processed twice.",
                           reply=reply)
    Integration.objects.filter(pk=integration.pk).update(last_delivery_at=timezone.now())
    _queue(delivery.pk)
    return Receipt(delivery, "accepted", reply=reply)


def _queue(delivery_id: int) -> None:
    from moulin.integrations import tasks  # tasks call services: import at call time

    transaction.on_commit(lambda: tasks.process_delivery.enqueue(delivery_id))


# --- Processing ---------------------------------------------------------------------------------

def inbound_request_of(delivery: WebhookDelivery) -> InboundRequest:
    """The request as the vendor sent it, rebuilt from what the delivery stored."""
    headers = dict(delivery.headers or {})
    body = delivery.body.encode("utf-8")
    if headers.pop(BODY_ENCODING, "") == "base64":
        try:
            body = base64.b64decode(delivery.body)
        except (binascii.Error, ValueError):
            body = b""
    return InboundRequest(body=body, headers=headers)


def delivery_process(*, delivery_id: int) -> str:
    """Turn a received delivery into feedback; any other status is left alone (idempotent)."""
    with transaction.atomic():
        delivery = (WebhookDelivery.objects.select_for_update()
                    .select_related("integration__organisation").filter(pk=delivery_id).first())
        if delivery is None:
            return "missing"
        if delivery.status != DeliveryStatus.RECEIVED:
            return delivery.status
        organisation = delivery.integration.organisation
        delivery.attempts += 1
        with translation.override(organisation.language):
            try:
                with transaction.atomic():
                    status, note, feedback_id = _import(delivery)
            except (PayloadError, DomainError) as error:
                status, note, feedback_id = DeliveryStatus.FAILED, error.message, None
            except Exception as error:  # a bug must not leave the delivery "received" forever
                logger.exception("Processing webhook delivery %s failed", delivery.pk)
                status, feedback_id = DeliveryStatus.FAILED, None
                note = _("Unexpected error (%s): the details are in the server log; retry once "
                         "it is fixed.") % type(error).__name__
        delivery.status, delivery.error = status, note[:500]
        delivery.feedback_id = feedback_id or delivery.feedback_id
        delivery.processed_at = timezone.now()
        delivery.save(update_fields=["status", "error", "feedback_id", "processed_at",
                                     "attempts"])
    return delivery.status


def _import(delivery: WebhookDelivery) -> tuple[str, str, int | None]:
    vendor = VENDORS[delivery.integration.vendor]
    parsed = vendor.parse(inbound_request_of(delivery))
    if not parsed.items:
        return DeliveryStatus.IGNORED, parsed.ignored, None
    items = _external_ids(delivery.integration, parsed.items[:MAX_BATCH],
                          default_source=vendor.SOURCE)
    results = feedback_bulk_upsert(organisation=delivery.integration.organisation, actor=None,
                                   raw_items=items, default_source=vendor.SOURCE)
    done = [result for result in results if result.status != "error"]
    errors = [f"{result.field}: {result.message}" if result.field else result.message
              for result in results if result.status == "error"]
    if not done:
        raise DomainError(errors[0] if errors else _("Nothing could be imported."))
    note = ""
    if errors:
        note = ngettext("%(n)d item of %(total)d was not imported: %(error)s",
                        "%(n)d items of %(total)d were not imported: %(error)s",
                        len(errors)) % {"n": len(errors), "total": len(results),
                                        "error": errors[0]}
    return DeliveryStatus.PROCESSED, note, done[0].id


def _external_ids(integration: Integration, items: list[dict], *,
                  default_source: str) -> list[dict]:
    """The items with the external id that keeps this integration's items apart from another
    integration of the same vendor (same ticket number in two Zendesk accounts).

    The organisation's first integration of a vendor keeps the vendor's id (``35436``); the
    others use ``<integration id>:35436``. Rows stored before this rule all have the bare id,
    and must keep matching the deliveries that made them (a retry, a trigger firing again):

    1. a row with this integration's prefixed id is used;
    2. else a row with the bare id is used if one of this integration's deliveries made it, or
       if no delivery of any integration did (an import, the API, an Intercom reply) and this is
       the first integration of the vendor;
    3. else a new row gets the bare id when this is the first integration and the bare id is
       free, the prefixed id otherwise.

    A row that two integrations already merged before the rule existed cannot be told apart:
    both keep updating it.
    """
    bare_ids = {index: parsing.clean_text(item.get("external_id"))
                for index, item in enumerate(items)}
    bare_ids = {index: value for index, value in bare_ids.items() if value}
    if not bare_ids:
        return items
    organisation_id = integration.organisation_id
    first = Integration.objects.filter(organisation_id=organisation_id,
                                       vendor=integration.vendor).order_by("pk").first()
    is_first = first is not None and first.pk == integration.pk
    prefixed = {index: f"{integration.pk}:{value}"[:200] for index, value in bare_ids.items()}
    sources = {index: parsing.clean_text(items[index].get("source")).lower() or default_source
               for index in bare_ids}
    rows = {(row.source, row.external_id): row.pk for row in filter_in(
        Feedback.objects.filter(organisation_id=organisation_id,
                                source__in=set(sources.values())),
        "external_id", {*bare_ids.values(), *prefixed.values()}).only("id", "source",
                                                                     "external_id")}
    bare_rows = {rows[(sources[i], value)] for i, value in bare_ids.items()
                 if (sources[i], value) in rows}
    made_by: dict[int, set[int]] = {}
    for feedback_id, integration_id in WebhookDelivery.objects.filter(
            integration__organisation_id=organisation_id,
            feedback_id__in=bare_rows).values_list("feedback_id", "integration_id"):
        made_by.setdefault(feedback_id, set()).add(integration_id)
    keyed = []
    for index, item in enumerate(items):
        if index not in bare_ids:
            keyed.append(item)
            continue
        source, bare = sources[index], bare_ids[index]
        bare_row = rows.get((source, bare))
        if (source, prefixed[index]) in rows:
            external_id = prefixed[index]
        elif bare_row is not None:
            owners = made_by.get(bare_row, set())
            mine = integration.pk in owners or (is_first and not owners)
            external_id = bare if mine else prefixed[index]
        else:
            external_id = bare if is_first else prefixed[index]
        keyed.append({**item, "external_id": external_id})
    return keyed


def delivery_retry(*, actor: Member, delivery: WebhookDelivery) -> WebhookDelivery:
    """Queue a failed delivery again (after its cause was fixed)."""
    _check_owner(actor, delivery.integration)
    if delivery.status != DeliveryStatus.FAILED:
        raise DomainError(_("Only a failed delivery can be retried; this one is %s.")
                          % delivery.get_status_display())
    delivery.status, delivery.error = DeliveryStatus.RECEIVED, ""
    delivery.save(update_fields=["status", "error"])
    _queue(delivery.pk)
    return delivery
