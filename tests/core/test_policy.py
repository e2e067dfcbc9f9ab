"""The permission policy: role ceilings, department grants, tenancy."""

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from moulin.accounts import services
from moulin.accounts.audit import CLI
from moulin.accounts.models import Member
from moulin.core import policy
from moulin.core.policy import Action, Level


def fresh(member):
    return Member.objects.get(pk=member.pk)


def test_admin_manages_every_module(admin):
    assert all(policy.level(admin, module) == Level.MANAGE for module in policy.MODULES)


def test_level_is_the_lower_of_role_ceiling_and_department_grant(cs_contributor, sales_viewer):
    # Customer Success may manage customers, but a contributor's ceiling there is "view".
    assert policy.level(cs_contributor, "customers") == Level.VIEW
    # CS contributes feedback but cannot change priorities (features: view).
    assert policy.can(cs_contributor, "feedback", Action.CREATE)
    assert not policy.can(cs_contributor, "features", Action.CHANGE)
    # A Sales viewer sees roadmaps, never edits them, and has no access to research.
    assert policy.can(sales_viewer, "roadmaps", Action.VIEW)
    assert not policy.can(sales_viewer, "roadmaps", Action.CREATE)
    assert policy.level(sales_viewer, "research") == Level.NONE


def test_nobody_but_admins_reads_the_audit_log(product_ops, pm, cs_contributor, admin):
    for member in (product_ops, pm, cs_contributor):
        assert not policy.can(member, "audit", Action.VIEW)
    assert policy.can(admin, "audit", Action.VIEW)


def test_admin_change_to_department_grant_applies_immediately(admin, sales_viewer):
    department_id = str(sales_viewer.department_id)
    services.permission_set(actor=admin, origin=CLI, subject_type="department",
                            subject=department_id, module="roadmaps", level=0)
    assert not policy.can(fresh(sales_viewer), "roadmaps", Action.VIEW)
    # Setting a cell back to its default removes the override.
    services.permission_set(actor=admin, origin=CLI, subject_type="department",
                            subject=department_id, module="roadmaps", level=1)
    assert policy.can(fresh(sales_viewer), "roadmaps", Action.VIEW)
    assert not admin.organisation.permission_grants.exists()


def test_role_ceiling_caps_a_generous_department(admin, pm):
    services.permission_set(actor=admin, origin=CLI, subject_type="role",
                            subject="product_manager", module="features", level=1)
    assert policy.level(fresh(pm), "features") == Level.VIEW


def test_other_organisations_objects_are_invisible(admin, outsider):
    assert not policy.can(outsider, "organisation", Action.VIEW, admin)
    with pytest.raises(Http404):
        policy.check(outsider, "organisation", Action.VIEW, admin)
    assert list(policy.scope(Member.objects.all(), outsider, "organisation")) == [outsider]


def test_visible_but_not_allowed_is_403(sales_viewer, admin):
    with pytest.raises(PermissionDenied):
        policy.check(sales_viewer, "organisation", Action.CHANGE, admin)


def test_anonymous_and_deactivated_members_can_do_nothing(cs_contributor):
    assert not policy.can(None, "feedback", Action.VIEW)
    cs_contributor.is_active = False
    assert policy.level(cs_contributor, "feedback") == Level.NONE
