"""Shared steps of the browser stories: the demo organisation and signing in through the form."""

import contextlib

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

from moulin.demo.organisation import DEMO_PASSWORD, demo_load

ADMIN_EMAIL = "admin@example.com"


@pytest.fixture
def demo(transactional_db):
    """The Liquidia demo organisation, committed so the live server sees it (with a smaller
    feedback hub than `make run` loads, to keep the suite fast; screenshots use the full one)."""
    organisation, _created = demo_load(customers=40, feedback=200)
    return organisation


@pytest.fixture
def sign_in(live_server, page: Page):
    """Sign in through the real form: sign_in(email, password) leaves the page on home."""

    def submit(email: str = ADMIN_EMAIL, password: str = DEMO_PASSWORD) -> Page:
        page.goto(f"{live_server.url}/sign-in/")
        page.locator("#id_username").fill(email)
        page.locator("#id_password").fill(password)
        page.locator("form.form button[type=submit]").click()
        expect(page).to_have_url(f"{live_server.url}/")
        return page

    yield submit
    # Before the database is flushed: let the page's last requests (panels loaded after the
    # page, such as similar feedback or features) finish, then leave it. A request still
    # running holds the in-memory database's lock and the flush fails ("table is locked").
    with contextlib.suppress(PlaywrightError):
        page.wait_for_load_state("networkidle", timeout=3000)
    with contextlib.suppress(PlaywrightError):
        page.goto("about:blank")
