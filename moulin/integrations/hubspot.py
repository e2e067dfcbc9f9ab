"""HubSpot: app webhooks (signature v3) and the workflow "Send a webhook" action.

HubSpot signs ``method + URI + body + timestamp`` with the app's client secret:
``X-HubSpot-Signature-v3 = base64(HMAC-SHA256)``, the timestamp (milliseconds) in
``X-HubSpot-Request-Timestamp``; a request older than 5 minutes is refused.

App webhooks post an array of events (``ticket.creation``, ``object.creation``…) that carry
ids, never the ticket's words: they are kept as *ignored* with that reason. Text comes from a
workflow "Send a webhook" action posting the ticket (or note) properties — either "include all
properties" (``{"objectId", "properties": {"subject": {"value": …}}}``) or a customised body
with flat keys (``subject``, ``content``, ``hs_ticket_priority``, ``email``).
"""

from __future__ import annotations

import hashlib

from django.utils.translation import gettext as _

from moulin.core import parsing
from moulin.integrations.inbound import (
    InboundRequest,
    Parsed,
    PayloadError,
    SignatureError,
    base64_signature,
    datetime_from_timestamp,
    email_or_blank,
    json_payload,
    require_fresh,
    require_secret,
    same_signature,
    text_from_html,
    text_of,
)

SOURCE = "hubspot"
PRIORITIES = {"low": "nice_to_have", "medium": "important", "high": "critical",
              "urgent": "critical"}
TEXT_PROPERTIES = ("content", "hs_note_body", "description", "text", "hs_body_preview")
ID_PROPERTIES = ("hs_object_id", "objectId", "ticket_id", "hs_ticket_id", "id")
# HubSpot computes v3 signatures over the URI with these escapes decoded.
URI_DECODED = {"%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$",
               "%27": "'", "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";"}


def verify(request: InboundRequest, *, secret: str, now: float) -> None:
    require_secret(secret)
    signature = request.header("x-hubspot-signature-v3")
    timestamp = request.header("x-hubspot-request-timestamp")
    if not signature:
        raise SignatureError(_("The X-HubSpot-Signature-v3 header is missing: use an app's "
                               "webhooks, or a workflow webhook with “Include request "
                               "signature in header”."))
    require_fresh(timestamp, now=now, header="X-HubSpot-Request-Timestamp", milliseconds=True)
    uri = request.url
    for escaped, character in URI_DECODED.items():
        uri = uri.replace(escaped, character).replace(escaped.lower(), character)
    message = f"{request.method}{uri}".encode() + request.body + timestamp.encode("utf-8")
    if not same_signature(base64_signature(secret, message), signature):
        raise SignatureError(_("X-HubSpot-Signature-v3 does not match: check that the "
                               "signing secret is your HubSpot app's client secret and that "
                               "HubSpot calls exactly the URL shown on the settings page."))


def event_id(request: InboundRequest) -> str:
    try:
        data = json_payload(request)
    except PayloadError:
        return ""
    if not isinstance(data, list) or not data:
        return ""
    keys = sorted(_event_key(event) for event in data if isinstance(event, dict))
    if len(keys) == 1:
        return f"event:{keys[0]}"[:200]
    # eventId alone is not guaranteed unique; a retried batch keeps the same events.
    return "events:" + hashlib.sha256("|".join(keys).encode()).hexdigest()[:48]


def reply(request: InboundRequest) -> None:
    return None


def parse(request: InboundRequest) -> Parsed:
    data = json_payload(request)
    if isinstance(data, list):
        if not all(isinstance(event, dict) for event in data):
            raise PayloadError(_("Expected an array of HubSpot event objects."))
        kinds = sorted({text_of(event.get("subscriptionType")) or "?" for event in data})
        return Parsed(ignored=_(
            "HubSpot webhook events (%s) carry object ids, not the ticket's text: add a "
            "workflow “Send a webhook” action that sends the ticket properties (see the "
            "settings page).") % ", ".join(kinds)[:120])
    if not isinstance(data, dict):
        raise PayloadError(_("Expected a JSON object (workflow webhook) or an array of "
                             "events."))
    properties = _properties(data)
    text = ""
    for name in TEXT_PROPERTIES:
        text = text_from_html(text_of(properties.get(name)))
        if text:
            break
    if not text:
        return Parsed(ignored=_("The HubSpot payload has no text: send the ticket's "
                                "“content” (or a note's “hs_note_body”) property."))
    external_id = ""
    for key in ID_PROPERTIES:
        external_id = text_of(properties.get(key)) or text_of(data.get(key))
        if external_id:
            break
    name = " ".join(part for part in (text_of(properties.get("firstname")),
                                      text_of(properties.get("lastname"))) if part)
    return Parsed(items=[{
        "source": SOURCE,
        "external_id": external_id[:200] or None,
        "title": text_of(properties.get("subject")).replace("\n", " ")[:300],
        "text": text,
        "contact_email": email_or_blank(properties.get("email")
                                        or properties.get("contact_email")),
        "contact_name": (name or text_of(properties.get("contact_name")))[:200],
        "created_at": _date(properties.get("createdate") or properties.get("hs_createdate")),
        "importance": PRIORITIES.get(text_of(properties.get("hs_ticket_priority")).lower(), ""),
    }])


def _event_key(event: dict) -> str:
    return "-".join(text_of(event.get(key)) for key in ("eventId", "subscriptionId",
                                                         "objectId", "occurredAt"))


def _properties(data: dict) -> dict:
    """Flat ``name → value`` properties from any of the workflow body shapes."""
    nested = data.get("properties")
    if not isinstance(nested, dict) and isinstance(data.get("object"), dict):
        nested = data["object"].get("properties")
    source = nested if isinstance(nested, dict) else data
    flat = {}
    for key, value in source.items():
        if isinstance(value, dict):  # "include all properties": {"value": …, "timestamp": …}
            value = value.get("value")
        flat[str(key)] = value
    return flat


def _date(value: object):
    text = text_of(value)
    if text.isdigit():
        return datetime_from_timestamp(int(text), milliseconds=len(text) > 11)
    try:
        return parsing.parse_datetime(text)
    except ValueError:
        return None
