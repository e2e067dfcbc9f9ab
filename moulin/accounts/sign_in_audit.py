"""Receivers for Django's authentication hooks: each one only calls the audit service."""

from moulin.accounts.audit import Origin, audit_record
from moulin.accounts.models import Member, User


def on_signed_in(sender, request, user, **kwargs) -> None:
    member = Member.objects.filter(user_id=user.pk).select_related("organisation").first()
    if member:
        audit_record(organisation=member.organisation, actor=member, action="auth.sign_in",
                     origin=Origin.from_request(request), target=member)


def on_signed_out(sender, request, user, **kwargs) -> None:
    if user is None:
        return
    member = Member.objects.filter(user_id=user.pk).select_related("organisation").first()
    if member:
        audit_record(organisation=member.organisation, actor=member, action="auth.sign_out",
                     origin=Origin.from_request(request), target=member)


def on_sign_in_failed(sender, credentials, request=None, **kwargs) -> None:
    """Record a failed attempt against a known account (unknown addresses are not logged)."""
    email = str(credentials.get("username") or credentials.get("email") or "")[:254]
    user = User.objects.filter(email__iexact=email).first() if email else None
    member = getattr(user, "member", None) if user else None
    if member:
        audit_record(organisation=member.organisation, actor=None, actor_email=email,
                     action="auth.sign_in_failed", origin=Origin.from_request(request),
                     target=member)
