"""Zendesk: a webhook connected to a trigger (with the JSON body the settings page suggests),
or subscribed to the ``zen:event-type:ticket.created`` event.

Zendesk signs ``timestamp + body`` with the webhook's signing secret:
``X-Zendesk-Webhook-Signature = base64(HMAC-SHA256)`` with the timestamp (ISO 8601, e.g.
``2021-03-25T05:09:27Z``) in ``X-Zendesk-Webhook-Signature-Timestamp``; a timestamp more than
5 minutes away from our clock is refused, so a captured request cannot be replayed later (each
Zendesk retry is signed again). The ticket id is the feedback's external id (prefixed with the
integration's id when the organisation has another Zendesk integration before it: see
``services._external_ids``), so a trigger that fires again for the same ticket updates it
instead of adding a copy.
"""

from __future__ import annotations

import re

from django.utils.translation import gettext as _

from moulin.core import parsing
from moulin.integrations.inbound import (
    InboundRequest,
    Parsed,
    PayloadError,
    SignatureError,
    base64_signature,
    email_or_blank,
    json_object,
    lookup,
    require_fresh,
    require_secret,
    same_signature,
    text_from_html,
    text_of,
)

SOURCE = "zendesk"
PRIORITIES = {"low": "nice_to_have", "normal": "important", "high": "critical",
              "urgent": "critical"}
# {{ticket.description}} starts with a rule and "Name, date" before the customer's words.
DESCRIPTION_HEADER = re.compile(r"^\s*-{10,}\s*\n+[^\n]*\n+")


def verify(request: InboundRequest, *, secret: str, now: float) -> None:
    require_secret(secret)
    signature = request.header("x-zendesk-webhook-signature")
    timestamp = request.header("x-zendesk-webhook-signature-timestamp")
    if not signature or not timestamp:
        raise SignatureError(_("The X-Zendesk-Webhook-Signature and "
                               "X-Zendesk-Webhook-Signature-Timestamp headers are required: "
                               "Zendesk sends them with every webhook request."))
    expected = base64_signature(secret, timestamp.encode("utf-8") + request.body)
    if not same_signature(expected, signature):
        raise SignatureError(_("X-Zendesk-Webhook-Signature does not match the body: check "
                               "that the signing secret is the one shown on the Zendesk "
                               "webhook."))
    # Checked once the signature holds: the timestamp is then Zendesk's own.
    require_fresh(timestamp, now=now, header="X-Zendesk-Webhook-Signature-Timestamp",
                  iso_8601=True)


def event_id(request: InboundRequest) -> str:
    try:
        data = json_object(request)
    except PayloadError:
        data = {}
    if text_of(data.get("type")).startswith("zen:event-type:") and text_of(data.get("id")):
        return f"event:{text_of(data.get('id'))}"[:200]
    invocation = request.header("x-zendesk-webhook-invocation-id")
    return f"invocation:{invocation}"[:200] if invocation else ""


def reply(request: InboundRequest) -> None:
    return None


def parse(request: InboundRequest) -> Parsed:
    data = json_object(request)
    if isinstance(data.get("ticket"), dict):
        return _ticket(data["ticket"])
    kind = text_of(data.get("type"))
    if kind == "zen:event-type:ticket.created":
        detail = data.get("detail")
        if not isinstance(detail, dict):
            raise PayloadError(_("The ticket.created event has no “detail” object."))
        return _ticket(detail)
    if kind.startswith("zen:event-type:"):
        return Parsed(ignored=_("The event “%s” is not a new ticket: subscribe the webhook "
                                "to ticket.created, or connect it to a trigger.") % kind[:80])
    raise PayloadError(_("Neither a {“ticket”: …} object nor a Zendesk event: set the webhook "
                         "body as shown on the integration's settings page."))


def _ticket(ticket: dict) -> Parsed:
    text = _description(ticket)
    if not text:
        return Parsed(ignored=_("The ticket has no description or comment text."))
    requester = ticket.get("requester") if isinstance(ticket.get("requester"), dict) else {}
    link = text_of(ticket.get("url")) or text_of(ticket.get("link"))
    if link and not link.startswith(("http://", "https://")) and "." in link.split("/")[0]:
        link = f"https://{link}"  # {{ticket.link}} renders without a scheme
    item = {
        "source": SOURCE,
        "external_id": text_of(ticket.get("id"))[:200] or None,
        "title": text_of(ticket.get("subject") or ticket.get("title")).replace("\n", " ")[:300],
        "text": text,
        "contact_email": email_or_blank(requester.get("email") or ticket.get("requester_email")),
        "contact_name": text_of(requester.get("name") or ticket.get("requester_name"))[:200],
        "created_at": _date(ticket.get("created_at")),
        "importance": PRIORITIES.get(text_of(ticket.get("priority")).lower(), ""),
        "tags": _tags(ticket.get("tags")),
        "links": [link] if link.startswith(("http://", "https://")) else [],
    }
    # An organisation external id names the customer in the CRM: when Moulin does not know it
    # yet the delivery fails with that message and can be retried once customers are synced.
    customer = text_of(lookup(ticket, "organization", "external_id"))
    if customer:
        item["customer_external_id"] = customer[:100]
    return Parsed(items=[item])


def _description(ticket: dict) -> str:
    for key in ("description", "latest_comment", "comment"):
        value = ticket.get(key)
        if isinstance(value, dict):
            value = value.get("html_body") or value.get("body")
        text = text_of(value)
        if text:
            return text_from_html(DESCRIPTION_HEADER.sub("", text, count=1))
    return ""


def _tags(value: object) -> list[str]:
    # Placeholders render {{ticket.tags}} as one space-separated string.
    raw = value.split() if isinstance(value, str) else value if isinstance(value, list) else []
    return [text_of(tag)[:60] for tag in raw if text_of(tag)][:30]


def _date(value: object):
    try:
        return parsing.parse_datetime(text_of(value))
    except ValueError:
        return None  # a placeholder rendered in a format we do not read: the arrival time
