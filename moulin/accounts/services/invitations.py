"""Inviting people by email and turning an accepted invitation into a member.

Each service takes keyword-only arguments and an explicit ``actor``, writes its audit entry,
raises a ``DomainError`` the caller can show, and leaves the transaction to the caller.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from moulin.accounts.audit import Origin, audit_record
from moulin.accounts.models import (
    Department,
    Invitation,
    Member,
    Squad,
    User,
    hash_secret,
)
from moulin.accounts.services.organisation import member_create
from moulin.core import parsing, policy
from moulin.core.errors import Conflict, DomainError

# --- Invitations --------------------------------------------------------------------------------

def invitation_send(*, actor: Member, origin: Origin, email: str, full_name: str, role: str,
                    department: Department, squads: list[Squad], base_url: str) -> Invitation:
    """Invite someone by email; the link is valid for INVITATION_VALID_DAYS days."""
    email = User.objects.normalize_email(email).strip().lower()
    if role not in policy.Role.ALL:
        raise DomainError(_("Unknown role “%s”.") % role, field="role")
    if role == policy.Role.ADMIN and actor.role != policy.Role.ADMIN:
        raise DomainError(_("Only an administrator can invite another administrator."),
                          field="role")
    if department.organisation_id != actor.organisation_id:
        raise DomainError(_("Choose a department of your organisation."), field="department")
    if User.objects.filter(email__iexact=email).exists():
        raise Conflict(_("%s already has an account.") % email, field="email")
    now = timezone.now()
    # A new invitation to the same address replaces a pending one.
    Invitation.objects.filter(organisation=actor.organisation, email__iexact=email,
                              accepted_at=None, revoked_at=None).update(revoked_at=now)
    raw = Invitation.new_token()
    invitation = Invitation.objects.create(
        organisation=actor.organisation, email=email, full_name=full_name, role=role,
        department=department, token_hash=hash_secret(raw), invited_by=actor,
        expires_at=now + timedelta(days=settings.INVITATION_VALID_DAYS),
    )
    invitation.squads.set(squads)
    audit_record(organisation=actor.organisation, actor=actor, action="invitation.sent",
                 origin=origin, target=invitation, target_label=email,
                 changes={"role": role, "department": department.name})
    link = base_url.rstrip("/") + reverse("accounts:invitation_accept", args=[raw])
    language = actor.organisation.language
    inviter = actor.user.full_name
    org_name = actor.organisation.name

    def send() -> None:
        with translation.override(language):
            subject = _("%(inviter)s invites you to %(org)s on Moulin") % {
                "inviter": inviter, "org": org_name}
            body = render_to_string("accounts/email/invitation.txt", {
                "inviter": inviter, "organisation": org_name, "link": link,
                "days": settings.INVITATION_VALID_DAYS})
        send_mail(subject, body, None, [email])

    transaction.on_commit(send)
    invitation.raw_token = raw  # only for the caller (tests, API answer); never stored
    return invitation


def invitation_revoke(*, actor: Member, origin: Origin, invitation: Invitation) -> None:
    """Make a pending invitation link unusable."""
    if invitation.status != "pending":
        raise Conflict(_("This invitation is no longer pending."))
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at", "updated_at"])
    audit_record(organisation=actor.organisation, actor=actor, action="invitation.revoked",
                 origin=origin, target=invitation, target_label=invitation.email)


def invitation_find(raw_token: str) -> Invitation | None:
    """The pending invitation behind a link, or None when it is unknown or used."""
    return Invitation.objects.select_related("organisation", "department").filter(
        token_hash=hash_secret(raw_token)).first()


def invitation_accept(*, invitation: Invitation, full_name: str, password: str,
                      origin: Origin) -> Member:
    """Create the account the invitation promised and mark the link used."""
    if invitation.status != "pending":
        raise Conflict(_("This invitation link has expired or was already used. Ask your "
                         "administrator for a new one."))
    full_name = parsing.clean_text(full_name)
    if not full_name:
        raise DomainError(_("Tell us your name."), field="full_name")
    try:
        with transaction.atomic():
            member = member_create(
                organisation=invitation.organisation, email=invitation.email,
                full_name=full_name, role=invitation.role, department=invitation.department,
                password=password, squads=list(invitation.squads.all()),
            )
    except IntegrityError as exc:
        raise Conflict(_("%s already has an account.") % invitation.email) from exc
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_at", "updated_at"])
    audit_record(organisation=invitation.organisation, actor=member, action="member.joined",
                 origin=origin, target=member, changes={"role": member.role})
    return member
