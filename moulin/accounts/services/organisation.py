"""Organisations, members, departments and squads.

Each service takes keyword-only arguments and an explicit ``actor``, writes its audit entry,
raises a ``DomainError`` the caller can show, and leaves the transaction to the caller.
"""

from __future__ import annotations

from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from moulin.accounts.audit import Origin, audit_record
from moulin.accounts.models import (
    Department,
    Member,
    Organisation,
    PermissionGrant,
    Squad,
    User,
)
from moulin.core import parsing, policy
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
    name, description = parsing.clean_text(name), parsing.clean_text(description)
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
    name, description = parsing.clean_text(name), parsing.clean_text(description)
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
    name, mission = parsing.clean_text(name), parsing.clean_text(mission)
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
