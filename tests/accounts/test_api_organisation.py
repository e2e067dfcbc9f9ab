"""The organisation through the API: who am I, members, departments, squads, invitations, audit."""

import re

import pytest
from django.core import mail

from moulin.accounts.models import AuditEntry, Department, Invitation, Member, Squad, hash_secret
from moulin.core import policy
from moulin.core.policy import Role
from tests.builders import department, make_squad

# --- Who am I ----------------------------------------------------------------------------------

def test_me_tells_a_sales_viewer_what_they_may_do(api_client, organisation, sales_viewer):
    squad = make_squad(organisation, "Enterprise deals")
    sales_viewer.squads.add(squad)

    response = api_client(sales_viewer).get("/api/v1/me")

    assert response.status_code == 200
    me = response.json()
    assert me["email"] == "sales@acme.test"
    assert me["role"] == "viewer"
    assert me["department"]["key"] == "sales"
    assert [s["name"] for s in me["squads"]] == ["Enterprise deals"]
    assert me["organisation"]["name"] == "Acme Treasury"
    assert set(me["permissions"]) == set(policy.MODULES)
    assert me["permissions"]["research"] == "none"
    assert me["permissions"]["metrics"] == "none"
    assert me["permissions"]["roadmaps"] == "view"
    assert me["permissions"]["audit"] == "none"


def test_me_gives_an_admin_every_module(api_client, admin):
    permissions = api_client(admin).get("/api/v1/me").json()["permissions"]
    assert set(permissions.values()) == {"manage"}


# --- Changing members --------------------------------------------------------------------------

def test_admin_changes_a_role_and_the_audit_log_says_so(api_client, admin, pm):
    response = api_client(admin).patch(f"/api/v1/members/{pm.pk}", {"role": "contributor"})

    assert response.status_code == 200
    assert response.json()["role"] == "contributor"
    pm.refresh_from_db()
    assert pm.role == Role.CONTRIBUTOR
    entry = AuditEntry.objects.get(action="member.role_changed")
    assert entry.actor == admin
    assert entry.target_id == str(pm.pk)
    assert entry.changes == {"role": ["product_manager", "contributor"]}
    assert entry.via == "api"


def test_admin_moves_a_member_to_another_department_and_squads(api_client, admin, organisation,
                                                                pm):
    squad = make_squad(organisation, "Onboarding")
    tech = department(organisation, "tech")

    response = api_client(admin).patch(f"/api/v1/members/{pm.pk}",
                                       {"department_id": tech.pk, "squad_ids": [squad.pk]})

    assert response.status_code == 200
    body = response.json()
    assert body["department"]["key"] == "tech"
    assert [s["id"] for s in body["squads"]] == [squad.pk]
    assert body["role"] == "product_manager"  # untouched


def test_demoting_the_last_admin_is_a_conflict(api_client, admin):
    response = api_client(admin).patch(f"/api/v1/members/{admin.pk}", {"role": "viewer"})

    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert [e["field"] for e in response.json()["errors"]] == ["role"]
    admin.refresh_from_db()
    assert admin.role == Role.ADMIN
    assert not AuditEntry.objects.filter(action="member.role_changed").exists()


def test_pm_cannot_change_roles(api_client, admin, pm, cs_contributor):
    response = api_client(pm).patch(f"/api/v1/members/{cs_contributor.pk}", {"role": "admin"})

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    cs_contributor.refresh_from_db()
    assert cs_contributor.role == Role.CONTRIBUTOR


# --- Departments, squads, invitations ----------------------------------------------------------

def test_admin_creates_a_department(api_client, admin):
    response = api_client(admin).post("/api/v1/departments",
                                      {"name": "Legal", "description": "Contracts"})

    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "Legal"
    assert body["key"] == "legal"
    created = Department.objects.get(pk=body["id"])
    assert created.organisation_id == admin.organisation_id
    assert AuditEntry.objects.filter(action="department.created", target_id=str(created.pk),
                                     via="api").exists()
    listed = api_client(admin).get("/api/v1/departments", limit=200).json()["items"]
    assert "Legal" in [d["name"] for d in listed]


def test_nul_characters_are_dropped_from_names_not_a_server_error(api_client, admin):
    # PostgreSQL refuses NUL in text columns: the services drop it, as intake does.
    api = api_client(admin)
    department = api.post("/api/v1/departments", {"name": "Le\x00gal", "description": "a\x00b"})
    assert department.status_code == 201
    assert (department.json()["name"], department.json()["description"]) == ("Legal", "ab")
    squad = api.post("/api/v1/squads", {"name": "Pay\x00ments", "mission": "x\x00"})
    assert squad.status_code == 201 and squad.json()["name"] == "Payments"


def test_admin_creates_a_squad_with_a_lead(api_client, admin, pm):
    response = api_client(admin).post("/api/v1/squads",
                                      {"name": "Payments", "mission": "Get paid",
                                       "lead_id": pm.pk})

    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "Payments"
    assert body["lead_id"] == pm.pk
    assert Squad.objects.get(pk=body["id"]).organisation_id == admin.organisation_id


def test_squad_lead_from_another_organisation_is_not_found(api_client, admin, outsider):
    response = api_client(admin).post("/api/v1/squads", {"name": "Payments",
                                                         "lead_id": outsider.pk})
    assert response.status_code == 404
    assert not Squad.objects.exists()


def test_admin_invites_someone_and_the_email_leaves_on_commit(
        api_client, admin, organisation, django_capture_on_commit_callbacks):
    squad = make_squad(organisation, "Onboarding")
    cs = department(organisation, "customer_success")

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client(admin).post("/api/v1/invitations", {
            "email": "Nina@Example.com", "full_name": "Nina Newcomer", "role": "contributor",
            "department_id": cs.pk, "squad_ids": [squad.pk]})

    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "nina@example.com"
    assert body["status"] == "pending"
    assert body["department_id"] == cs.pk
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["nina@example.com"]
    assert "Acme Treasury" in message.subject
    raw = re.search(r"/invitation/([^/\s]+)/", message.body).group(1)
    invitation = Invitation.objects.get(pk=body["id"])
    assert invitation.token_hash == hash_secret(raw)
    assert list(invitation.squads.all()) == [squad]
    assert AuditEntry.objects.filter(action="invitation.sent", via="api").exists()


def test_invitation_to_an_existing_address_is_a_conflict_and_sends_nothing(
        api_client, admin, pm, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client(admin).post("/api/v1/invitations", {
            "email": "pm@acme.test", "role": "viewer", "department_id": pm.department_id})

    assert response.status_code == 409
    assert [e["field"] for e in response.json()["errors"]] == ["email"]
    assert mail.outbox == []


# --- Audit log ---------------------------------------------------------------------------------

def test_admin_filters_the_audit_log_by_action(api_client, admin, pm, cs_contributor):
    caller = api_client(admin)
    caller.patch(f"/api/v1/members/{pm.pk}", {"role": "viewer"})
    caller.patch(f"/api/v1/members/{cs_contributor.pk}", {"role": "viewer"})
    caller.post("/api/v1/departments", {"name": "Legal"})

    response = caller.get("/api/v1/audit-log", action="member.role_changed")

    assert response.status_code == 200
    items = response.json()["items"]
    assert {item["action"] for item in items} == {"member.role_changed"}
    assert {item["target_id"] for item in items} == {str(pm.pk), str(cs_contributor.pk)}
    assert all(item["actor_email"] == "admin@acme.test" for item in items)
    assert all(item["via"] == "api" for item in items)
    # Newest first.
    assert items[0]["target_id"] == str(cs_contributor.pk)


def test_pm_cannot_read_the_audit_log(api_client, pm):
    response = api_client(pm).get("/api/v1/audit-log")
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


# --- Tenancy -----------------------------------------------------------------------------------

LISTS = ["/api/v1/members", "/api/v1/departments", "/api/v1/squads", "/api/v1/audit-log"]


@pytest.mark.parametrize("path", LISTS)
def test_outsider_never_sees_our_data_in_a_list(api_client, organisation, admin, pm, outsider,
                                                path):
    make_squad(organisation, "Treasury squad")
    make_squad(outsider.organisation, "Globex squad")
    api_client(admin).post("/api/v1/departments", {"name": "Treasury ops"})
    api_client(admin).patch(f"/api/v1/members/{pm.pk}", {"role": "viewer"})

    response = api_client(outsider).get(path, limit=200)

    assert response.status_code == 200
    items = response.json()["items"]
    assert items, "the outsider sees their own organisation"
    ours = {
        "/api/v1/members": set(Member.objects.filter(organisation=organisation)
                               .values_list("pk", flat=True)),
        "/api/v1/departments": set(Department.objects.filter(organisation=organisation)
                                   .values_list("pk", flat=True)),
        "/api/v1/squads": set(Squad.objects.filter(organisation=organisation)
                              .values_list("pk", flat=True)),
        "/api/v1/audit-log": set(AuditEntry.objects.filter(organisation=organisation)
                                 .values_list("pk", flat=True)),
    }[path]
    assert ours, "there is something of ours to leak"
    assert not ours & {item["id"] for item in items}
    for trace in (b"acme.test", b"Treasury", b"Acme"):
        assert trace not in response.content


def test_outsider_cannot_change_our_members(api_client, admin, pm, outsider):
    response = api_client(outsider).patch(f"/api/v1/members/{pm.pk}", {"role": "admin"})
    assert response.status_code == 404
    pm.refresh_from_db()
    assert pm.role == Role.PRODUCT_MANAGER
