"""Slack: the "Send to Moulin" message shortcut, the ``/feedback`` slash command, and the
Events API's URL verification.

Slack signs ``"v0:" + timestamp + ":" + body`` with the app's signing secret:
``X-Slack-Signature: v0=<hex HMAC-SHA256>``, the timestamp in ``X-Slack-Request-Timestamp``;
a request more than 5 minutes away from our clock is refused. Shortcuts arrive form-encoded
with a ``payload`` JSON field; slash commands as plain form fields. Slack waits 3 seconds for
an answer: ``reply`` gives the immediate one (the challenge, or an ephemeral message).
"""

from __future__ import annotations

import json
import re
from html import unescape

from django.utils.translation import gettext as _

from moulin.integrations.inbound import (
    InboundRequest,
    Parsed,
    PayloadError,
    SignatureError,
    datetime_from_timestamp,
    email_or_blank,
    form_fields,
    hmac_digest,
    json_object,
    require_fresh,
    require_secret,
    same_signature,
    text_of,
)

SOURCE = "slack"
# Slack's markup: <url|label>, <mailto:a@b.c|a@b.c>, <@U123|name>, <#C123|general>, <!here>.
MARKUP = re.compile(r"<([@#!]?)([^<>|]*)(?:\|([^<>]*))?>")
LEADING_EMAIL = re.compile(r"^\s*(\S+@\S+)\s+(.*)$", re.DOTALL)


def verify(request: InboundRequest, *, secret: str, now: float) -> None:
    require_secret(secret)
    signature = request.header("x-slack-signature")
    timestamp = request.header("x-slack-request-timestamp")
    if not signature:
        raise SignatureError(_("The X-Slack-Signature header is missing: Slack signs every "
                               "request with your app's signing secret."))
    require_fresh(timestamp, now=now, header="X-Slack-Request-Timestamp")
    base = b"v0:" + timestamp.encode("utf-8") + b":" + request.body
    if not same_signature("v0=" + hmac_digest(secret, base).hex(), signature):
        raise SignatureError(_("X-Slack-Signature does not match: check that the signing "
                               "secret is the one under Basic Information → App Credentials "
                               "in Slack."))


def _read(request: InboundRequest) -> tuple[str, dict]:
    """("event", body) for the Events API, ("interaction", payload) for shortcuts,
    ("command", fields) for slash commands, ("ssl_check", fields) for Slack's certificate
    check."""
    if request.content_type == "application/json":
        return "event", json_object(request)
    fields = form_fields(request)
    if "payload" in fields:
        try:
            payload = json.loads(fields["payload"])
        except (json.JSONDecodeError, RecursionError):
            raise PayloadError(_("The “payload” field is not valid JSON.")) from None
        if not isinstance(payload, dict):
            raise PayloadError(_("The “payload” field should hold a JSON object."))
        return "interaction", payload
    if "command" in fields:
        return "command", fields
    if fields.get("ssl_check"):
        return "ssl_check", fields
    raise PayloadError(_("Neither a shortcut (a “payload” field), a slash command (a "
                         "“command” field) nor an Events API request."))


def event_id(request: InboundRequest) -> str:
    try:
        kind, data = _read(request)
    except PayloadError:
        return ""
    if kind == "event":
        return f"event:{text_of(data.get('event_id'))}"[:200] if data.get("event_id") else ""
    trigger = text_of(data.get("trigger_id"))
    return f"trigger:{trigger}"[:200] if trigger else ""


def reply(request: InboundRequest) -> dict | None:
    """What Slack must get back at once; None for an empty 200."""
    try:
        kind, data = _read(request)
    except PayloadError:
        return None
    if kind == "event" and data.get("type") == "url_verification":
        return {"challenge": text_of(data.get("challenge"))}
    if kind == "command":
        if not clean_text(data.get("text", "")):
            return {"response_type": "ephemeral",
                    "text": _("Type the feedback after the command, for example: "
                              "%(command)s jane@customer.com Exports time out on large "
                              "workspaces.") % {"command": text_of(data.get("command"))[:40]}}
        return {"response_type": "ephemeral",
                "text": _("Thanks! Your feedback is recorded in Moulin.")}
    return None


def parse(request: InboundRequest) -> Parsed:
    kind, data = _read(request)
    if kind == "event":
        if data.get("type") == "url_verification":
            return Parsed(ignored=_("Slack's URL verification: answered with the "
                                    "challenge."))
        return Parsed(ignored=_("Events API “%s” requests are not imported: use the message "
                                "shortcut or the slash command.") % text_of(data.get("type"))[:60])
    if kind == "command":
        return _command(data)
    if kind == "ssl_check":
        return Parsed(ignored=_("Slack's certificate check: nothing to import."))
    if data.get("type") != "message_action":
        return Parsed(ignored=_("The interaction “%s” is not imported: create a message "
                                "shortcut (it sends message_action).")
                      % text_of(data.get("type"))[:60])
    return _message_shortcut(data)


def _message_shortcut(payload: dict) -> Parsed:
    message = payload.get("message") if isinstance(payload.get("message"), dict) else {}
    text = clean_text(message.get("text"))
    if not text:
        return Parsed(ignored=_("The message has no text."))
    channel = payload.get("channel") if isinstance(payload.get("channel"), dict) else {}
    team = payload.get("team") if isinstance(payload.get("team"), dict) else {}
    timestamp = text_of(payload.get("message_ts")) or text_of(message.get("ts"))
    channel_id, domain = text_of(channel.get("id")), text_of(team.get("domain"))
    links = []
    if domain and channel_id and re.fullmatch(r"\d+\.\d+", timestamp):
        links.append(f"https://{domain}.slack.com/archives/{channel_id}/"
                     f"p{timestamp.replace('.', '')}")
    return Parsed(items=[{
        "source": SOURCE,
        # The same message sent twice (by two people) is one piece of feedback.
        "external_id": f"{channel_id}/{timestamp}"[:200] if timestamp else None,
        "text": text,
        "created_at": datetime_from_timestamp(timestamp) if timestamp else None,
        "links": links,
    }])


def _command(fields: dict) -> Parsed:
    text = clean_text(fields.get("text", ""))
    if not text:
        return Parsed(ignored=_("The command had no text."))
    contact_email = ""
    leading = LEADING_EMAIL.match(text)
    if leading and email_or_blank(leading.group(1)):
        contact_email, text = email_or_blank(leading.group(1)), leading.group(2).strip()
    trigger = text_of(fields.get("trigger_id"))
    return Parsed(items=[{
        "source": SOURCE,
        "external_id": f"command/{trigger}"[:200] if trigger else None,
        "text": text,
        "contact_email": contact_email,
    }])


def clean_text(value: object) -> str:
    """Slack's markup turned into what a reader sees: labels, @names, #channels."""
    def plain(match: re.Match) -> str:
        sigil, target, label = match.group(1), match.group(2), match.group(3)
        if sigil == "!":  # <!here>, <!channel>, <!subteam^S123|@team>
            return label or f"@{target.split('^')[0]}"
        if label:
            return f"{sigil}{label}" if sigil in "@#" else label
        if target.startswith("mailto:"):
            return target[len("mailto:"):]
        return f"{sigil}{target}"

    return unescape(MARKUP.sub(plain, text_of(value))).strip()
