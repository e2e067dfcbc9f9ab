"""The permission policy: the one place that decides who may see and do what.

Moulin's rule has three layers, evaluated in this order:

1. **Tenancy** — a member only ever reaches objects of their own organisation. An object of
   another organisation does not exist for them (views answer 404, never 403).
2. **Role cap** — each role has a ceiling per module (a viewer can never edit anything).
3. **Department grant** — each department has a level per module (Sales may view roadmaps,
   Customer Success may contribute feedback but not manage priorities).

The effective level for a module is the lower of the role cap and the department grant.
Administrators always have ``manage`` everywhere. Both matrices are editable per organisation
(``accounts.PermissionGrant`` rows); the defaults below apply until an admin changes a cell.

This module knows nothing about the database tables that store grants: a member object only has
to offer ``organisation_id``, ``role``, ``department_key`` and ``level_for(module)``. That keeps
``core`` independent of ``accounts`` and lets views, API, exports and tasks share one function.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from functools import wraps
from typing import Protocol
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404
from django.shortcuts import redirect, resolve_url
from django.utils.translation import gettext_lazy as _


class Level(IntEnum):
    """How far a member may go in a module; each level includes the ones below it."""

    NONE = 0
    VIEW = 1
    CONTRIBUTE = 2
    MANAGE = 3

    @property
    def label(self) -> str:
        return str(LEVEL_LABELS[self])


LEVEL_LABELS = {
    Level.NONE: _("No access"),
    Level.VIEW: _("View"),
    Level.CONTRIBUTE: _("Contribute"),
    Level.MANAGE: _("Manage"),
}


class Action:
    """The verbs every route declares; each needs a minimum level."""

    VIEW = "view"
    CREATE = "create"
    CHANGE = "change"
    DELETE = "delete"
    EXPORT = "export"


ACTION_LEVEL = {
    Action.VIEW: Level.VIEW,
    Action.EXPORT: Level.VIEW,
    Action.CREATE: Level.CONTRIBUTE,
    Action.CHANGE: Level.MANAGE,
    Action.DELETE: Level.MANAGE,
}


@dataclass(frozen=True)
class Module:
    key: str
    label: object  # lazy translation
    description: object


# The modules of the product. Later issues add their module here, with its defaults.
MODULES: dict[str, Module] = {
    m.key: m
    for m in [
        Module("feedback", _("Feedback"), _("Customer feedback intake and the triage inbox")),
        Module("customers", _("Customers"), _("Accounts, contacts, ARR, health and renewals")),
        Module("features", _("Features"), _("Feature tree, scoring and prioritisation")),
        Module("roadmaps", _("Roadmaps"), _("Quarterly roadmap cycles and publication")),
        Module("launches", _("Launches"), _("Launch checklists and release notes")),
        Module("metrics", _("Metrics"), _("OKRs, North Star and product health")),
        Module("research", _("Research"), _("Participant panel and interviews")),
        Module("organisation", _("Organisation"), _("Members, departments, squads, settings")),
        Module("audit", _("Audit log"), _("Who did what, when and from where")),
    ]
}


class Role:
    ADMIN = "admin"
    PRODUCT_OPS = "product_ops"
    PRODUCT_MANAGER = "product_manager"
    CONTRIBUTOR = "contributor"
    VIEWER = "viewer"

    CHOICES = [
        (ADMIN, _("Administrator")),
        (PRODUCT_OPS, _("Product Ops")),
        (PRODUCT_MANAGER, _("Product manager")),
        (CONTRIBUTOR, _("Contributor")),
        (VIEWER, _("Viewer")),
    ]
    ALL = [key for key, _label in CHOICES]


V, C, M, N = Level.VIEW, Level.CONTRIBUTE, Level.MANAGE, Level.NONE

# Role ceilings per module (admins are not listed: they always manage everything).
DEFAULT_ROLE_CAPS: dict[str, dict[str, Level]] = {
    Role.PRODUCT_OPS: {
        "feedback": M, "customers": M, "features": M, "roadmaps": M, "launches": M,
        "metrics": M, "research": M, "organisation": V, "audit": N,
    },
    Role.PRODUCT_MANAGER: {
        "feedback": M, "customers": V, "features": M, "roadmaps": M, "launches": M,
        "metrics": C, "research": M, "organisation": V, "audit": N,
    },
    Role.CONTRIBUTOR: {
        "feedback": C, "customers": V, "features": C, "roadmaps": V, "launches": C,
        "metrics": V, "research": C, "organisation": V, "audit": N,
    },
    Role.VIEWER: {
        "feedback": V, "customers": V, "features": V, "roadmaps": V, "launches": V,
        "metrics": V, "research": V, "organisation": V, "audit": N,
    },
}

# Department grants per module, keyed by the department's stable ``key``. A department created
# by an admin (no key match) starts from ``custom``: view what is shared, contribute feedback.
DEFAULT_DEPARTMENT_GRANTS: dict[str, dict[str, Level]] = {
    "product": {
        "feedback": M, "customers": M, "features": M, "roadmaps": M, "launches": M,
        "metrics": M, "research": M, "organisation": V, "audit": N,
    },
    "tech": {
        "feedback": V, "customers": N, "features": C, "roadmaps": V, "launches": C,
        "metrics": V, "research": V, "organisation": V, "audit": N,
    },
    "customer_success": {
        "feedback": C, "customers": M, "features": V, "roadmaps": V, "launches": V,
        "metrics": V, "research": C, "organisation": V, "audit": N,
    },
    "sales": {
        "feedback": C, "customers": C, "features": V, "roadmaps": V, "launches": V,
        "metrics": N, "research": N, "organisation": V, "audit": N,
    },
    "marketing": {
        "feedback": C, "customers": V, "features": V, "roadmaps": V, "launches": C,
        "metrics": V, "research": C, "organisation": V, "audit": N,
    },
    "operations": {
        "feedback": C, "customers": V, "features": V, "roadmaps": V, "launches": V,
        "metrics": V, "research": N, "organisation": V, "audit": N,
    },
    "custom": {
        "feedback": C, "customers": N, "features": V, "roadmaps": V, "launches": V,
        "metrics": N, "research": N, "organisation": V, "audit": N,
    },
}


def default_role_cap(role: str, module: str) -> Level:
    """The role's ceiling for ``module`` before any admin change."""
    if role == Role.ADMIN:
        return Level.MANAGE
    return DEFAULT_ROLE_CAPS.get(role, {}).get(module, Level.NONE)


def default_department_grant(department_key: str | None, module: str) -> Level:
    """The department's level for ``module`` before any admin change."""
    grants = DEFAULT_DEPARTMENT_GRANTS.get(department_key or "custom")
    if grants is None:
        grants = DEFAULT_DEPARTMENT_GRANTS["custom"]
    return grants.get(module, Level.NONE)


class PolicyMember(Protocol):
    """What the policy needs to know about the person acting."""

    organisation_id: int
    role: str

    def level_for(self, module: str) -> Level: ...


def level(member: PolicyMember | None, module: str) -> Level:
    """The effective level of ``member`` in ``module`` (NONE for anonymous or inactive)."""
    if member is None or not getattr(member, "is_active", True):
        return Level.NONE
    if module not in MODULES:
        raise ValueError(f"Unknown module {module!r}: declare it in moulin.core.policy.MODULES.")
    if member.role == Role.ADMIN:
        return Level.MANAGE
    return member.level_for(module)


def can(member: PolicyMember | None, module: str, action: str, obj: Model | None = None) -> bool:
    """True when ``member`` may perform ``action`` in ``module`` (on ``obj`` if given)."""
    if action not in ACTION_LEVEL:
        raise ValueError(f"Unknown action {action!r}.")
    if member is None:
        return False
    if obj is not None and getattr(obj, "organisation_id", member.organisation_id) != (
        member.organisation_id
    ):
        return False
    return level(member, module) >= ACTION_LEVEL[action]


def can_see_customer_data(member: PolicyMember | None) -> bool:
    """True when ``member`` may see a customer's business data wherever it shows up.

    A customer's business data — its ARR (and currency), plan, segment, lifecycle, health score,
    renewal date and account owner — belongs to the "customers" module: it takes the right to
    view that module, even on pages of other modules (the feedback inbox, a feedback item, its
    export and API, triage's emerging themes and similar-feedback panel). The customer's name
    and CRM id are not business data: feedback keeps its source (a feature's page, stricter,
    also hides who asked). Figures aggregated over many customers (the ARR behind a feature or
    a theme, demand scores, insights by segment) are prioritisation data of their own module
    and do not go through this rule.
    """
    return can(member, "customers", Action.VIEW)


def can_see_customer_total(member: PolicyMember | None, customer_count: int) -> bool:
    """True when ``member`` may see a figure summed over ``customer_count`` customers (the ARR
    behind a group of feedback). A total over one customer is that customer's ARR: it follows
    ``can_see_customer_data`` (as the similar-feedback panel, where one customer is the rule).
    """
    return customer_count != 1 or can_see_customer_data(member)


# Why a filter or a sort on customers' business data was not applied (inbox, board, API).
CUSTOMER_DATA_REFUSED = _("Filtering or sorting by customers' business data (ARR, plan, segment, "
                          "lifecycle) needs access to the Customers module.")


def check(member: PolicyMember | None, module: str, action: str, obj: Model | None = None) -> None:
    """Raise 404 for another organisation's object, 403 when the action is not allowed."""
    if obj is not None and member is not None and getattr(
        obj, "organisation_id", member.organisation_id
    ) != member.organisation_id:
        raise Http404
    if not can(member, module, action, obj):
        raise PermissionDenied


def scope(queryset: QuerySet, member: PolicyMember | None, module: str,
          action: str = Action.VIEW) -> QuerySet:
    """Restrict ``queryset`` to the rows ``member`` may act on; empty when not allowed at all."""
    if member is None or not can(member, module, action):
        return queryset.none()
    return queryset.filter(organisation_id=member.organisation_id)


def requires(module: str, action: str):
    """Guard a view or API operation with the policy, and record the declaration.

    Anonymous browser requests are sent to the sign-in page; a signed-in user without a
    membership, or a member below the needed level, gets 403. API operations reach here only
    after token authentication (which sets ``request.member``). The ``moulin_policy`` marker is
    read by the route audit test: a route without it (or ``public``) fails the suite.
    """
    if module not in MODULES:
        raise ValueError(f"Unknown module {module!r}.")
    if action not in ACTION_LEVEL:
        raise ValueError(f"Unknown action {action!r}.")

    def decorate(view):
        @wraps(view)
        def guarded(request, *args, **kwargs):
            member = getattr(request, "member", None)
            if member is None:
                user = getattr(request, "user", None)
                if user is None or not user.is_authenticated:
                    login_url = resolve_url(settings.LOGIN_URL)
                    return redirect(f"{login_url}?{urlencode({'next': request.get_full_path()})}")
                raise PermissionDenied
            if not can(member, module, action):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        guarded.moulin_policy = (module, action)
        return guarded

    return decorate


def public(reason: str):
    """Mark a route that needs no member (sign-in, password reset, health check)."""

    def mark(func):
        func.moulin_public = reason
        return func

    return mark
