"""Actions that change organisations, people, permissions and tokens.

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
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from moulin.accounts.audit import Origin, audit_record
from moulin.accounts.models import (
    ApiToken,
    Department,
    Invitation,
    Member,
    Organisation,
    PermissionGrant,
    Squad,
    User,
    hash_secret,
)
from moulin.core import policy
from moulin.core.errors import Conflict, DomainError

# The departments a new organisation starts with (key, English name, French name).
DEFAULT_DEPARTMENTS = [
    ("product", "Product", "Produit"),
    ("tech", "Tech", "Tech"),
    ("customer_success", "Customer Success", "Customer Success"),
    ("sales", "Sales", "Ventes"),
    ("marketing", "Marketing", "Marketing"),
    ("operations", "Operations", "Opérations"),
]


# --- Organisations ------------------------------------------------------------------------------

def organisation_create(*, name: str, slug: str = "", language: str = "fr") -> Organisation:
    """Create an organisation with the default departments."""
    slug = slug or slugify(name)[:60]
    if not slug:
        raise DomainError(_("Give the organisation a name with letters or digits."), field="name")
    if Organisation.objects.filter(slug=slug).exists():
        raise Conflict(_("An organisation with the short name “%s” exists.") % slug, field="slug")
    organisation = Organisation.objects.create(name=name, slug=slug, language=language)
    for key, english, french in DEFAULT_DEPARTMENTS:
        Department.objects.create(
            organisation=organisation, key=key, name=french if language == "fr" else english
        )
    return organisation


def organisation_update(*, actor: Member, origin: Origin, name: str, language: str,
                        timezone_name: str, currency: str) -> Organisation:
    """Change the organisation's settings."""
    organisation = actor.organisation
    before = {"name": organisation.name, "language": organisation.language,
              "timezone": organisation.timezone, "currency": organisation.currency}
    organisation.name, organisation.language = name, language
    organisation.timezone, organisation.currency = timezone_name, currency.upper()
    organisation.save()
    after = {"name": name, "language": language, "timezone": timezone_name,
             "currency": currency.upper()}
    changes = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
    if changes:
        audit_record(organisation=organisation, actor=actor, action="organisation.updated",
                     origin=origin, target=organisation, changes=changes)
    return organisation


def member_create(*, organisation: Organisation, email: str, full_name: str, role: str,
                  department: Department, password: str | None = None,
                  squads: list[Squad] | None = None, job_title: str = "",
                  language: str = "") -> Member:
    """Create a user and their membership (invitations and the demo use this)."""
    if role not in policy.Role.ALL:
        raise DomainError(_("Unknown role “%s”.") % role, field="role")
    if department.organisation_id != organisation.pk:
        raise DomainError(_("Choose a department of this organisation."), field="department")
    email = User.objects.normalize_email(email).lower()
    if User.objects.filter(email__iexact=email).exists():
        raise Conflict(_("Someone already uses the address %s.") % email, field="email")
    user = User.objects.create_user(email, password, full_name=full_name, language=language)
    member = Member.objects.create(organisation=organisation, user=user, role=role,
                                   department=department, job_title=job_title)
    if squads:
        member.squads.set(squads)
    return member


def _active_admins(organisation_id: int):
    return Member.objects.filter(organisation_id=organisation_id, role=policy.Role.ADMIN,
                                 is_active=True, user__is_active=True)


def member_update(*, actor: Member, origin: Origin, member: Member, role: str,
                  department: Department, squads: list[Squad], job_title: str) -> Member:
    """Change a member's role, department and squads; each change is audited."""
    if member.organisation_id != actor.organisation_id:
        raise DomainError(_("This member is not in your organisation."))
    if role not in policy.Role.ALL:
        raise DomainError(_("Unknown role “%s”.") % role, field="role")
    if department.organisation_id != actor.organisation_id:
        raise DomainError(_("Choose a department of your organisation."), field="department")
    if any(squad.organisation_id != actor.organisation_id for squad in squads):
        raise DomainError(_("Choose squads of your organisation."), field="squads")
    if (member.role == policy.Role.ADMIN and role != policy.Role.ADMIN
            and _active_admins(member.organisation_id).exclude(pk=member.pk).count() == 0):
        raise Conflict(_("The organisation needs at least one administrator: promote someone "
                         "else before changing this role."), field="role")
    organisation = member.organisation
    if member.role != role:
        audit_record(organisation=organisation, actor=actor, action="member.role_changed",
                     origin=origin, target=member, changes={"role": [member.role, role]})
        member.role = role
    if member.department_id != department.pk:
        audit_record(organisation=organisation, actor=actor, action="member.department_changed",
                     origin=origin, target=member,
                     changes={"department": [member.department.name, department.name]})
        member.department = department
    before_squads = sorted(s.name for s in member.squads.all())
    after_squads = sorted(s.name for s in squads)
    if before_squads != after_squads:
        member.squads.set(squads)
        audit_record(organisation=organisation, actor=actor, action="member.squads_changed",
                     origin=origin, target=member, changes={"squads": [before_squads,
                                                                        after_squads]})
    member.job_title = job_title
    member.save()
    member.__dict__.pop("_levels", None)
    return member


def member_set_active(*, actor: Member, origin: Origin, member: Member, active: bool) -> Member:
    """Deactivate (sign-in refused, tokens stop working) or reactivate a member."""
    if member.organisation_id != actor.organisation_id:
        raise DomainError(_("This member is not in your organisation."))
    if member.is_active == active:
        return member
    if not active and member.pk == actor.pk:
        raise Conflict(_("You cannot deactivate yourself."))
    if (not active and member.role == policy.Role.ADMIN
            and _active_admins(member.organisation_id).exclude(pk=member.pk).count() == 0):
        raise Conflict(_("The organisation needs at least one active administrator."))
    member.is_active = active
    member.save(update_fields=["is_active", "updated_at"])
    User.objects.filter(pk=member.user_id).update(is_active=active)
    audit_record(organisation=member.organisation, actor=actor, origin=origin, target=member,
                 action="member.reactivated" if active else "member.deactivated")
    return member


# --- Departments and squads ---------------------------------------------------------------------

def department_create(*, actor: Member, origin: Origin, name: str,
                      description: str = "") -> Department:
    """Add a department; it starts with the 'custom' default permissions."""
    name = name.strip()
    if not name:
        raise DomainError(_("Give the department a name."), field="name")
    organisation = actor.organisation
    if Department.objects.filter(organisation=organisation, name__iexact=name).exists():
        raise Conflict(_("A department named “%s” exists already.") % name, field="name")
    base = slugify(name)[:50] or "department"
    key, n = base, 1
    while Department.objects.filter(organisation=organisation, key=key).exists():
        n += 1
        key = f"{base}-{n}"
    department = Department.objects.create(organisation=organisation, name=name, key=key,
                                           description=description)
    audit_record(organisation=organisation, actor=actor, action="department.created",
                 origin=origin, target=department)
    return department


def department_update(*, actor: Member, origin: Origin, department: Department, name: str,
                      description: str) -> Department:
    """Rename or describe a department (its permissions follow it)."""
    name = name.strip()
    if not name:
        raise DomainError(_("Give the department a name."), field="name")
    if Department.objects.filter(organisation_id=actor.organisation_id,
                                 name__iexact=name).exclude(pk=department.pk).exists():
        raise Conflict(_("A department named “%s” exists already.") % name, field="name")
    if department.name != name:
        audit_record(organisation=actor.organisation, actor=actor, action="department.renamed",
                     origin=origin, target=department, changes={"name": [department.name, name]})
    department.name, department.description = name, description
    department.save()
    return department


def department_delete(*, actor: Member, origin: Origin, department: Department) -> None:
    """Delete an empty department (members must be moved first)."""
    count = department.members.count()
    if count:
        raise Conflict(ngettext(
            "%(n)d member belongs to %(name)s: move them to another department first.",
            "%(n)d members belong to %(name)s: move them to another department first.",
            count) % {"n": count, "name": department.name})
    PermissionGrant.objects.filter(organisation_id=department.organisation_id,
                                   subject_type=PermissionGrant.DEPARTMENT,
                                   subject=str(department.pk)).delete()
    audit_record(organisation=actor.organisation, actor=actor, action="department.deleted",
                 origin=origin, target=department)
    department.delete()


def squad_save(*, actor: Member, origin: Origin, squad: Squad | None, name: str, mission: str,
               lead: Member | None) -> Squad:
    """Create or update a squad."""
    name = name.strip()
    if not name:
        raise DomainError(_("Give the squad a name."), field="name")
    clash = Squad.objects.filter(organisation_id=actor.organisation_id, name__iexact=name)
    if squad is not None:
        clash = clash.exclude(pk=squad.pk)
    if clash.exists():
        raise Conflict(_("A squad named “%s” exists already.") % name, field="name")
    if lead is not None and lead.organisation_id != actor.organisation_id:
        raise DomainError(_("Choose a lead from your organisation."), field="lead")
    created = squad is None
    squad = squad or Squad(organisation=actor.organisation)
    squad.name, squad.mission, squad.lead = name, mission, lead
    squad.save()
    audit_record(organisation=actor.organisation, actor=actor, origin=origin, target=squad,
                 action="squad.created" if created else "squad.updated")
    return squad


def squad_delete(*, actor: Member, origin: Origin, squad: Squad) -> None:
    """Delete a squad; its members stay in the organisation."""
    audit_record(organisation=actor.organisation, actor=actor, action="squad.deleted",
                 origin=origin, target=squad)
    squad.delete()


# --- Permissions --------------------------------------------------------------------------------

def permission_set(*, actor: Member, origin: Origin, subject_type: str, subject: str,
                   module: str, level: int) -> PermissionGrant | None:
    """Set one cell of the role or department matrix (a default value removes the override)."""
    if module not in policy.MODULES:
        raise DomainError(_("Unknown module “%s”.") % module, field="module")
    try:
        new_level = policy.Level(int(level))
    except ValueError as exc:
        raise DomainError(_("Unknown permission level."), field="level") from exc
    organisation = actor.organisation
    if subject_type == PermissionGrant.ROLE:
        if subject not in policy.Role.ALL or subject == policy.Role.ADMIN:
            raise DomainError(_("Administrators always have every permission."), field="subject")
        default = policy.default_role_cap(subject, module)
        label = dict(policy.Role.CHOICES)[subject]
    elif subject_type == PermissionGrant.DEPARTMENT:
        department = Department.objects.filter(organisation=organisation, pk=subject).first()
        if department is None:
            raise DomainError(_("Unknown department."), field="subject")
        default = policy.default_department_grant(department.key, module)
        label = department.name
    else:
        raise DomainError(_("Unknown kind of permission."), field="subject_type")
    existing = PermissionGrant.objects.filter(organisation=organisation,
                                              subject_type=subject_type, subject=subject,
                                              module=module).first()
    old_level = policy.Level(existing.level) if existing else default
    if old_level == new_level:
        return existing
    audit_record(
        organisation=organisation, actor=actor, action="permission.changed", origin=origin,
        target_label=f"{label} · {policy.MODULES[module].label}",
        changes={"subject_type": subject_type, "subject": str(label), "module": module,
                 "level": [old_level.name.lower(), new_level.name.lower()]},
    )
    if new_level == default:
        if existing:
            existing.delete()
        return None
    grant, _created = PermissionGrant.objects.update_or_create(
        organisation=organisation, subject_type=subject_type, subject=subject, module=module,
        defaults={"level": int(new_level)},
    )
    return grant


def permission_reset(*, actor: Member, origin: Origin) -> int:
    """Drop every override: both matrices go back to Moulin's defaults."""
    deleted, _details = PermissionGrant.objects.filter(organisation=actor.organisation).delete()
    audit_record(organisation=actor.organisation, actor=actor, action="permission.reset",
                 origin=origin, changes={"overrides_removed": deleted})
    return deleted


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
    full_name = full_name.strip()
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


# --- API tokens --------------------------------------------------------------------------------

def api_token_create(*, actor: Member, origin: Origin, name: str, scope: str,
                     expires_in_days: int | None = None) -> tuple[ApiToken, str]:
    """Create a personal token; returns the token row and the secret (shown once)."""
    name = name.strip()
    if not name:
        raise DomainError(_("Name the token after what will use it."), field="name")
    if scope not in (ApiToken.READ, ApiToken.WRITE):
        raise DomainError(_("The scope must be “read” or “write”."), field="scope")
    if expires_in_days is not None and not 1 <= expires_in_days <= 3650:
        raise DomainError(_("A token lasts between 1 and 3650 days."), field="expires_in_days")
    secret = ApiToken.new_secret()
    token = ApiToken.objects.create(
        organisation=actor.organisation, member=actor, name=name[:100], scope=scope,
        token_hash=hash_secret(secret), token_prefix=secret[:10],
        expires_at=timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    audit_record(organisation=actor.organisation, actor=actor, action="token.created",
                 origin=origin, target=token, target_label=f"{token.name} ({token.token_prefix}…)",
                 changes={"scope": scope})
    return token, secret


def api_token_revoke(*, actor: Member, origin: Origin, token: ApiToken) -> None:
    """Revoke a token: the next request that uses it is refused."""
    if token.member_id != actor.pk and actor.role != policy.Role.ADMIN:
        raise DomainError(_("You can only revoke your own tokens."))
    if token.revoked_at:
        return
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at", "updated_at"])
    audit_record(organisation=actor.organisation, actor=actor, action="token.revoked",
                 origin=origin, target=token, target_label=f"{token.name} ({token.token_prefix}…)")


# How often last_used_at is written: a busy integration must not write on every request.
TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)


def api_token_authenticate(secret: str) -> ApiToken | None:
    """The usable token behind a bearer secret (its member active), or None."""
    if not secret or not secret.startswith(ApiToken.PREFIX) or len(secret) > 200:
        return None
    token = (ApiToken.objects.select_related("member__user", "member__department",
                                              "member__organisation")
             .filter(token_hash=hash_secret(secret)).first())
    if token is None or not token.is_usable:
        return None
    if not token.member.is_active or not token.member.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > TOKEN_TOUCH_INTERVAL:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def user_password_event(*, email: str, action: str, origin: Origin) -> None:
    """Audit a password reset request or change for the account behind ``email`` (if any).

    Nothing is visible to the visitor either way, so this reveals no account."""
    member = (Member.objects.select_related("organisation")
              .filter(user__email__iexact=email.strip()).first())
    if member is not None:
        audit_record(organisation=member.organisation, actor=member, action=action,
                     origin=origin, target=member)


def user_set_language(*, user: User, language: str) -> None:
    """Remember the interface language a person chose."""
    if language not in dict(settings.LANGUAGES):
        raise DomainError(_("Unknown language."), field="language")
    user.language = language
    user.save(update_fields=["language"])
