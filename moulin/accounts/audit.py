"""The audit log service: one function writes entries, one place lists what they mean."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from moulin.accounts.models import AuditEntry, Member, Organisation

# Every action the audit log knows, with the words an admin reads in the log.
ACTIONS = {
    "auth.sign_in": _("Signed in"),
    "auth.sign_in_failed": _("Failed sign-in"),
    "auth.sign_out": _("Signed out"),
    "auth.password_reset_requested": _("Password reset requested"),
    "auth.password_changed": _("Password changed"),
    "member.joined": _("Joined the organisation"),
    "member.role_changed": _("Role changed"),
    "member.department_changed": _("Department changed"),
    "member.squads_changed": _("Squads changed"),
    "member.deactivated": _("Member deactivated"),
    "member.reactivated": _("Member reactivated"),
    "invitation.sent": _("Invitation sent"),
    "invitation.revoked": _("Invitation revoked"),
    "permission.changed": _("Permission changed"),
    "permission.reset": _("Permissions reset to defaults"),
    "department.created": _("Department created"),
    "department.renamed": _("Department renamed"),
    "department.deleted": _("Department deleted"),
    "squad.created": _("Squad created"),
    "squad.updated": _("Squad updated"),
    "squad.deleted": _("Squad deleted"),
    "organisation.updated": _("Organisation settings changed"),
    "token.created": _("API token created"),
    "token.revoked": _("API token revoked"),
    "export.audit_log": _("Audit log exported"),
}

# The families of actions (the part before the dot), offered as filters in the audit log.
ACTION_GROUPS = {
    "auth": _("Sign-ins and passwords"),
    "member": _("Members"),
    "invitation": _("Invitations"),
    "permission": _("Permissions"),
    "department": _("Departments"),
    "squad": _("Squads"),
    "organisation": _("Organisation"),
    "token": _("API tokens"),
    "export": _("Exports"),
}


def register_actions(actions: dict, groups: dict | None = None) -> None:
    """Let a domain app add its audited actions (called from its AppConfig.ready())."""
    ACTIONS.update(actions)
    ACTION_GROUPS.update(groups or {})


@dataclass(frozen=True)
class Origin:
    """Where an action came from: the request's address and browser, or a command/task."""

    ip_address: str | None = None
    user_agent: str = ""
    via: str = "web"

    @classmethod
    def from_request(cls, request: HttpRequest | None, via: str = "web") -> Origin:
        if request is None:
            return cls(via=via)
        return cls(ip_address=client_ip(request),
                   user_agent=request.META.get("HTTP_USER_AGENT", "")[:300], via=via)


def client_ip(request: HttpRequest) -> str | None:
    """The client's address; behind TRUSTED_PROXY_COUNT proxies, read from X-Forwarded-For."""
    ip = request.META.get("REMOTE_ADDR") or None
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            ip = hops[-min(proxies, len(hops))]
    try:
        return str(ipaddress.ip_address(ip)) if ip else None
    except ValueError:
        return None


CLI = Origin(via="cli")


def audit_record(
    *,
    organisation: Organisation,
    actor: Member | None,
    action: str,
    origin: Origin,
    target: object | None = None,
    target_label: str = "",
    changes: dict | None = None,
    actor_email: str = "",
) -> AuditEntry:
    """Append one entry to the audit log (in the caller's transaction)."""
    if action not in ACTIONS:
        raise ValueError(f"Unknown audit action {action!r}: add it to audit.ACTIONS.")
    return AuditEntry.objects.create(
        organisation=organisation,
        actor=actor,
        actor_email=actor_email or (actor.user.email if actor else ""),
        action=action,
        target_type=type(target).__name__.lower() if target is not None else "",
        target_id=str(getattr(target, "pk", "") or "") if target is not None else "",
        target_label=(target_label or (str(target) if target is not None else ""))
        .replace("\x00", "")[:300],
        changes=_without_nul(changes or {}),
        ip_address=origin.ip_address,
        user_agent=origin.user_agent,
        via=origin.via,
    )


def _without_nul(value):
    """PostgreSQL cannot store NUL characters in text or JSON: drop them from what is logged."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_without_nul(str(k)): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_without_nul(v) for v in value]
    return value
