"""Administration of the organisation: settings, members, invitations, departments, squads,
permission matrices. Each view: check access → validate → one service call → render."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from moulin.accounts import selectors, services
from moulin.accounts.audit import Origin
from moulin.accounts.forms import (
    DepartmentForm,
    InvitationForm,
    MemberForm,
    OrganisationForm,
    SquadForm,
)
from moulin.accounts.models import PermissionGrant
from moulin.core import parsing, policy
from moulin.core.errors import DomainError
from moulin.core.policy import Action
from moulin.core.views import render_form

ORG = "organisation"


def _form_error(form, error: DomainError) -> None:
    form.add_error(error.field if error.field in form.fields else None, error.message)


@policy.requires(ORG, Action.CHANGE)
def organisation_settings(request: HttpRequest) -> HttpResponse:
    """Name, language, time zone and currency of the organisation."""
    organisation = request.member.organisation
    form = OrganisationForm(request.POST or None, initial={
        "name": organisation.name, "language": organisation.language,
        "timezone_name": organisation.timezone, "currency": organisation.currency})
    if request.method == "POST" and form.is_valid():
        services.organisation_update(actor=request.member, origin=Origin.from_request(request),
                                     **form.cleaned_data)
        messages.success(request, _("Organisation settings saved."))
        return redirect("accounts:organisation_settings")
    return render_form(request, "accounts/organisation_settings.html", {"form": form},
                       invalid=bool(form.errors))


@policy.requires(ORG, Action.VIEW)
def member_list(request: HttpRequest) -> HttpResponse:
    """The directory of members, filterable; admins also see invitations here."""
    member = request.member
    params = request.GET
    department_id = parsing.parse_id(params.get("department"))
    squad_id = parsing.parse_id(params.get("squad"))
    status = params.get("status", "active")
    members = selectors.member_list(
        member=member, search=params.get("q", "").strip()[:100], role=params.get("role", ""),
        department_id=department_id, squad_id=squad_id,
        active={"active": True, "inactive": False}.get(status),
    )
    context = {
        "members": members,
        "departments": selectors.department_list(member=member),
        "squads": selectors.squad_list(member=member),
        "roles": policy.Role.CHOICES,
        "filters": {"q": params.get("q", ""), "role": params.get("role", ""),
                    "department": department_id, "squad": squad_id, "status": status},
        "can_manage": policy.can(member, ORG, Action.CHANGE),
    }
    template = "accounts/_member_rows.html" if request.htmx and request.htmx.target == \
        "member-rows" else "accounts/member_list.html"
    return render(request, template, context)


@policy.requires(ORG, Action.CHANGE)
def member_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Change a member's role, department and squads."""
    target = selectors.member_get(member=request.member, pk=pk, action=Action.CHANGE)
    form = MemberForm(request.POST or None, organisation_id=request.member.organisation_id,
                      initial={"role": target.role, "department": target.department,
                               "squads": list(target.squads.all()),
                               "job_title": target.job_title})
    if request.method == "POST" and form.is_valid():
        try:
            services.member_update(actor=request.member, origin=Origin.from_request(request),
                                   member=target, role=form.cleaned_data["role"],
                                   department=form.cleaned_data["department"],
                                   squads=list(form.cleaned_data["squads"]),
                                   job_title=form.cleaned_data["job_title"])
        except DomainError as error:
            _form_error(form, error)
        else:
            messages.success(request, _("%s is updated.") % target.name)
            return redirect("accounts:member_list")
    return render_form(request, "accounts/member_edit.html", {"form": form, "target": target},
                       invalid=bool(form.errors))


@policy.requires(ORG, Action.CHANGE)
@require_POST
def member_set_active(request: HttpRequest, pk: int) -> HttpResponse:
    """Deactivate or reactivate a member."""
    target = selectors.member_get(member=request.member, pk=pk, action=Action.CHANGE)
    active = request.POST.get("active") == "1"
    try:
        services.member_set_active(actor=request.member, origin=Origin.from_request(request),
                                   member=target, active=active)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, (_("%s is reactivated.") if active
                                   else _("%s is deactivated.")) % target.name)
    return redirect("accounts:member_list")


@policy.requires(ORG, Action.CREATE)
def invitation_list(request: HttpRequest) -> HttpResponse:
    """Pending invitations and the form to invite someone."""
    member = request.member
    form = InvitationForm(request.POST or None, organisation_id=member.organisation_id,
                          initial={"role": policy.Role.CONTRIBUTOR})
    if request.method == "POST" and form.is_valid():
        try:
            invitation = services.invitation_send(
                actor=member, origin=Origin.from_request(request),
                email=form.cleaned_data["email"], full_name=form.cleaned_data["full_name"],
                role=form.cleaned_data["role"], department=form.cleaned_data["department"],
                squads=list(form.cleaned_data["squads"]),
                base_url=request.build_absolute_uri("/"))
        except DomainError as error:
            _form_error(form, error)
        else:
            messages.success(request, _("Invitation sent to %s.") % invitation.email)
            return redirect("accounts:invitation_list")
    return render_form(request, "accounts/invitation_list.html",
                       {"form": form, "invitations": selectors.invitation_list(member=member)},
                       invalid=bool(form.errors))


@policy.requires(ORG, Action.CHANGE)
@require_POST
def invitation_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    invitation = selectors.invitation_get(member=request.member, pk=pk)
    try:
        services.invitation_revoke(actor=request.member, origin=Origin.from_request(request),
                                   invitation=invitation)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Invitation to %s revoked.") % invitation.email)
    return redirect("accounts:invitation_list")


@policy.requires(ORG, Action.VIEW)
def department_list(request: HttpRequest) -> HttpResponse:
    """Departments, and (for admins) a form to add one."""
    member = request.member
    can_manage = policy.can(member, ORG, Action.CHANGE)
    form = DepartmentForm(request.POST or None)
    if request.method == "POST":
        policy.check(member, ORG, Action.CHANGE)
        if form.is_valid():
            try:
                services.department_create(actor=member, origin=Origin.from_request(request),
                                           **form.cleaned_data)
            except DomainError as error:
                _form_error(form, error)
            else:
                messages.success(request, _("Department created."))
                return redirect("accounts:department_list")
    return render_form(request, "accounts/department_list.html",
                       {"form": form, "departments": selectors.department_list(member=member),
                        "can_manage": can_manage}, invalid=bool(form.errors))


@policy.requires(ORG, Action.CHANGE)
def department_edit(request: HttpRequest, pk: int) -> HttpResponse:
    department = selectors.department_get(member=request.member, pk=pk, action=Action.CHANGE)
    form = DepartmentForm(request.POST or None, initial={
        "name": department.name, "description": department.description})
    if request.method == "POST" and form.is_valid():
        try:
            services.department_update(actor=request.member, origin=Origin.from_request(request),
                                       department=department, **form.cleaned_data)
        except DomainError as error:
            _form_error(form, error)
        else:
            messages.success(request, _("Department saved."))
            return redirect("accounts:department_list")
    return render_form(request, "accounts/department_edit.html",
                       {"form": form, "department": department}, invalid=bool(form.errors))


@policy.requires(ORG, Action.DELETE)
@require_POST
def department_delete(request: HttpRequest, pk: int) -> HttpResponse:
    department = selectors.department_get(member=request.member, pk=pk, action=Action.DELETE)
    try:
        services.department_delete(actor=request.member, origin=Origin.from_request(request),
                                   department=department)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Department %s deleted.") % department.name)
    return redirect("accounts:department_list")


@policy.requires(ORG, Action.VIEW)
def squad_list(request: HttpRequest) -> HttpResponse:
    """Squads with their lead and size, and (for admins) a form to add one."""
    member = request.member
    form = SquadForm(request.POST or None, organisation_id=member.organisation_id)
    if request.method == "POST":
        policy.check(member, ORG, Action.CHANGE)
        if form.is_valid():
            try:
                services.squad_save(actor=member, origin=Origin.from_request(request), squad=None,
                                    **form.cleaned_data)
            except DomainError as error:
                _form_error(form, error)
            else:
                messages.success(request, _("Squad created."))
                return redirect("accounts:squad_list")
    return render_form(request, "accounts/squad_list.html",
                       {"form": form, "squads": selectors.squad_list(member=member),
                        "can_manage": policy.can(member, ORG, Action.CHANGE)},
                       invalid=bool(form.errors))


@policy.requires(ORG, Action.CHANGE)
def squad_edit(request: HttpRequest, pk: int) -> HttpResponse:
    squad = selectors.squad_get(member=request.member, pk=pk, action=Action.CHANGE)
    form = SquadForm(request.POST or None, organisation_id=request.member.organisation_id,
                     initial={"name": squad.name, "mission": squad.mission, "lead": squad.lead})
    if request.method == "POST" and form.is_valid():
        try:
            services.squad_save(actor=request.member, origin=Origin.from_request(request),
                                squad=squad, **form.cleaned_data)
        except DomainError as error:
            _form_error(form, error)
        else:
            messages.success(request, _("Squad saved."))
            return redirect("accounts:squad_list")
    return render_form(request, "accounts/squad_edit.html", {"form": form, "squad": squad},
                       invalid=bool(form.errors))


@policy.requires(ORG, Action.DELETE)
@require_POST
def squad_delete(request: HttpRequest, pk: int) -> HttpResponse:
    squad = selectors.squad_get(member=request.member, pk=pk, action=Action.DELETE)
    services.squad_delete(actor=request.member, origin=Origin.from_request(request), squad=squad)
    messages.success(request, _("Squad %s deleted.") % squad.name)
    return redirect("accounts:squad_list")


@policy.requires(ORG, Action.CHANGE)
def permissions(request: HttpRequest) -> HttpResponse:
    """The two permission matrices; each cell saves on change (htmx) or with the form."""
    member = request.member
    if request.method == "POST":
        try:
            services.permission_set(
                actor=member, origin=Origin.from_request(request),
                subject_type=request.POST.get("subject_type", ""),
                subject=request.POST.get("subject", ""), module=request.POST.get("module", ""),
                level=request.POST.get("level", ""))
        except (DomainError, ValueError) as error:
            message = getattr(error, "message", str(error))
            if request.htmx:
                return render(request, "accounts/_permission_status.html",
                              {"error": message}, status=422)
            messages.error(request, message)
        else:
            if request.htmx:
                return render(request, "accounts/_permission_status.html", {"saved": True})
            messages.success(request, _("Permission saved."))
        return redirect("accounts:permissions")
    roles, departments = selectors.permission_matrices(member=member)
    return render(request, "accounts/permissions.html", {
        "role_rows": roles, "department_rows": departments,
        "modules": list(policy.MODULES.values()),
        "levels": [(int(level), label) for level, label in policy.LEVEL_LABELS.items()],
        "ROLE": PermissionGrant.ROLE, "DEPARTMENT": PermissionGrant.DEPARTMENT,
    })


@policy.requires(ORG, Action.CHANGE)
@require_POST
def permissions_reset(request: HttpRequest) -> HttpResponse:
    count = services.permission_reset(actor=request.member, origin=Origin.from_request(request))
    messages.success(request, ngettext("Permissions reset to defaults (%d change undone).",
                                       "Permissions reset to defaults (%d changes undone).",
                                       count) % count)
    return redirect("accounts:permissions")
