"""The two permission matrices: one cell at a time, or back to the defaults.

Each service takes keyword-only arguments and an explicit ``actor``, writes its audit entry,
raises a ``DomainError`` the caller can show, and leaves the transaction to the caller.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from moulin.accounts.audit import Origin, audit_record
from moulin.accounts.models import (
    Department,
    Member,
    PermissionGrant,
)
from moulin.core import policy
from moulin.core.errors import DomainError

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
