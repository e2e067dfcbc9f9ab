"""An administrator signs in through the form, walks the sidebar, uses the keyboard and the
language menu, then signs out."""

import pytest
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIDEBAR_PAGES = ["/members/", "/squads/", "/departments/", "/permissions/", "/audit/",
                 "/settings/"]


def test_admin_signs_in_walks_the_sidebar_and_signs_out(demo, sign_in, live_server):
    page: Page = sign_in()
    expect(page.locator("h1")).to_contain_text("Camille")

    for path in SIDEBAR_PAGES:
        link = page.locator(f'nav.sidebar a.nav-link[href="{path}"]')
        link.click()
        expect(page).to_have_url(live_server.url + path)
        expect(link).to_have_attribute("aria-current", "page")
        expect(page.locator("main#content h1")).to_be_visible()

    page.locator('form[action="/sign-out/"] button[type=submit]').click()
    expect(page).to_have_url(live_server.url + "/sign-in/")
    page.goto(live_server.url + "/members/")
    expect(page).to_have_url(f"{live_server.url}/sign-in/?next=%2Fmembers%2F")


def test_skip_link_is_the_first_tab_stop_and_moves_focus_to_main_content(demo, sign_in):
    page: Page = sign_in()
    page.keyboard.press("Tab")
    skip_link = page.locator("a.skip-link")
    expect(skip_link).to_be_focused()
    expect(skip_link).to_be_visible()  # shown on focus, hidden otherwise
    page.keyboard.press("Enter")
    expect(page.locator("main#content")).to_be_focused()


def test_language_menu_switches_the_interface_between_english_and_french(demo, sign_in):
    page: Page = sign_in()
    html = page.locator("html")
    expect(html).to_have_attribute("lang", "fr")  # the demo organisation speaks French

    page.locator("header #language-select").select_option("en")
    expect(html).to_have_attribute("lang", "en")
    expect(page.locator("header #language-select")).to_have_value("en")
    page.reload()  # the choice is saved, not only shown once
    expect(html).to_have_attribute("lang", "en")

    page.locator("header #language-select").select_option("fr")
    expect(html).to_have_attribute("lang", "fr")
    expect(page.locator("header #language-select")).to_have_value("fr")
