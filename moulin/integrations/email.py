"""Inbound email: a raw RFC 822 message, posted as the body (``message/rfc822``,
``text/plain``) or as a form field the way inbound-parse services send it (SendGrid's "POST
the raw, full MIME message" → ``email``; Mailgun's routes to a URL ending in ``mime`` →
``body-mime``).

The URL key authenticates the sender. With a shared secret configured, one of these must also
prove it: the ``X-Moulin-Secret`` header, the password of HTTP Basic authentication
(``https://any:secret@host/…``, which SendGrid supports), or Mailgun's own signature
(``signature`` = hex HMAC-SHA256 of ``timestamp + token`` with the Mailgun signing key).

From becomes the contact (the customer follows by contact, then by email domain); when a
colleague forwards a customer's email, the forwarded message's author is the contact.
Message-ID is the external id, so the same email posted twice is one feedback item.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from datetime import UTC
from email import errors as email_errors
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parseaddr

from django.utils.translation import gettext as _

from moulin.integrations.inbound import (
    InboundRequest,
    Parsed,
    PayloadError,
    SignatureError,
    email_or_blank,
    form_fields,
    hmac_digest,
    same_signature,
    text_from_html,
    tidy_text,
)

SOURCE = "email"
FORM_FIELDS = ("email", "body-mime")  # SendGrid raw mode, Mailgun raw MIME
SUBJECT_PREFIXES = re.compile(r"^\s*((re|fwd?|tr|aw|wg|rv|sv)\s*:\s*)+", re.IGNORECASE)
FORWARD_MARKERS = re.compile(
    r"^\s*(-{2,}\s*(forwarded message|message transféré|original message|message d'origine)"
    r"\s*-{2,}|begin forwarded message:|début du message réexpédié\s*:)\s*$",
    re.IGNORECASE | re.MULTILINE)
FORWARDED_FROM = re.compile(r"^\s*\*?(from|de)\s*:\*?\s*(.+)$", re.IGNORECASE | re.MULTILINE)
# A malformed header makes the standard library raise one of these while reading it.
HEADER_ERRORS = (email_errors.MessageError, ValueError, IndexError, TypeError, AttributeError,
                 LookupError)


def verify(request: InboundRequest, *, secret: str, now: float) -> None:
    if not secret:
        return  # the URL key alone authenticates: it is as unguessable as a password
    shared = request.header("x-moulin-secret")
    if shared and same_signature(secret, shared):
        return
    password = _basic_password(request)
    if password is not None and same_signature(secret, password):
        return
    try:
        fields = _fields(request)
    except PayloadError:
        fields = {}
    timestamp, token = _text(fields.get("timestamp")), _text(fields.get("token"))
    signature = _text(fields.get("signature"))
    if timestamp and token and signature:
        expected = hmac_digest(secret, (timestamp + token).encode("utf-8")).hex()
        if same_signature(expected, signature.lower()):
            return
        raise SignatureError(_("The Mailgun signature does not match: the shared secret must "
                               "be your Mailgun HTTP webhook signing key."))
    raise SignatureError(_("This inbound address requires its shared secret: send it in the "
                           "X-Moulin-Secret header or as the HTTP Basic password, or let "
                           "Mailgun sign the request with it."))


def event_id(request: InboundRequest) -> str:
    try:
        headers = BytesParser(policy=policy.default).parsebytes(_raw_message(request),
                                                                headersonly=True)
        return _message_id(headers)
    except (PayloadError, *HEADER_ERRORS):
        return ""


def reply(request: InboundRequest) -> None:
    return None


def parse(request: InboundRequest) -> Parsed:
    message = BytesParser(policy=policy.default).parsebytes(_raw_message(request))
    if not any(_header(message, name) for name in ("from", "subject", "message-id", "date")):
        raise PayloadError(_("This is not an email: no From, Subject, Message-ID or Date "
                             "header was found."))
    text = _body_text(message)
    if not text:
        return Parsed(ignored=_("The email has no text (only attachments, or an empty "
                                "body)."))
    name, address = _sender(message)
    forwarded = _forwarded_author(text)
    if forwarded:
        name, address = forwarded
    sent = _header(message, "date")
    sent_at = getattr(sent, "datetime", None) if sent is not None else None
    if sent_at is not None and sent_at.tzinfo is None:
        sent_at = sent_at.replace(tzinfo=UTC)
    subject = SUBJECT_PREFIXES.sub("", _unsurrogate(str(_header(message, "subject") or "")))
    return Parsed(items=[{
        "source": SOURCE,
        "external_id": _message_id(message) or None,
        "title": subject.replace("\n", " ").strip()[:300],
        "text": text,
        "contact_email": address,
        "contact_name": name[:200],
        "created_at": sent_at,
        "attachments": _attachments(message),
    }])


# --- Reading the request ------------------------------------------------------------------------

def _fields(request: InboundRequest) -> dict[str, bytes]:
    """Form fields by name (bytes) for form posts; empty for a raw message body."""
    if request.content_type == "application/x-www-form-urlencoded":
        return {key: value.encode("utf-8") for key, value in form_fields(request).items()}
    if request.content_type != "multipart/form-data":
        return {}
    # A form post is a MIME multipart document: the email package reads it byte for byte,
    # which keeps an 8-bit message in a field exactly as it was sent.
    envelope = (b"Content-Type: " + request.header("content-type").encode("latin-1", "replace")
                + b"\r\n\r\n" + request.body)
    form = BytesParser(policy=policy.default).parsebytes(envelope)
    if not form.is_multipart():
        raise PayloadError(_("The multipart form cannot be read (missing boundary?)."))
    fields = {}
    for part in form.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str) and name not in fields:
            fields[name] = part.get_payload(decode=True) or b""
    return fields


def _raw_message(request: InboundRequest) -> bytes:
    fields = _fields(request)
    if request.content_type in {"multipart/form-data", "application/x-www-form-urlencoded"}:
        raw = next((fields[name] for name in FORM_FIELDS if fields.get(name)), b"")
        if not raw:
            raise PayloadError(_("The form has no “email” (SendGrid raw mode) or “body-mime” "
                                 "(Mailgun, URL ending in mime) field with the raw message."))
        return raw
    if not request.body.strip():
        raise PayloadError(_("The body is empty: post the raw MIME message."))
    return request.body


def _basic_password(request: InboundRequest) -> str | None:
    scheme, _space, credentials = request.header("authorization").partition(" ")
    if scheme.lower() != "basic" or not credentials:
        return None
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    return decoded.partition(":")[2]


def _text(value: bytes | None) -> str:
    return (value or b"").decode("utf-8", errors="replace").strip()


# --- Reading the message ------------------------------------------------------------------------

def _header(message: EmailMessage, name: str):
    try:
        return message[name]
    except HEADER_ERRORS:
        return None


def _unsurrogate(text: str) -> str:
    """Undo the escapes the parser uses for raw 8-bit header bytes (UTF-8, else Latin-1)."""
    raw = text.encode("utf-8", errors="surrogateescape")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _sender(message: EmailMessage) -> tuple[str, str]:
    header = _header(message, "from")
    if header is None:
        return "", ""
    try:
        addresses = header.addresses
    except HEADER_ERRORS:
        addresses = ()
    if addresses:
        return _unsurrogate(addresses[0].display_name or ""), email_or_blank(
            _unsurrogate(addresses[0].addr_spec))
    name, address = parseaddr(_unsurrogate(str(header)))
    return name, email_or_blank(address)


def _message_id(message: EmailMessage) -> str:
    value = _unsurrogate(str(_header(message, "message-id") or "")).strip().strip("<>").strip()
    if len(value) > 200:
        return "sha256:" + hashlib.sha256(value.encode()).hexdigest()[:48]
    return value


def _body_text(message: EmailMessage) -> str:
    try:
        part = message.get_body(preferencelist=("plain", "html"))
    except HEADER_ERRORS:
        part = None
    if part is None:
        return ""
    try:
        content = part.get_content()
    except HEADER_ERRORS:  # an unknown charset: read it as UTF-8, replacing what does not fit
        content = (part.get_payload(decode=True) or b"").decode("utf-8", errors="replace")
    if not isinstance(content, str):
        return ""
    if part.get_content_subtype() == "html":
        content = text_from_html(content)
    # The sender's signature ("-- " line) is not feedback.
    content = re.split(r"\r?\n-- ?\r?\n", content, maxsplit=1)[0]
    return tidy_text(content.replace("\x00", ""))


def _forwarded_author(text: str) -> tuple[str, str] | None:
    """The author of a forwarded message quoted in the body, when there is one."""
    marker = FORWARD_MARKERS.search(text)
    if not marker:
        return None
    header_block = "\n".join(text[marker.end():].lstrip("\n").split("\n")[:8])
    line = FORWARDED_FROM.search(header_block)
    if not line:
        return None
    name, address = parseaddr(line.group(2).replace("[mailto:", "<").replace("]", ">"))
    address = email_or_blank(address)
    return (name.strip("* "), address) if address else None


def _attachments(message: EmailMessage) -> list[dict]:
    found = []
    try:
        parts = list(message.iter_attachments()) if message.is_multipart() else []
    except HEADER_ERRORS:
        parts = []
    for part in parts[:50]:
        try:
            payload = part.get_payload(decode=True)
            filename = part.get_filename() or ""
        except HEADER_ERRORS:
            continue
        found.append({"filename": _unsurrogate(filename)[:255],
                      "content_type": part.get_content_type()[:120],
                      "size": len(payload) if isinstance(payload, bytes) else None})
    return found
