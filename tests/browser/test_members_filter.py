"""The member directory filters as one types (htmx), and the address follows (hx-push-url)."""

import re

import pytest
from playwright.sync_api import Page, expect

from moulin.demo.organisation import PEOPLE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_typing_in_the_search_filters_rows_live_and_updates_the_address(demo, sign_in,
                                                                       live_server):
    page: Page = sign_in()
    page.goto(live_server.url + "/members/")
    rows = page.locator("#member-rows tr")
    expect(rows).to_have_count(len(PEOPLE))
    page.evaluate("window.__noReload = true")

    page.locator("#filter-q").press_sequentially("dubois", delay=20)
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Léa Dubois")
    expect(page).to_have_url(re.compile(r"/members/\?(.*&)?q=dubois(&|$)"))

    page.locator("#filter-q").fill("nobody-by-this-name")
    expect(rows).to_have_count(1)
    expect(rows.first.locator("td.empty")).to_be_visible()
    expect(page).to_have_url(re.compile(r"q=nobody-by-this-name"))

    page.locator("#filter-q").fill("")
    page.locator("#filter-role").select_option("viewer")
    viewers = sum(1 for person in PEOPLE if person.role == "viewer")
    expect(rows).to_have_count(viewers)
    expect(page).to_have_url(re.compile(r"role=viewer"))
    assert page.evaluate("window.__noReload") is True  # every change was a partial swap

    # The pushed address is a real page: opening it shows the same filtered list.
    page.goto(page.url)
    expect(rows).to_have_count(viewers)
    expect(page.locator("#filter-role")).to_have_value("viewer")
