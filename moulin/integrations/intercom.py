"""Intercom: webhook topic notifications about conversations.

Intercom posts a ``notification_event`` whose ``data.item`` is the conversation, and signs the
raw body with the app's client secret: ``X-Hub-Signature: sha1=<hex HMAC-SHA1>``. A new
conversation from a customer (``conversation.user.created``) becomes one feedback item keyed
by the conversation id; each customer reply (``conversation.user.replied``) becomes one item
keyed by conversation and part ids. API 2.x conversations carry ``source``; 1.x ones carried
``conversation_message`` and ``user``: both are read.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from moulin.integrations.inbound import (
    InboundRequest,
    Parsed,
    PayloadError,
    SignatureError,
    datetime_from_timestamp,
    email_or_blank,
    hmac_digest,
    json_object,
    lookup,
    require_secret,
    same_signature,
    text_from_html,
    text_of,
)

SOURCE = "intercom"
CREATED_TOPICS = {"conversation.user.created"}
REPLIED_TOPICS = {"conversation.user.replied"}
# Who counts as the customer in a conversation (admins, bots and teams do not).
CUSTOMER_AUTHORS = {"user", "lead", "contact"}


def verify(request: InboundRequest, *, secret: str, now: float) -> None:
    require_secret(secret)
    received = request.header("x-hub-signature")
    if not received:
        raise SignatureError(_("The X-Hub-Signature header is missing: Intercom signs every "
                               "notification with your app's client secret."))
    expected = "sha1=" + hmac_digest(secret, request.body, "sha1").hex()
    if not same_signature(expected, received.lower()):
        raise SignatureError(_("X-Hub-Signature does not match the body: check that the "
                               "signing secret is the client secret of your Intercom app."))


def event_id(request: InboundRequest) -> str:
    try:
        return text_of(json_object(request).get("id"))[:200]
    except PayloadError:
        return ""


def reply(request: InboundRequest) -> None:
    return None


def parse(request: InboundRequest) -> Parsed:
    data = json_object(request)
    if data.get("type") != "notification_event":
        raise PayloadError(_("Not an Intercom notification: “type” should be "
                             "“notification_event”."))
    topic = text_of(data.get("topic"))
    if topic == "ping":
        return Parsed(ignored=_("Intercom's ping: the webhook is reachable."))
    if topic not in CREATED_TOPICS | REPLIED_TOPICS:
        return Parsed(ignored=_("The topic “%s” carries no customer message: subscribe to "
                                "conversation.user.created and conversation.user.replied.")
                      % topic[:80])
    conversation = lookup(data, "data", "item")
    if not isinstance(conversation, dict) or not text_of(conversation.get("id")):
        raise PayloadError(_("The notification has no conversation in data.item."))
    if topic in CREATED_TOPICS:
        items = [_opening_message(conversation)]
    else:
        items = _customer_replies(conversation)
    items = [item for item in items if item]
    if not items:
        return Parsed(ignored=_("The conversation has no customer message with text."))
    return Parsed(items=items)


def _opening_message(conversation: dict) -> dict | None:
    source = conversation.get("source") or conversation.get("conversation_message")
    if not isinstance(source, dict):
        return None
    author = source.get("author") if isinstance(source.get("author"), dict) else {}
    if text_of(author.get("type")) and text_of(author.get("type")) not in CUSTOMER_AUTHORS:
        return None
    text = text_from_html(text_of(source.get("body")))
    if not text:
        return None
    legacy_user = conversation.get("user") if isinstance(conversation.get("user"), dict) else {}
    links = [text_of(source.get("url"))] if text_of(source.get("url")) else []
    return {
        "source": SOURCE,
        "external_id": text_of(conversation.get("id")),
        "title": _subject(conversation)[:300],
        "text": text,
        "contact_email": (email_or_blank(author.get("email"))
                          or email_or_blank(legacy_user.get("email"))),
        "contact_name": text_of(author.get("name")) or text_of(legacy_user.get("name")),
        "created_at": datetime_from_timestamp(conversation.get("created_at")),
        "tags": _tags(conversation),
        "links": links,
        "attachments": _attachments(source.get("attachments")),
    }


def _customer_replies(conversation: dict) -> list[dict]:
    parts = lookup(conversation, "conversation_parts", "conversation_parts")
    replies = []
    for part in parts if isinstance(parts, list) else []:
        if not isinstance(part, dict):
            continue
        author = part.get("author") if isinstance(part.get("author"), dict) else {}
        text = text_from_html(text_of(part.get("body")))
        if text_of(author.get("type")) not in CUSTOMER_AUTHORS or not text:
            continue
        subject = _subject(conversation)
        replies.append({
            "source": SOURCE,
            "external_id": f"{text_of(conversation.get('id'))}/{text_of(part.get('id'))}",
            "title": (f"Re: {subject}" if subject else "")[:300],
            "text": text,
            "contact_email": email_or_blank(author.get("email")),
            "contact_name": text_of(author.get("name")),
            "created_at": datetime_from_timestamp(part.get("created_at")),
            "tags": _tags(conversation),
            "attachments": _attachments(part.get("attachments")),
        })
    return replies


def _subject(conversation: dict) -> str:
    source = conversation.get("source") or conversation.get("conversation_message") or {}
    subject = text_of(source.get("subject")) if isinstance(source, dict) else ""
    subject = subject or text_of(conversation.get("title"))
    return text_from_html(subject).replace("\n", " ")


def _tags(conversation: dict) -> list[str]:
    tags = lookup(conversation, "tags", "tags")
    names = [text_of(tag.get("name")) for tag in tags if isinstance(tag, dict)] \
        if isinstance(tags, list) else []
    return [name[:60] for name in names if name][:30]


def _attachments(attachments: object) -> list[dict]:
    if not isinstance(attachments, list):
        return []
    return [{"filename": text_of(a.get("name"))[:255],
             "content_type": text_of(a.get("content_type"))[:120],
             "size": a.get("filesize") if isinstance(a.get("filesize"), int) else None,
             "url": text_of(a.get("url"))[:2000]}
            for a in attachments[:50] if isinstance(a, dict)]
