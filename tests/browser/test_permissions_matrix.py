"""Changing one cell of the department matrix saves it through htmx, CSRF header included."""

import re

import pytest
from playwright.sync_api import Page, expect

from moulin.accounts.models import Department, PermissionGrant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_changing_a_department_cell_saves_in_place_and_persists(demo, sign_in, live_server):
    sales = Department.objects.get(organisation=demo, key="sales")
    page: Page = sign_in()
    page.goto(live_server.url + "/permissions/")
    cell = page.locator(f"#department-matrix-{sales.pk}-feedback")
    form = page.locator("form", has=cell)
    default = cell.get_attribute("data-default")
    new_level = "3" if default != "3" else "1"
    # A marker on window survives only if the page is not reloaded.
    page.evaluate("window.__noReload = true")

    with page.expect_response(lambda r: r.request.method == "POST"
                              and r.url.endswith("/permissions/")) as answer:
        cell.select_option(new_level)
    response = answer.value
    assert response.status == 200
    assert response.request.header_value("x-csrftoken")  # sent by hx-headers on <body>
    assert response.request.header_value("hx-request") == "true"

    badge = form.locator(".status .badge.ok")
    expect(badge).to_be_visible()
    expect(badge).to_have_text(re.compile(r"^(Saved|Enregistré)$"))
    assert page.evaluate("window.__noReload") is True
    assert page.locator(".status .badge").count() == 1  # only the changed cell answers

    grant = PermissionGrant.objects.get(organisation=demo, subject_type="department",
                                        subject=str(sales.pk), module="feedback")
    assert str(grant.level) == new_level

    page.reload()
    cell = page.locator(f"#department-matrix-{sales.pk}-feedback")
    expect(cell).to_have_value(new_level)
    expect(cell).to_have_class(f"level-{new_level} overridden")
    assert page.evaluate("window.__noReload") is None
