"""The home page: where a member lands after signing in."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from moulin.accounts import selectors
from moulin.accounts.audit import ACTIONS
from moulin.accounts.selectors import AuditFilters
from moulin.core import policy
from moulin.core.policy import Action


@policy.requires("organisation", Action.VIEW)
def home(request: HttpRequest) -> HttpResponse:
    """Organisation overview, the member's squads and access, recent activity for admins."""
    member = request.member
    recent = []
    if policy.can(member, "audit", Action.VIEW):
        recent = selectors.audit_entry_list(member=member, filters=AuditFilters())[:8]
    access = [
        {"module": module, "level": member.level_for(key) if not member.is_admin
         else policy.Level.MANAGE}
        for key, module in policy.MODULES.items()
    ]
    return render(request, "accounts/home.html", {
        "overview": selectors.organisation_overview(member=member),
        "my_squads": member.squads.all(),
        "recent": recent,
        "actions": ACTIONS,
        "access": access,
    })
