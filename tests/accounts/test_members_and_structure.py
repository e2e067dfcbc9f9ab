"""Administrators shape the organisation: members' roles and squads, departments, squads."""

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from moulin.accounts.models import AuditEntry, Department, Member, Squad
from moulin.core.policy import Role
from tests.builders import department, make_member, make_squad

HTMX_ROWS = {"HX-Request": "true", "HX-Target": "member-rows"}


def fresh(member: Member) -> Member:
    return Member.objects.select_related("user", "department").get(pk=member.pk)


# --- Editing a member ---------------------------------------------------------------------------

def test_admin_changes_role_department_and_squads_and_the_list_shows_it(
        client_for, admin, organisation, cs_contributor):
    growth = make_squad(organisation, "Growth")
    client = client_for(admin)

    response = client.post(f"/members/{cs_contributor.pk}/", {
        "role": Role.PRODUCT_MANAGER, "department": department(organisation, "product").pk,
        "squads": [growth.pk], "job_title": "Onboarding PM"})

    assert response.status_code == 302
    assert response.url == "/members/"
    page = client.get("/members/")
    assert "Carla Success is updated." in page.content.decode()
    row = next(m for m in page.context["members"] if m.pk == cs_contributor.pk)
    assert row.get_role_display() == "Product manager"
    assert row.department.name == "Product"
    assert [s.name for s in row.squads.all()] == ["Growth"]
    assert "Onboarding PM" in page.content.decode()


def test_each_change_to_a_member_writes_its_own_audit_entry(client_for, admin, organisation,
                                                            cs_contributor):
    growth = make_squad(organisation, "Growth")
    client_for(admin).post(f"/members/{cs_contributor.pk}/", {
        "role": Role.PRODUCT_MANAGER, "department": department(organisation, "product").pk,
        "squads": [growth.pk]}, REMOTE_ADDR="198.51.100.4")

    entries = {e.action: e for e in AuditEntry.objects.filter(action__startswith="member.")}

    assert set(entries) == {"member.role_changed", "member.department_changed",
                            "member.squads_changed"}
    assert entries["member.role_changed"].changes == {
        "role": [Role.CONTRIBUTOR, Role.PRODUCT_MANAGER]}
    assert entries["member.department_changed"].changes == {
        "department": ["Customer Success", "Product"]}
    assert entries["member.squads_changed"].changes == {"squads": [[], ["Growth"]]}
    for entry in entries.values():
        assert entry.actor == admin
        assert entry.target_label == "Carla Success"
        assert entry.ip_address == "198.51.100.4"


def test_saving_a_member_unchanged_writes_no_audit_entry(client_for, admin, organisation,
                                                         cs_contributor):
    client_for(admin).post(f"/members/{cs_contributor.pk}/", {
        "role": Role.CONTRIBUTOR, "department": cs_contributor.department_id, "squads": []})

    assert not AuditEntry.objects.filter(action__startswith="member.").exists()


def test_demoting_the_last_admin_is_refused_and_changes_nothing(client_for, admin,
                                                               organisation):
    response = client_for(admin).post(f"/members/{admin.pk}/", {
        "role": Role.VIEWER, "department": department(organisation, "sales").pk,
        "job_title": "Former admin"})

    assert response.status_code == 422
    assert response.context["form"].errors["role"] == [
        "The organisation needs at least one administrator: promote someone else before "
        "changing this role."]
    admin = fresh(admin)
    assert admin.role == Role.ADMIN
    assert admin.department.key == "product"
    assert admin.job_title == ""
    assert not AuditEntry.objects.filter(action__startswith="member.").exists()


def test_an_admin_may_step_down_once_someone_else_is_admin(client_for, admin, organisation, pm):
    client = client_for(admin)
    client.post(f"/members/{pm.pk}/", {"role": Role.ADMIN, "department": pm.department_id})

    response = client.post(f"/members/{admin.pk}/", {"role": Role.PRODUCT_OPS,
                                                     "department": admin.department_id})

    assert response.status_code == 302
    assert fresh(admin).role == Role.PRODUCT_OPS
    assert fresh(pm).role == Role.ADMIN


def test_member_of_another_organisation_cannot_be_edited(client_for, admin, outsider):
    assert client_for(admin).get(f"/members/{outsider.pk}/").status_code == 404


# --- Deactivating -------------------------------------------------------------------------------

def test_deactivated_member_is_shut_out_and_can_come_back(client_for, admin, sales_viewer):
    viewer_browser = Client()
    viewer_browser.force_login(sales_viewer.user)
    assert viewer_browser.get("/members/").status_code == 200
    admin_client = client_for(admin)

    response = admin_client.post(f"/members/{sales_viewer.pk}/active/", {"active": "0"},
                                 follow=True)

    assert "Sam Sales is deactivated." in response.content.decode()
    assert "Sam Sales" not in str(response.context["members"])
    # The open session of the deactivated member no longer opens anything.
    locked_out = viewer_browser.get("/members/")
    assert locked_out.status_code == 302
    assert locked_out.url.startswith("/sign-in/")
    assert AuditEntry.objects.filter(action="member.deactivated",
                                     target_id=str(sales_viewer.pk)).count() == 1

    admin_client.post(f"/members/{sales_viewer.pk}/active/", {"active": "1"})

    assert fresh(sales_viewer).is_active
    assert fresh(sales_viewer).user.is_active
    assert AuditEntry.objects.filter(action="member.reactivated").count() == 1
    viewer_browser.force_login(sales_viewer.user)
    assert viewer_browser.get("/members/").status_code == 200


def test_signed_in_user_without_an_active_membership_gets_the_not_allowed_page(client_for,
                                                                             sales_viewer):
    client = client_for(sales_viewer)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # no membership: no saved language
    Member.objects.filter(pk=sales_viewer.pk).update(is_active=False)

    response = client.get("/members/")

    assert response.status_code == 403
    assert response.wsgi_request.member is None
    assert "Your role and department do not give access to this page" in (
        response.content.decode())


def test_admin_cannot_deactivate_themselves(client_for, admin, pm):
    response = client_for(admin).post(f"/members/{admin.pk}/active/", {"active": "0"},
                                      follow=True)

    assert "You cannot deactivate yourself." in response.content.decode()
    assert fresh(admin).is_active
    assert fresh(admin).user.is_active
    assert not AuditEntry.objects.filter(action="member.deactivated").exists()


def test_non_admin_cannot_deactivate_anyone(client_for, product_ops, pm):
    response = client_for(product_ops).post(f"/members/{pm.pk}/active/", {"active": "0"})

    assert response.status_code == 403
    assert fresh(pm).is_active


# --- The member list ----------------------------------------------------------------------------

@pytest.fixture
def team(organisation, admin, product_ops, pm, cs_contributor, sales_viewer):
    growth = make_squad(organisation, "Growth")
    pm.squads.add(growth)
    cs_contributor.squads.add(growth)
    pm.job_title = "Payments lead"
    pm.save()
    sales_viewer.is_active = False
    sales_viewer.save()
    return {"growth": growth}


def names(response) -> list[str]:
    return [m.user.full_name for m in response.context["members"]]


@pytest.mark.parametrize(("query", "expected"), [
    ({}, ["Alice Admin", "Carla Success", "Paul Ops", "Pia Manager"]),
    ({"q": "payments"}, ["Pia Manager"]),
    ({"q": "CS@ACME"}, ["Carla Success"]),
    ({"role": Role.PRODUCT_OPS}, ["Paul Ops"]),
    ({"status": "inactive"}, ["Sam Sales"]),
    ({"status": "all", "role": Role.VIEWER}, ["Sam Sales"]),
    ({"status": "all"}, ["Alice Admin", "Carla Success", "Paul Ops", "Pia Manager",
                         "Sam Sales"]),
    ({"department": "not-a-number"}, ["Alice Admin", "Carla Success", "Paul Ops",
                                      "Pia Manager"]),
])
def test_member_list_filters(client_for, admin, team, query, expected):
    assert names(client_for(admin).get("/members/", query)) == expected


@pytest.mark.parametrize("query", [
    {"q": "Pia\x00"},  # PostgreSQL text cannot hold a NUL byte
    {"department": "99999999999999999999999"},  # beyond any database integer
    {"squad": "-5"},
    {"department": "1e3", "squad": "nope"},
    {"status": "whatever"},
])
def test_member_list_shrugs_off_odd_filters(client_for, admin, team, query):
    response = client_for(admin).get("/members/", query)

    assert response.status_code == 200


def test_member_list_filters_by_department_and_squad(client_for, admin, organisation, team):
    client = client_for(admin)
    customer_success = department(organisation, "customer_success")

    assert names(client.get("/members/", {"department": customer_success.pk})) == [
        "Carla Success"]
    assert names(client.get("/members/", {"squad": team["growth"].pk})) == [
        "Carla Success", "Pia Manager"]


def test_htmx_filter_returns_only_the_rows(client_for, admin, team):
    response = client_for(admin).get("/members/", {"q": "pia"}, headers=HTMX_ROWS)

    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body
    assert "<form class=\"filters\"" not in body
    assert body.count("<tr>") == 1
    assert "Pia Manager" in body


def test_htmx_filter_with_no_match_says_so(client_for, admin, team):
    response = client_for(admin).get("/members/", {"q": "zzz"}, headers=HTMX_ROWS)

    assert "Nobody matches these filters." in response.content.decode()


def test_viewer_sees_the_directory_without_edit_buttons(client_for, admin, pm):
    body = client_for(pm).get("/members/").content.decode()

    assert "Alice Admin" in body
    assert f"/members/{admin.pk}/" not in body
    assert "/active/" not in body


def test_member_list_queries_do_not_grow_with_the_number_of_members(
        client_for, admin, organisation, django_assert_max_num_queries):
    squads = [make_squad(organisation, f"Squad {n}") for n in range(3)]
    client = client_for(admin)
    with CaptureQueriesContext(connection) as few:
        client.get("/members/")

    for n in range(30):
        member = make_member(organisation, department_key=["product", "sales", "tech"][n % 3])
        member.squads.set(squads[: n % 4])

    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get("/members/")
    assert len(response.context["members"]) == 31
    with django_assert_max_num_queries(15):
        client.get("/members/", {"status": "all"}, headers=HTMX_ROWS)


# --- Departments --------------------------------------------------------------------------------

def test_admin_creates_a_department(client_for, admin, organisation):
    client = client_for(admin)

    response = client.post("/departments/", {"name": "  Partnerships ", "description": "Resellers"})

    assert response.status_code == 302
    created = Department.objects.get(organisation=organisation, name="Partnerships")
    assert created.key == "partnerships"
    page = client.get("/departments/").content.decode()
    assert "Partnerships" in page
    assert "Resellers" in page
    assert AuditEntry.objects.filter(action="department.created",
                                     target_label="Partnerships").exists()


def test_department_name_must_be_unique_whatever_the_case(client_for, admin, organisation):
    response = client_for(admin).post("/departments/", {"name": "SALES"})

    assert response.status_code == 422
    assert response.context["form"].errors["name"] == ["A department named “SALES” exists already."]
    assert Department.objects.filter(organisation=organisation, name__iexact="sales").count() == 1


def test_same_department_name_in_another_organisation_is_fine(client_for, admin, outsider):
    response = client_for(outsider).post("/departments/", {"name": "Partnerships"})
    assert response.status_code == 302
    response = client_for(admin).post("/departments/", {"name": "Partnerships"})
    assert response.status_code == 302


def test_admin_renames_a_department_and_its_members_follow(client_for, admin, organisation,
                                                            sales_viewer):
    sales = department(organisation, "sales")
    client = client_for(admin)

    response = client.post(f"/departments/{sales.pk}/", {"name": "Revenue", "description": ""})

    assert response.status_code == 302
    assert fresh(sales_viewer).department.name == "Revenue"
    entry = AuditEntry.objects.get(action="department.renamed")
    assert entry.changes == {"name": ["Sales", "Revenue"]}


def test_renaming_a_department_to_another_ones_name_is_refused(client_for, admin, organisation):
    sales = department(organisation, "sales")

    response = client_for(admin).post(f"/departments/{sales.pk}/", {"name": "marketing"})

    assert response.status_code == 422
    assert "name" in response.context["form"].errors
    sales.refresh_from_db()
    assert sales.name == "Sales"


def test_department_with_members_cannot_be_deleted(client_for, admin, organisation,
                                                    sales_viewer):
    sales = department(organisation, "sales")

    response = client_for(admin).post(f"/departments/{sales.pk}/delete/", follow=True)

    assert "1 member belongs to Sales: move them to another department first." in (
        response.content.decode())
    assert Department.objects.filter(pk=sales.pk).exists()
    assert not AuditEntry.objects.filter(action="department.deleted").exists()


def test_empty_department_is_deleted(client_for, admin, organisation):
    marketing = department(organisation, "marketing")

    response = client_for(admin).post(f"/departments/{marketing.pk}/delete/", follow=True)

    assert "Department Marketing deleted." in response.content.decode()
    assert not Department.objects.filter(pk=marketing.pk).exists()
    assert "Marketing" not in [d.name for d in response.context["departments"]]
    assert AuditEntry.objects.filter(action="department.deleted",
                                     target_label="Marketing").exists()


def test_non_admin_cannot_add_a_department(client_for, product_ops, organisation):
    response = client_for(product_ops).post("/departments/", {"name": "Skunkworks"})

    assert response.status_code == 403
    assert not Department.objects.filter(name="Skunkworks").exists()


# --- Squads -------------------------------------------------------------------------------------

def test_admin_creates_edits_and_deletes_a_squad(client_for, admin, organisation, pm):
    client = client_for(admin)

    created = client.post("/squads/", {"name": "Payments", "mission": "Get paid",
                                       "lead": pm.pk})
    assert created.status_code == 302
    squad = Squad.objects.get(organisation=organisation, name="Payments")
    assert squad.lead == pm
    listing = client.get("/squads/").content.decode()
    assert "Payments" in listing
    assert "Pia Manager" in listing

    edited = client.post(f"/squads/{squad.pk}/", {"name": "Billing", "mission": "", "lead": ""})
    assert edited.status_code == 302
    squad.refresh_from_db()
    assert (squad.name, squad.lead) == ("Billing", None)

    deleted = client.post(f"/squads/{squad.pk}/delete/", follow=True)
    assert "Squad Billing deleted." in deleted.content.decode()
    assert not Squad.objects.filter(pk=squad.pk).exists()
    assert list(AuditEntry.objects.filter(action__startswith="squad.")
                .order_by("id").values_list("action", flat=True)) == [
        "squad.created", "squad.updated", "squad.deleted"]


def test_squad_lead_from_another_organisation_is_refused(client_for, admin, organisation,
                                                         outsider):
    response = client_for(admin).post("/squads/", {"name": "Payments", "lead": outsider.pk})

    assert response.status_code == 422
    assert "lead" in response.context["form"].errors
    assert not Squad.objects.filter(name="Payments").exists()


def test_squad_name_must_be_unique(client_for, admin, organisation):
    make_squad(organisation, "Payments")

    response = client_for(admin).post("/squads/", {"name": "payments"})

    assert response.status_code == 422
    assert response.context["form"].errors["name"] == ["A squad named “payments” exists already."]


def test_another_organisations_squad_cannot_be_edited(client_for, admin, outsider):
    theirs = make_squad(outsider.organisation, "Secret")

    response = client_for(admin).post(f"/squads/{theirs.pk}/", {"name": "Mine now"})

    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.name == "Secret"
