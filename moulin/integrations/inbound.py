"""What the vendor modules share: the request they read, what they make of it, and the small
tools every one of them needs (HMAC comparison, timestamp freshness, HTML to text).

Each vendor module (``intercom``, ``zendesk``, ``hubspot``, ``slack``, ``email``) offers the
same four functions and nothing else:

- ``verify(request, *, secret, now)`` raises ``SignatureError`` unless the vendor signed it;
- ``event_id(request)`` the vendor's id for the event (``""`` when it has none): a replayed
  delivery with the same id is answered without being processed twice;
- ``parse(request)`` → ``Parsed``: raw feedback dicts for ``feedback_input`` (or why there is
  nothing to import); raises ``PayloadError`` when the payload cannot be read;
- ``reply(request)`` the JSON the vendor expects back at once, or None (only Slack needs one).

They never touch the database: services store, dedupe and call the feedback hub.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import unescape
from html.parser import HTMLParser
from urllib.parse import parse_qs

from django.utils.translation import gettext as _

# Vendors retry or clocks drift a little; older signed requests are refused (Slack, HubSpot,
# Zendesk).
FRESHNESS_SECONDS = 5 * 60


class SignatureError(Exception):
    """The request is not proven to come from the vendor; the message says what to check."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = str(message)


class PayloadError(Exception):
    """The payload is signed but cannot be read as the vendor documents it."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = str(message)


@dataclass(frozen=True)
class InboundRequest:
    """One request as a vendor sent it: raw bytes, lower-cased headers, method and full URL."""

    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    method: str = "POST"
    url: str = ""

    def header(self, name: str) -> str:
        return str(self.headers.get(name.lower(), "")).strip()

    @property
    def content_type(self) -> str:
        return self.header("content-type").split(";")[0].strip().lower()

    def text(self) -> str:
        """The body as text; vendors send UTF-8 (a wrong byte becomes U+FFFD, never a crash)."""
        return self.body.decode("utf-8", errors="replace")


@dataclass
class Parsed:
    """What a payload holds for the feedback hub: items to upsert, or why there are none."""

    items: list[dict] = field(default_factory=list)
    ignored: str = ""


# --- Signatures ---------------------------------------------------------------------------------

def hmac_digest(secret: str, message: bytes, algorithm: str = "sha256") -> bytes:
    return hmac.new(secret.encode("utf-8"), message, getattr(hashlib, algorithm)).digest()


def same_signature(expected: str, received: str) -> bool:
    """Constant-time comparison of two signatures written as text."""
    return hmac.compare_digest(expected.encode("utf-8"), received.strip().encode("utf-8"))


def require_secret(secret: str) -> None:
    if not secret:
        raise SignatureError(_("No signing secret is configured for this integration: paste "
                               "the vendor's secret on its settings page."))


def require_fresh(timestamp: str, *, now: float, header: str, milliseconds: bool = False,
                  iso_8601: bool = False) -> None:
    """Refuse a missing, unreadable or stale timestamp (a replayed request).

    Unix seconds (or milliseconds), or an ISO 8601 date and time with ``iso_8601`` (Zendesk)."""
    if not timestamp:
        raise SignatureError(_("The %s header is missing.") % header)
    try:
        if iso_8601:
            sent_at = datetime.fromisoformat(timestamp)
            if sent_at.tzinfo is None:
                raise ValueError("no time zone")
            sent = sent_at.timestamp()
        else:
            sent = float(timestamp) / (1000 if milliseconds else 1)
    except (ValueError, OverflowError):
        raise SignatureError(_("The %s header is not a timestamp.") % header) from None
    if not math.isfinite(sent) or abs(now - sent) > FRESHNESS_SECONDS:
        raise SignatureError(_("The request is too old (or from the future): %s is more than "
                               "5 minutes away from our clock. Replayed requests are refused.")
                             % header)


def body_fingerprint(body: bytes) -> str:
    """An event id for vendors that send none: the same body twice is the same event."""
    return "sha256:" + hashlib.sha256(body).hexdigest()[:48]


def base64_signature(secret: str, message: bytes) -> str:
    return base64.b64encode(hmac_digest(secret, message)).decode("ascii")


def datetime_from_timestamp(value: object, *, milliseconds: bool = False) -> datetime | None:
    """A vendor's Unix timestamp (seconds or milliseconds) as an aware UTC datetime, or None."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        seconds = float(value) / (1000 if milliseconds else 1)
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (ValueError, OverflowError, OSError):
        return None


# --- Payload reading ----------------------------------------------------------------------------

def json_payload(request: InboundRequest) -> object:
    """The JSON body, or PayloadError naming the problem."""
    try:
        return json.loads(request.body.decode("utf-8"))
    except UnicodeDecodeError:
        raise PayloadError(_("The body is not UTF-8 text.")) from None
    except json.JSONDecodeError as exc:
        raise PayloadError(_("The body is not valid JSON (%(problem)s, at character "
                             "%(position)d).") % {"problem": exc.msg, "position": exc.pos}
                           ) from None
    except RecursionError:
        raise PayloadError(_("The JSON body is nested too deeply.")) from None


def json_object(request: InboundRequest) -> dict:
    data = json_payload(request)
    if not isinstance(data, dict):
        raise PayloadError(_("Expected a JSON object at the top level."))
    return data


def form_fields(request: InboundRequest) -> dict[str, str]:
    """An application/x-www-form-urlencoded body as a flat mapping (first value of each key)."""
    try:
        parsed = parse_qs(request.body.decode("utf-8"), keep_blank_values=True,
                          max_num_fields=1000)
    except UnicodeDecodeError:
        raise PayloadError(_("The form body is not UTF-8 text.")) from None
    except ValueError as exc:
        raise PayloadError(_("The form body cannot be read: %s.") % exc) from None
    return {key: values[0] for key, values in parsed.items() if values}


def lookup(data: object, *path: str | int) -> object:
    """``data[a][b]…`` or None as soon as a step is missing or of the wrong type."""
    for step in path:
        if isinstance(step, int):
            if not isinstance(data, list) or not -len(data) <= step < len(data):
                return None
        elif not isinstance(data, dict):
            return None
        data = data[step] if isinstance(step, int) else data.get(step)
    return data


def text_of(value: object) -> str:
    """A scalar payload value as text (numbers become their digits, the rest nothing)."""
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, str | int | float):
        return str(value).strip()
    return ""


_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


def email_or_blank(value: object) -> str:
    """A usable email address, lower-cased, or "" (a vendor's odd value never fails an item)."""
    text = text_of(value).lower()
    return text if _EMAIL.match(text) and len(text) <= 254 else ""


# --- HTML to text -------------------------------------------------------------------------------

# Paragraph-like tags are separated by a blank line, line-like ones by a line break.
_PARAGRAPHS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "ul", "ol",
               "table", "section", "article", "header", "footer", "hr"}
_LINES = {"br", "div", "tr"}
_SKIPPED = {"script", "style", "head", "title", "template"}


class _TextExtractor(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in _SKIPPED:
            self.skipping += 1
        elif tag in _PARAGRAPHS:
            self.parts.append("\n\n")
        elif tag in _LINES:
            self.parts.append("\n")
        elif tag == "li":
            self.parts.append("\n- ")

    def handle_endtag(self, tag):
        if tag in _SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _PARAGRAPHS:
            self.parts.append("\n\n")
        elif tag in _LINES - {"br"}:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)


def text_from_html(html: str) -> str:
    """Readable text from an HTML fragment: tags dropped, paragraphs kept, entities decoded."""
    if "<" not in html:
        return tidy_text(unescape(html))
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    return tidy_text("".join(extractor.parts))


def tidy_text(text: str) -> str:
    """Trim each line, collapse runs of spaces and of blank lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\xa0", " ")
    lines = [re.sub(r"[ \t\f\v]+", " ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
