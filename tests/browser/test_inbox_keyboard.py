"""A Product Ops lead triages the inbox with the keyboard only, like Productboard's insights
inbox: j/k to move, 3 for critical, e to mark triaged, a to archive, u to undo, x and t to tag
several at once, ? for help. Also writes docs/img/inbox.png."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from moulin.feedback.models import Feedback
from tests.builders import PASSWORD
from tests.feedback.inbox_data import make_customer, make_feedback

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

IMAGES = Path(__file__).resolve().parents[2] / "docs" / "img"
CURRENT = re.compile(r"\bcurrent\b")


def sign_in(page: Page, live_server, member) -> None:
    page.goto(f"{live_server.url}/sign-in/")
    page.locator("#id_username").fill(member.user.email)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("form.form button[type=submit]").click()
    expect(page).to_have_url(f"{live_server.url}/")


@pytest.fixture
def four_items(organisation):
    """Four untriaged items, newest first as the inbox lists them."""
    texts = ["Exports time out on big workspaces.", "Bank sync drops accents in labels.",
             "We want a forecast per entity.", "Please add SSO with Okta."]
    return [make_feedback(organisation, text, days_ago=index)
            for index, text in enumerate(texts)]


def row(page: Page, item: Feedback):
    return page.locator(f"#feedback-{item.pk}")


def status_of(item: Feedback) -> tuple[str, str]:
    item.refresh_from_db()
    return item.status, item.importance


def test_triage_three_items_with_the_keyboard_then_undo_the_last(live_server, page: Page,
                                                                  product_ops, four_items):
    first, second, third, fourth = four_items
    sign_in(page, live_server, product_ops)
    page.goto(f"{live_server.url}/feedback/")
    expect(page.locator("#inbox-rows tr.inbox-row")).to_have_count(4)
    expect(row(page, first)).to_have_class(CURRENT)

    # First item: critical, then triaged; the highlight moves on by itself.
    page.keyboard.press("3")
    expect(row(page, first).locator(".badge.importance-critical")).to_be_visible()
    page.keyboard.press("e")
    expect(row(page, first).locator(".badge.status-triaged")).to_be_visible()
    expect(row(page, second)).to_have_class(CURRENT)

    # Skip one with j, triage the third.
    page.keyboard.press("j")
    expect(row(page, third)).to_have_class(CURRENT)
    page.keyboard.press("e")
    expect(row(page, third).locator(".badge.status-triaged")).to_be_visible()
    expect(row(page, fourth)).to_have_class(CURRENT)

    # Back up with k to the second and archive it.
    page.keyboard.press("k")
    page.keyboard.press("k")
    expect(row(page, second)).to_have_class(CURRENT)
    page.keyboard.press("a")
    expect(row(page, second).locator(".badge.status-archived")).to_be_visible()
    toast = page.locator("#inbox-toast")
    expect(toast).to_contain_text("Archive: 1 item changed.")

    assert status_of(first) == ("triaged", "critical")
    assert status_of(second) == ("archived", "important")
    assert status_of(third) == ("triaged", "important")

    # u takes the archive back, and only that.
    page.keyboard.press("u")
    expect(row(page, second).locator(".badge.status-new")).to_be_visible()
    expect(toast).to_contain_text("Undone")
    assert status_of(second) == ("new", "important")
    assert status_of(first) == ("triaged", "critical")
    assert status_of(third) == ("triaged", "important")
    assert status_of(fourth) == ("new", "important")


def test_select_with_x_and_tag_with_t_without_touching_the_mouse(live_server, page: Page,
                                                                  product_ops, four_items):
    first, second, third, _fourth = four_items
    sign_in(page, live_server, product_ops)
    page.goto(f"{live_server.url}/feedback/")
    expect(row(page, first)).to_have_class(CURRENT)

    page.keyboard.press("x")
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("x")
    expect(page.locator("#selection-count")).to_have_text("2 selected")
    page.keyboard.press("t")
    expect(page.locator("#bulk-tag")).to_be_focused()
    # Typing in a field never fires a shortcut ("a" would archive, "e" would triage).
    page.keyboard.type("bank-sync-area")
    page.keyboard.press("Enter")
    expect(row(page, first).locator(".tag")).to_have_text("#bank-sync-area")
    expect(row(page, third).locator(".tag")).to_have_text("#bank-sync-area")
    expect(row(page, second).locator(".tag")).to_have_count(0)
    assert [t.name for t in first.tags.all()] == ["bank-sync-area"]
    assert status_of(first) == ("new", "important")

    # Esc leaves the field; ? opens the help, ? closes it; Enter opens the highlighted item.
    page.locator("#bulk-tag").focus()
    page.keyboard.press("Escape")
    page.keyboard.press("?")
    expect(page.locator("#shortcut-help")).to_be_visible()
    page.keyboard.press("?")
    expect(page.locator("#shortcut-help")).to_be_hidden()
    page.keyboard.press("k")
    expect(row(page, second)).to_have_class(CURRENT)
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server.url}/feedback/{second.pk}/")
    expect(page.locator("h1")).to_contain_text("Bank sync drops accents")


def test_filters_apply_as_you_type_and_the_toolbar_works_with_the_mouse(
        live_server, page: Page, product_ops, four_items):
    first, second, third, fourth = four_items
    sign_in(page, live_server, product_ops)
    page.goto(f"{live_server.url}/feedback/")
    page.evaluate("window.__noReload = true")
    rows = page.locator("#inbox-rows tr.inbox-row")

    page.locator("#filter-q").press_sequentially("accent", delay=20)
    expect(rows).to_have_count(1)
    expect(rows.first.locator("mark")).to_have_text("accents")
    expect(page).to_have_url(re.compile(r"/feedback/\?(.*&)?q=accent(&|$)"))
    assert status_of(second) == ("new", "important")  # "a" and "e" typed: no shortcut fired

    page.locator("#filter-q").fill("")
    page.locator("#filter-sort").select_option("oldest")
    expect(rows.first).to_have_attribute("id", f"feedback-{fourth.pk}")
    page.locator(f"#feedback-{third.pk} input[name=ids]").check()
    page.locator(f"#feedback-{first.pk} input[name=ids]").check()
    page.locator("#bulk-form button[value=archive]:visible").click()
    expect(row(page, third).locator(".badge.status-archived")).to_be_visible()
    expect(row(page, first).locator(".badge.status-archived")).to_be_visible()
    page.locator("#bulk-importance").select_option("critical")  # applies to the highlighted row
    expect(row(page, fourth).locator(".badge.importance-critical")).to_be_visible()
    page.locator("#inbox-toast [data-undo]").click()
    expect(row(page, fourth).locator(".badge.importance-important")).to_be_visible()
    assert page.evaluate("window.__noReload") is True
    assert status_of(third) == ("archived", "important")
    assert status_of(fourth) == ("new", "important")


def test_a_viewer_moves_around_but_cannot_change_anything(live_server, page: Page,
                                                           sales_viewer, four_items):
    first, second, *_rest = four_items
    sign_in(page, live_server, sales_viewer)
    page.goto(f"{live_server.url}/feedback/")
    expect(page.locator("#bulk-form")).to_have_count(0)
    page.keyboard.press("j")
    expect(row(page, second)).to_have_class(CURRENT)
    page.keyboard.press("a")
    page.keyboard.press("3")
    page.wait_for_timeout(300)
    assert status_of(second) == ("new", "important")


def test_screenshot_of_the_inbox(live_server, browser: Browser, organisation, product_ops):
    """docs/img/inbox.png: the inbox a Product Ops lead opens on Monday morning."""
    initech = make_customer(organisation, "Initech", arr="250000", plan="Enterprise",
                            segment="Enterprise", lifecycle="customer")
    globex = make_customer(organisation, "Globex Finance", arr="48 000", plan="Scale",
                           segment="Mid-market")
    hooli = make_customer(organisation, "Hooli", arr="9 000", plan="Starter", segment="SMB",
                          lifecycle="trial")
    stories = [
        ("Exports time out", "Our monthly cash export times out once the workspace has more "
         "than 40 entities. The finance team rebuilds it by hand every month.", initech,
         "zendesk", "critical", ["exports", "performance"], 0.2),
        ("", "L'équipe trésorerie voudrait rapprocher les relevés bancaires automatiquement, "
         "sans passer par un fichier Excel intermédiaire.", globex, "intercom", "important",
         ["bank-sync"], 0.6),
        ("Forecast per entity", "We need the 13-week forecast split per legal entity before "
         "our board meeting; today it is only consolidated.", initech, "web_form",
         "important", ["forecast"], 1.5),
        ("SSO with Okta", "IT will not approve the renewal without SSO through Okta.", globex,
         "hubspot", "critical", ["security"], 2.2),
        ("", "Could the dashboard remember the last filter I used? Small thing, but daily.",
         hooli, "slack", "nice_to_have", [], 3.1),
        ("Alertes de trésorerie", "Recevoir une alerte quand le solde prévisionnel passe sous "
         "le seuil défini par entité.", None, "email", "important", ["alerts"], 4.0),
        ("Multi-currency reports", "Reports in EUR and USD side by side for the US "
         "subsidiary.", hooli, "survey", "important", ["reporting"], 6.0),
    ]
    for title, text, customer, source, importance, tags, days in stories:
        make_feedback(organisation, text, title=title, customer=customer, source=source,
                      importance=importance, tags=tags, days_ago=days,
                      contact_email="marie.curie@initech.com" if customer is initech else "")
    for days in (9, 16, 23, 30, 37, 44):  # a few weeks of history for the counters
        older = make_feedback(organisation, "Older request about reporting.",
                              source="zendesk", days_ago=days, status="triaged")
        Feedback.objects.filter(pk=older.pk).update(
            triaged_at=older.created_at + timedelta(hours=days))

    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
    page = context.new_page()
    try:
        sign_in(page, live_server, product_ops)
        page.goto(f"{live_server.url}/feedback/")
        expect(page.locator("#inbox-rows tr.inbox-row")).to_have_count(len(stories))
        page.keyboard.press("j")
        IMAGES.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(IMAGES / "inbox.png"), full_page=True, animations="disabled",
                        caret="hide")
        row_link = page.locator("#inbox-rows tr.inbox-row").first.locator("a").first
        row_link.click()
        expect(page.locator("h1")).to_be_visible()
        page.screenshot(path=str(IMAGES / "feedback-page.png"), full_page=True,
                        animations="disabled", caret="hide")
    finally:
        context.close()
