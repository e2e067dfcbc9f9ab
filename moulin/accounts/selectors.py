"""Read queries of the back-office, always scoped by the permission policy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from moulin.accounts.models import (
    ApiToken,
    AuditEntry,
    Department,
    Invitation,
    Member,
    Organisation,
    PermissionGrant,
    Squad,
)
from moulin.core import policy
from moulin.core.policy import Action


def member_list(*, member: Member, search: str = "", role: str = "",
                department_id: int | None = None, squad_id: int | None = None,
                active: bool | None = None) -> QuerySet[Member]:
    """Members of the organisation, filtered, with department and squads prefetched."""
    qs = policy.scope(Member.objects.all(), member, "organisation")
    search = search.replace("\x00", "")  # PostgreSQL text cannot hold NUL; no name has one
    if search:
        qs = qs.filter(Q(user__full_name__icontains=search) | Q(user__email__icontains=search)
                       | Q(job_title__icontains=search))
    if role:
        qs = qs.filter(role=role)
    if department_id:
        qs = qs.filter(department_id=department_id)
    if squad_id:
        qs = qs.filter(squads__id=squad_id)
    if active is not None:
        qs = qs.filter(is_active=active)
    return (qs.select_related("user", "department").prefetch_related("squads")
            .order_by("user__full_name", "pk"))


def member_get(*, member: Member, pk: int, action: str = Action.VIEW) -> Member:
    """One member of the organisation (404 outside it, 403 without the right)."""
    target = get_object_or_404(
        Member.objects.select_related("user", "department").prefetch_related("squads"),
        pk=pk, organisation_id=member.organisation_id,
    )
    policy.check(member, "organisation", action, target)
    return target


def department_list(*, member: Member) -> QuerySet[Department]:
    """Departments with their head count."""
    return (policy.scope(Department.objects.all(), member, "organisation")
            .annotate(member_count=Count("members", filter=Q(members__is_active=True)))
            .order_by("name"))


def department_get(*, member: Member, pk: int, action: str = Action.VIEW) -> Department:
    department = get_object_or_404(Department, pk=pk, organisation_id=member.organisation_id)
    policy.check(member, "organisation", action, department)
    return department


def squad_list(*, member: Member) -> QuerySet[Squad]:
    """Squads with their lead and head count."""
    return (policy.scope(Squad.objects.all(), member, "organisation")
            .select_related("lead__user")
            .annotate(member_count=Count("members", filter=Q(members__is_active=True)))
            .order_by("name"))


def squad_get(*, member: Member, pk: int, action: str = Action.VIEW) -> Squad:
    squad = get_object_or_404(Squad.objects.select_related("lead__user"), pk=pk,
                              organisation_id=member.organisation_id)
    policy.check(member, "organisation", action, squad)
    return squad


def invitation_list(*, member: Member) -> QuerySet[Invitation]:
    """Invitations not yet accepted, newest first."""
    return (policy.scope(Invitation.objects.all(), member, "organisation", Action.CREATE)
            .filter(accepted_at=None).select_related("department", "invited_by__user"))


def invitation_get(*, member: Member, pk: int) -> Invitation:
    invitation = get_object_or_404(Invitation, pk=pk, organisation_id=member.organisation_id)
    policy.check(member, "organisation", Action.CHANGE, invitation)
    return invitation


def api_token_list(*, member: Member) -> QuerySet[ApiToken]:
    """The member's own tokens (admins manage their own too: tokens are personal)."""
    return ApiToken.objects.filter(member=member, organisation_id=member.organisation_id)


def api_token_get(*, member: Member, pk: int) -> ApiToken:
    return get_object_or_404(ApiToken, pk=pk, member=member,
                             organisation_id=member.organisation_id)


@dataclass
class MatrixRow:
    subject: str  # role key or department id
    label: str
    cells: list[dict]  # per module: {"module", "level", "default", "overridden"}


def permission_matrices(*, member: Member) -> tuple[list[MatrixRow], list[MatrixRow]]:
    """The role matrix and the department matrix, with defaults and overrides marked."""
    policy.check(member, "organisation", Action.CHANGE)
    overrides = {(g.subject_type, g.subject, g.module): policy.Level(g.level)
                 for g in PermissionGrant.objects.filter(organisation_id=member.organisation_id)}

    def row(subject_type: str, subject: str, label: str, default_for) -> MatrixRow:
        cells = []
        for key in policy.MODULES:
            default = default_for(key)
            value = overrides.get((subject_type, subject, key), default)
            cells.append({"module": key, "level": int(value), "default": int(default),
                          "overridden": value != default})
        return MatrixRow(subject=subject, label=label, cells=cells)

    roles = [
        row(PermissionGrant.ROLE, key, str(label),
            lambda module, key=key: policy.default_role_cap(key, module))
        for key, label in policy.Role.CHOICES if key != policy.Role.ADMIN
    ]
    departments = [
        row(PermissionGrant.DEPARTMENT, str(d.pk), d.name,
            lambda module, d=d: policy.default_department_grant(d.key, module))
        for d in Department.objects.filter(organisation_id=member.organisation_id)
        .order_by("name")
    ]
    return roles, departments


@dataclass
class AuditFilters:
    action: str = ""
    actor_id: int | None = None
    search: str = ""
    date_from: date | None = None
    date_to: date | None = None


def audit_entry_list(*, member: Member, filters: AuditFilters) -> QuerySet[AuditEntry]:
    """The organisation's audit log, newest first, filtered."""
    qs = policy.scope(AuditEntry.objects.all(), member, "audit")
    if filters.action:
        # "member" matches every member.* action; "member.role_changed" one action.
        if "." in filters.action:
            qs = qs.filter(action=filters.action)
        else:
            qs = qs.filter(action__startswith=filters.action + ".")
    if filters.actor_id:
        qs = qs.filter(actor_id=filters.actor_id)
    search = filters.search.replace("\x00", "")  # PostgreSQL text cannot hold NUL
    if search:
        qs = qs.filter(Q(target_label__icontains=search)
                       | Q(actor_email__icontains=search)
                       | Q(ip_address__startswith=search))
    zone = timezone.get_current_timezone()
    # A bound at the very edge of the calendar (year 1 or 9999) cannot be converted to UTC and
    # excludes nothing anyway: it is ignored.
    if filters.date_from and filters.date_from > date.min:
        qs = qs.filter(created_at__gte=datetime.combine(filters.date_from, time.min, zone))
    if filters.date_to and filters.date_to < date.max:
        qs = qs.filter(created_at__lte=datetime.combine(filters.date_to, time.max, zone))
    return qs.select_related("actor__user").order_by("-created_at", "-id")


def organisation_overview(*, member: Member) -> dict:
    """Counts for the home page."""
    org_id = member.organisation_id
    return {
        "members": Member.objects.filter(organisation_id=org_id, is_active=True).count(),
        "departments": Department.objects.filter(organisation_id=org_id).count(),
        "squads": Squad.objects.filter(organisation_id=org_id).count(),
        "pending_invitations": Invitation.objects.filter(
            organisation_id=org_id, accepted_at=None, revoked_at=None,
            expires_at__gt=timezone.now()).count(),
    }


def organisation_language(organisation_id: int) -> str:
    """The organisation's language: what background work writes its stored texts in (job
    messages, notes), whoever or whatever started it."""
    return (Organisation.objects.filter(pk=organisation_id).values_list("language", flat=True)
            .first() or settings.LANGUAGE_CODE)
