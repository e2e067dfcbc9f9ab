"""Personal data in what the integrations store: GDPR erasure of a person from the requests
(deliveries) the vendors sent, kept for inspection and retries.

A delivery's body is the vendor's request as it came: JSON (Intercom, Zendesk, HubSpot), a form
(Slack, Mailgun, SendGrid) or a raw email, kept in base64 when it is not UTF-8. The person's
values are replaced where they are written in clear: inside the strings of a JSON body (parsed,
so ``\\u`` escapes are seen and the JSON stays valid), as typed or URL-encoded in any other
body, and in the decoded bytes of a base64 body. A failed delivery retried after the erasure
is processed with the replacement instead of the person, as a verbatim is.

Not reached: values a MIME message encodes again (an RFC 2047 header such as
``=?iso-8859-1?q?Ren=E9e?=``, a quoted-printable or base64 part).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from urllib.parse import quote, quote_plus

from django.db.models import Q

from moulin.feedback.services.privacy import (
    personal_data_pattern,
    personal_data_scrubbed,
    personal_data_spellings,
)
from moulin.integrations.models import WebhookDelivery
from moulin.integrations.services import BODY_ENCODING


def _url_encoded(needles: list[str]) -> list[str]:
    """The values as a form body writes them ("Marie+Curie", "marie.curie%40acme.fr")."""
    return [form for needle in needles for form in (quote_plus(needle), quote(needle))]


def _scrubbed_body(body: str, *, base64_encoded: bool, pattern: re.Pattern[str],
                   replacement: str) -> str:
    if base64_encoded:
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            return body
        # Not UTF-8 (or holding a NUL) when it was stored: most often an 8-bit email in
        # Latin-1, which decodes any byte, so the bytes come back unchanged around the values.
        for encoding in ("utf-8", "latin-1"):
            try:
                text = raw.decode(encoding)
            except UnicodeDecodeError:
                continue
            scrubbed = pattern.sub(replacement, text)
            if scrubbed == text:
                return body
            return base64.b64encode(scrubbed.encode(encoding, errors="replace")).decode("ascii")
        return body
    if body.lstrip()[:1] in ("{", "["):
        try:
            data = json.loads(body)
        except ValueError:
            pass
        else:
            scrubbed_data = personal_data_scrubbed(data, pattern, replacement)
            return body if scrubbed_data == data else json.dumps(scrubbed_data,
                                                                  ensure_ascii=False)
    return pattern.sub(replacement, body)


def deliveries_scrub_personal_data(*, organisation_id: int, needles: list[str],
                                   replacement: str) -> int:
    """GDPR erasure: replace a person's name and address in the stored requests (body,
    headers, error message) of the organisation's integrations; returns the count changed."""
    if not needles:
        return 0
    url_forms = _url_encoded(needles)
    pattern = personal_data_pattern(list(dict.fromkeys([*needles, *url_forms])))
    spellings = personal_data_spellings(needles)
    # Read only the deliveries that hold a value (a LIKE on each column), and the base64
    # bodies, which no LIKE can see into (rare: 8-bit emails).
    query = Q(headers__has_key=BODY_ENCODING)
    for spelling in dict.fromkeys([*spellings, *url_forms]):
        query |= Q(body__icontains=spelling)
    for spelling in spellings:
        query |= Q(headers__icontains=spelling)
    for needle in needles:
        query |= Q(error__icontains=needle)
    deliveries = WebhookDelivery.objects.filter(
        query, integration__organisation_id=organisation_id).only(
            "pk", "body", "headers", "error").order_by()
    changed = []
    for delivery in deliveries.iterator(chunk_size=200):
        headers = dict(delivery.headers or {})
        body = _scrubbed_body(delivery.body, pattern=pattern, replacement=replacement,
                              base64_encoded=headers.get(BODY_ENCODING) == "base64")
        headers = personal_data_scrubbed(headers, pattern, replacement)
        error = pattern.sub(replacement, delivery.error)[:500]
        if (body, headers, error) != (delivery.body, delivery.headers, delivery.error):
            delivery.body, delivery.headers, delivery.error = body, headers, error
            changed.append(delivery)
    WebhookDelivery.objects.bulk_update(changed, ["body", "headers", "error"], batch_size=200)
    return len(changed)
