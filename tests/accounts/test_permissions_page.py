"""The permission matrices: an administrator changes who may do what, and it takes effect."""

import re

import pytest

from moulin.accounts.models import AuditEntry, PermissionGrant
from moulin.core.policy import Level, Role
from tests.builders import department

HTMX = {"HX-Request": "true"}


def set_cell(client, subject_type, subject, module, level, headers=HTMX):
    return client.post("/permissions/", {"subject_type": subject_type, "subject": subject,
                                          "module": module, "level": level}, headers=headers)


def cell_classes(page: str, matrix: str, subject, module: str) -> list[str]:
    match = re.search(rf'<select id="{matrix}-{subject}-{module}"[^>]*class="([^"]*)"', page)
    assert match, f"no cell {matrix}-{subject}-{module}"
    return match.group(1).split()


def test_admin_sets_a_department_cell_and_sees_it_marked_as_changed(client_for, admin,
                                                                    organisation):
    client = client_for(admin)
    sales = department(organisation, "sales")
    before = client.get("/permissions/").content.decode()
    assert "overridden" not in cell_classes(before, "department-matrix", sales.pk, "research")

    response = set_cell(client, "department", sales.pk, "research", int(Level.VIEW))

    assert response.status_code == 200
    fragment = response.content.decode()
    assert "Saved" in fragment
    assert "<html" not in fragment
    after = client.get("/permissions/").content.decode()
    assert cell_classes(after, "department-matrix", sales.pk, "research") == [
        "level-1", "overridden"]
    assert PermissionGrant.objects.get(organisation=organisation).level == Level.VIEW


def test_lowering_the_viewer_ceiling_locks_sales_viewers_out_of_the_directory(
        client_for, admin, sales_viewer):
    viewer_client = client_for(sales_viewer)
    assert viewer_client.get("/members/").status_code == 200

    response = set_cell(client_for(admin), "role", Role.VIEWER, "organisation", int(Level.NONE))

    assert response.status_code == 200
    assert client_for(sales_viewer).get("/members/").status_code == 403


def test_raising_a_department_grant_is_capped_by_the_role(client_for, admin, organisation,
                                                          sales_viewer):
    # Sales has no research access by default; granting "manage" lets a viewer only view.
    set_cell(client_for(admin), "department", department(organisation, "sales").pk,
             "research", int(Level.MANAGE))

    home = client_for(sales_viewer).get("/")

    research = next(row for row in home.context["access"] if row["module"].key == "research")
    assert research["level"] == Level.VIEW


def test_every_change_is_audited_with_old_and_new_levels(client_for, admin, organisation):
    client = client_for(admin)
    cs = department(organisation, "customer_success")

    set_cell(client, "department", cs.pk, "roadmaps", int(Level.MANAGE))
    set_cell(client, "department", cs.pk, "roadmaps", int(Level.NONE))
    set_cell(client, "role", Role.CONTRIBUTOR, "features", int(Level.VIEW))

    entries = list(AuditEntry.objects.filter(action="permission.changed").order_by("id"))
    assert [e.changes["level"] for e in entries] == [
        ["view", "manage"], ["manage", "none"], ["contribute", "view"]]
    assert entries[0].changes["subject"] == "Customer Success"
    assert entries[0].target_label == "Customer Success · Roadmaps"
    assert entries[2].changes["subject_type"] == "role"
    assert all(e.actor == admin for e in entries)


def test_setting_a_cell_back_to_its_default_removes_the_override(client_for, admin,
                                                                 organisation):
    client = client_for(admin)
    sales = department(organisation, "sales")
    set_cell(client, "department", sales.pk, "metrics", int(Level.VIEW))

    set_cell(client, "department", sales.pk, "metrics", int(Level.NONE))

    assert not PermissionGrant.objects.exists()
    page = client.get("/permissions/").content.decode()
    assert "overridden" not in cell_classes(page, "department-matrix", sales.pk, "metrics")


def test_saving_the_same_level_writes_nothing(client_for, admin, organisation):
    sales = department(organisation, "sales")

    set_cell(client_for(admin), "department", sales.pk, "feedback", int(Level.CONTRIBUTE))

    assert not AuditEntry.objects.filter(action="permission.changed").exists()


@pytest.mark.parametrize(("field", "value", "message"), [
    ("level", "7", "Unknown permission level."),
    ("level", "lots", "Unknown permission level."),
    ("level", "", "Unknown permission level."),
    ("module", "payroll", "Unknown module “payroll”."),
    ("subject_type", "team", "Unknown kind of permission."),
    ("subject", "999999", "Unknown department."),
])
def test_invalid_cell_answers_422_with_an_error_and_saves_nothing(client_for, admin,
                                                                  organisation, field, value,
                                                                  message):
    data = {"subject_type": "department",
            "subject": department(organisation, "sales").pk,
            "module": "feedback", "level": int(Level.NONE), field: value}

    response = client_for(admin).post("/permissions/", data, headers=HTMX)

    assert response.status_code == 422
    assert 'role="alert"' in response.content.decode()
    assert message in response.content.decode()
    assert not PermissionGrant.objects.exists()
    assert not AuditEntry.objects.filter(action="permission.changed").exists()


def test_administrators_ceiling_cannot_be_lowered(client_for, admin):
    response = set_cell(client_for(admin), "role", Role.ADMIN, "audit", int(Level.NONE))

    assert response.status_code == 422
    assert "Administrators always have every permission." in response.content.decode()
    assert not PermissionGrant.objects.exists()


def test_another_organisations_department_cannot_be_set(client_for, admin, outsider):
    theirs = department(outsider.organisation, "sales")

    response = set_cell(client_for(admin), "department", theirs.pk, "feedback", 0)

    assert response.status_code == 422
    assert not PermissionGrant.objects.exists()


def test_without_htmx_the_form_saves_and_comes_back_with_a_message(client_for, admin,
                                                                   organisation):
    sales = department(organisation, "sales")

    response = set_cell(client_for(admin), "department", sales.pk, "metrics", 1, headers={})

    assert response.status_code == 302
    assert response.url == "/permissions/"
    assert PermissionGrant.objects.filter(module="metrics").exists()


def test_reset_to_defaults_removes_every_override_and_is_audited(client_for, admin,
                                                                 organisation, sales_viewer):
    client = client_for(admin)
    sales = department(organisation, "sales")
    set_cell(client, "department", sales.pk, "metrics", int(Level.VIEW))
    set_cell(client, "role", Role.VIEWER, "organisation", int(Level.NONE))
    assert client_for(sales_viewer).get("/members/").status_code == 403

    client = client_for(admin)
    response = client.post("/permissions/reset/", follow=True)

    assert "Permissions reset to defaults (2 changes undone)." in response.content.decode()
    assert not PermissionGrant.objects.filter(organisation=organisation).exists()
    page = response.content.decode()
    assert "overridden" not in cell_classes(page, "department-matrix", sales.pk, "metrics")
    entry = AuditEntry.objects.get(action="permission.reset")
    assert entry.changes == {"overrides_removed": 2}
    assert entry.actor == admin
    assert client_for(sales_viewer).get("/members/").status_code == 200


def test_reset_leaves_other_organisations_alone(client_for, admin, outsider):
    set_cell(client_for(outsider), "role", Role.VIEWER, "metrics", int(Level.NONE))

    client_for(admin).post("/permissions/reset/")

    assert PermissionGrant.objects.filter(organisation=outsider.organisation).count() == 1


def test_product_ops_lead_cannot_change_permissions(client_for, product_ops):
    client = client_for(product_ops)

    response = set_cell(client, "role", Role.VIEWER, "organisation", int(Level.MANAGE))

    assert response.status_code == 403
    assert client.post("/permissions/reset/").status_code == 403
    assert not PermissionGrant.objects.exists()
