"""The vendors' signature algorithms as their documentation describes them, written again here
(not imported from the app) so that a mistake in the app's version fails the tests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time


def intercom_headers(secret: str, body: bytes) -> dict:
    """X-Hub-Signature: sha1=<hex HMAC-SHA1 of the raw body, keyed by the client secret>."""
    digest = hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
    return {"X-Hub-Signature": f"sha1={digest}"}


def zendesk_headers(secret: str, body: bytes, timestamp: str | None = None,
                    invocation_id: str = "8350205582") -> dict:
    """base64(HMAC-SHA256(secret, timestamp + body)); the timestamp (ISO 8601, e.g.
    "2026-11-24T10:12:09Z") is now unless given: older ones are refused as replays."""
    timestamp = timestamp or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return {"X-Zendesk-Webhook-Signature": base64.b64encode(digest).decode(),
            "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
            "X-Zendesk-Webhook-Id": "01F1KRFQ6BG29CNWFR60NK5FNY",
            "X-Zendesk-Webhook-Invocation-Id": invocation_id}


def hubspot_headers(secret: str, body: bytes, url: str, *, method: str = "POST",
                    age_seconds: float = 0) -> dict:
    """v3: base64(HMAC-SHA256(secret, method + URI + body + timestamp)), timestamp in ms."""
    timestamp = str(int((time.time() - age_seconds) * 1000))
    source = f"{method}{url}{body.decode()}{timestamp}"
    digest = hmac.new(secret.encode(), source.encode("utf-8"), hashlib.sha256).digest()
    return {"X-HubSpot-Signature-v3": base64.b64encode(digest).decode(),
            "X-HubSpot-Request-Timestamp": timestamp, "X-HubSpot-Signature-Version": "v3"}


def slack_headers(secret: str, body: bytes, *, age_seconds: float = 0) -> dict:
    """v0=<hex HMAC-SHA256(signing secret, "v0:" + timestamp + ":" + body)>."""
    timestamp = str(int(time.time() - age_seconds))
    base = b"v0:" + timestamp.encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Signature": f"v0={digest}", "X-Slack-Request-Timestamp": timestamp}


def mailgun_fields(signing_key: str, *, token: str = "a" * 50) -> dict:
    """Mailgun's form fields: signature = hex HMAC-SHA256(signing key, timestamp + token)."""
    timestamp = str(int(time.time()))
    signature = hmac.new(signing_key.encode(), (timestamp + token).encode(),
                         hashlib.sha256).hexdigest()
    return {"timestamp": timestamp, "token": token, "signature": signature}
