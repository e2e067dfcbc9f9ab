"""The back-office API: who am I, members, departments, squads, invitations, audit log."""


from datetime import date, datetime

from django.db import transaction
from django.http import HttpRequest
from django.utils import translation
from ninja import Field, Query, Router, Schema, Status
from ninja.security import HttpBearer

from moulin.accounts import selectors, services
from moulin.accounts.audit import ACTIONS, Origin
from moulin.accounts.models import ApiToken, AuditEntry, Member, Squad
from moulin.core import policy
from moulin.core.api import ObjectId, page_schema, paginate, responses
from moulin.core.errors import DomainError
from moulin.core.policy import Action

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class ReadOnlyToken(DomainError):
    """A read-scope token tried to change data: a client can tell this from other 403s."""

    status = 403
    code = "read_only_token"


class BearerToken(HttpBearer):
    """Personal API tokens: ``Authorization: Bearer mln_…``; read-only tokens cannot write."""

    def authenticate(self, request: HttpRequest, token: str) -> "ApiToken | None":
        api_token = services.api_token_authenticate(token.strip())
        if api_token is None:
            return None
        if api_token.scope == ApiToken.READ and request.method not in SAFE_METHODS:
            raise ReadOnlyToken("This token is read-only: create a token with the write "
                                "scope to change data.")
        request.member = api_token.member
        request.api_token = api_token
        # API messages are in English unless the client asks otherwise (Accept-Language).
        language = "en"
        if request.headers.get("Accept-Language"):
            language = translation.get_language_from_request(request)
        translation.activate(language)
        request.LANGUAGE_CODE = language
        return api_token


def api_origin(request: HttpRequest) -> Origin:
    return Origin.from_request(request, via="api")


router = Router(tags=["Organisation"])

ORG = "organisation"


class DepartmentOut(Schema):
    id: int
    name: str
    key: str
    description: str


class SquadOut(Schema):
    id: int
    name: str
    mission: str
    lead_id: int | None


class MemberOut(Schema):
    id: int
    email: str
    full_name: str
    role: str
    job_title: str
    is_active: bool
    department: DepartmentOut
    squads: list[SquadOut]

    @staticmethod
    def resolve_email(obj: Member) -> str:
        return obj.user.email

    @staticmethod
    def resolve_full_name(obj: Member) -> str:
        return obj.user.full_name

    @staticmethod
    def resolve_squads(obj: Member) -> list[Squad]:
        return list(obj.squads.all())


class OrganisationOut(Schema):
    id: int
    name: str
    slug: str
    language: str
    timezone: str
    currency: str


class MeOut(MemberOut):
    organisation: OrganisationOut
    permissions: dict[str, str] = Field(
        description="Effective level per module: none, view, contribute or manage.")
    token_scope: str

    @staticmethod
    def resolve_permissions(obj: Member) -> dict[str, str]:
        return {key: policy.level(obj, key).name.lower() for key in policy.MODULES}

    @staticmethod
    def resolve_token_scope(obj: Member, context) -> str:
        return context["request"].api_token.scope


MemberPage = page_schema(MemberOut)


@router.get("/me", response=responses({200: MeOut}), summary="The member behind this token")
@policy.requires(ORG, Action.VIEW)
def me(request: HttpRequest):
    return request.member


@router.get("/members", response=responses({200: MemberPage}), summary="List members")
@policy.requires(ORG, Action.VIEW)
def list_members(request: HttpRequest, q: str = "", role: str = "",
                 department_id: ObjectId | None = None, squad_id: ObjectId | None = None,
                 active: bool | None = None, cursor: str | None = None,
                 limit: int = Query(50, ge=1, le=200)):
    members = selectors.member_list(member=request.member, search=q[:100], role=role,
                                    department_id=department_id, squad_id=squad_id,
                                    active=active)
    return paginate(members, cursor=cursor, limit=limit, ordering=("id",))


@router.get("/members/{member_id}", response=responses({200: MemberOut}),
            summary="One member")
@policy.requires(ORG, Action.VIEW)
def get_member(request: HttpRequest, member_id: int):
    return selectors.member_get(member=request.member, pk=member_id)


class MemberUpdateIn(Schema):
    role: str | None = Field(None, description="admin, product_ops, product_manager, "
                                               "contributor or viewer")
    department_id: ObjectId | None = None
    squad_ids: list[ObjectId] | None = None
    job_title: str | None = Field(None, max_length=120)


@router.patch("/members/{member_id}", response=responses({200: MemberOut}),
              summary="Change a member's role, department or squads")
@policy.requires(ORG, Action.CHANGE)
def update_member(request: HttpRequest, member_id: int, payload: MemberUpdateIn):
    member = request.member
    target = selectors.member_get(member=member, pk=member_id, action=Action.CHANGE)
    department = target.department
    if payload.department_id is not None:
        department = selectors.department_get(member=member, pk=payload.department_id)
    squads = list(target.squads.all())
    if payload.squad_ids is not None:
        squads = list(selectors.squad_list(member=member).filter(pk__in=payload.squad_ids))
        if len(squads) != len(set(payload.squad_ids)):
            raise DomainError("Some squad ids are not squads of your organisation.",
                                       field="squad_ids")
    with transaction.atomic():
        services.member_update(actor=member, origin=api_origin(request), member=target,
                               role=payload.role or target.role, department=department,
                               squads=squads,
                               job_title=(payload.job_title if payload.job_title is not None
                                          else target.job_title))
    return selectors.member_get(member=member, pk=member_id)


DepartmentPage = page_schema(DepartmentOut)
SquadPage = page_schema(SquadOut)


@router.get("/departments", response=responses({200: DepartmentPage}),
            summary="List departments")
@policy.requires(ORG, Action.VIEW)
def list_departments(request: HttpRequest, cursor: str | None = None,
                     limit: int = Query(50, ge=1, le=200)):
    return paginate(selectors.department_list(member=request.member), cursor=cursor,
                    limit=limit, ordering=("id",))


class DepartmentIn(Schema):
    name: str = Field(..., min_length=1, max_length=120)
    description: str = Field("", max_length=300)


@router.post("/departments", response=responses({201: DepartmentOut}),
             summary="Create a department")
@policy.requires(ORG, Action.CHANGE)
def create_department(request: HttpRequest, payload: DepartmentIn):
    department = services.department_create(actor=request.member, origin=api_origin(request),
                                            name=payload.name, description=payload.description)
    return Status(201, department)


@router.get("/squads", response=responses({200: SquadPage}), summary="List squads")
@policy.requires(ORG, Action.VIEW)
def list_squads(request: HttpRequest, cursor: str | None = None,
                limit: int = Query(50, ge=1, le=200)):
    return paginate(selectors.squad_list(member=request.member), cursor=cursor, limit=limit,
                    ordering=("id",))


class SquadIn(Schema):
    name: str = Field(..., min_length=1, max_length=120)
    mission: str = Field("", max_length=300)
    lead_id: ObjectId | None = None


@router.post("/squads", response=responses({201: SquadOut}), summary="Create a squad")
@policy.requires(ORG, Action.CHANGE)
def create_squad(request: HttpRequest, payload: SquadIn):
    lead = None
    if payload.lead_id is not None:
        lead = selectors.member_get(member=request.member, pk=payload.lead_id)
    squad = services.squad_save(actor=request.member, origin=api_origin(request), squad=None,
                                name=payload.name, mission=payload.mission, lead=lead)
    return Status(201, squad)


class InvitationIn(Schema):
    email: str = Field(..., max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    full_name: str = Field("", max_length=150)
    role: str
    department_id: ObjectId
    squad_ids: list[ObjectId] = []


class InvitationOut(Schema):
    id: int
    email: str
    role: str
    department_id: int
    expires_at: datetime
    status: str


@router.post("/invitations", response=responses({201: InvitationOut}),
             summary="Invite someone by email")
@policy.requires(ORG, Action.CREATE)
def create_invitation(request: HttpRequest, payload: InvitationIn):
    member = request.member
    department = selectors.department_get(member=member, pk=payload.department_id)
    squads = list(selectors.squad_list(member=member).filter(pk__in=payload.squad_ids))
    invitation = services.invitation_send(
        actor=member, origin=api_origin(request), email=payload.email,
        full_name=payload.full_name, role=payload.role, department=department, squads=squads,
        base_url=request.build_absolute_uri("/"))
    return Status(201, invitation)


class AuditEntryOut(Schema):
    id: int
    created_at: datetime
    actor_email: str
    action: str
    action_label: str
    target_type: str
    target_id: str
    target_label: str
    changes: dict
    ip_address: str | None
    via: str

    @staticmethod
    def resolve_action_label(obj: AuditEntry) -> str:
        return str(ACTIONS.get(obj.action, obj.action))


AuditPage = page_schema(AuditEntryOut)


@router.get("/audit-log", response=responses({200: AuditPage}), tags=["Audit log"],
            summary="The audit log, newest first")
@policy.requires("audit", Action.VIEW)
def list_audit_entries(request: HttpRequest, action: str = "", actor_id: ObjectId | None = None,
                       search: str = "", date_from: date | None = None,
                       date_to: date | None = None, cursor: str | None = None,
                       limit: int = Query(50, ge=1, le=200)):
    filters = selectors.AuditFilters(action=action, actor_id=actor_id, search=search[:100],
                                     date_from=date_from, date_to=date_to)
    entries = selectors.audit_entry_list(member=request.member, filters=filters)
    return paginate(entries, cursor=cursor, limit=limit, ordering=("-created_at", "-id"))
