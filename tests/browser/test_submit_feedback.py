"""A Customer Success manager records what a customer said, picking the customer with the
keyboard in the autocomplete, and gets a confirmation; the screenshot is taken on the way."""

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from moulin.accounts.models import Member, User
from moulin.customers import selectors as customer_selectors
from moulin.feedback.models import Feedback, ProductArea

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

IMAGES = Path(__file__).resolve().parents[2] / "docs" / "img"
CS_EMAIL = "cs@example.com"


def test_cs_member_submits_feedback_choosing_the_customer_with_the_keyboard(demo, sign_in,
                                                                           live_server):
    # Screenshots are in English, whatever the organisation's language.
    User.objects.filter(email=CS_EMAIL).update(language="en")
    member = Member.objects.get(user__email=CS_EMAIL)
    area = ProductArea.objects.filter(organisation=demo).order_by("name").first()
    page: Page = sign_in(CS_EMAIL)

    page.locator('nav.sidebar a.nav-link[href="/feedback/new/"]').click()
    expect(page).to_have_url(live_server.url + "/feedback/new/")
    expect(page.locator("main h1")).to_have_text("Submit feedback")

    page.locator("#id_text").fill(
        "Our treasurer wants the 13-week forecast exported to Excel every Monday morning.")
    page.locator("#id_contact_email").fill("claire.martin@example.org")
    page.locator("#id_contact_name").fill("Claire Martin")
    page.locator("#id_tags").fill("forecast, excel")

    # Three letters of a customer's name, then Arrow Down and Enter.
    target = customer_selectors.customer_list(member=member, sort="arr").first()
    typed = target.name[:3]
    expected = customer_selectors.customer_autocomplete(member=member, text=typed)[0]
    combobox = page.get_by_role("combobox", name="Customer")
    combobox.press_sequentially(typed, delay=40)
    listbox = page.get_by_role("listbox")
    expect(listbox).to_be_visible()
    expect(combobox).to_have_attribute("aria-expanded", "true")
    first = listbox.get_by_role("option").first
    expect(first).to_contain_text(expected.name)
    expect(first).to_contain_text("ARR")  # business data helps pick the right account

    combobox.press("ArrowDown")
    expect(first).to_have_attribute("aria-selected", "true")
    expect(combobox).to_have_attribute("aria-activedescendant", f"customer-option-{expected.pk}")
    page.mouse.move(0, 0)
    IMAGES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(IMAGES / "submit-feedback.png"), full_page=True,
                    animations="disabled", caret="hide")

    combobox.press("Enter")  # picks the customer; does not submit the form
    expect(listbox).to_be_hidden()
    expect(combobox).to_have_value(expected.name)
    expect(combobox).to_have_attribute("aria-expanded", "false")
    expect(page.locator("#id_customer")).to_have_value(str(expected.pk))
    assert not Feedback.objects.filter(submitted_by=member).exists()

    page.get_by_label("Critical").check()
    page.locator("#id_product_area").select_option(str(area.pk))
    page.get_by_role("button", name="Submit feedback", exact=True).click()

    message = page.locator(".messages .message.success")
    expect(message).to_contain_text("Thanks — feedback recorded.")
    item = Feedback.objects.filter(submitted_by=member).get()
    expect(message.get_by_role("link", name="Open it")).to_have_attribute(
        "href", f"/feedback/{item.pk}/")
    assert (item.customer, item.importance, item.product_area, item.source) == (
        expected, "critical", area, "web_form")
    assert item.contact.email == "claire.martin@example.org"
    # The form is blank again, ready for the next one.
    expect(page.locator("#id_text")).to_have_value("")
    expect(combobox).to_have_value("")


def test_save_and_add_another_keeps_the_customer_and_escape_closes_the_list(demo, sign_in,
                                                                          live_server):
    User.objects.filter(email=CS_EMAIL).update(language="en")
    member = Member.objects.get(user__email=CS_EMAIL)
    target = customer_selectors.customer_list(member=member).first()
    page: Page = sign_in(CS_EMAIL)
    page.goto(live_server.url + "/feedback/new/")

    combobox = page.locator("#id_customer_search")
    combobox.press_sequentially(target.name[:4], delay=40)
    option = page.locator(f"#customer-option-{target.pk}")
    expect(option).to_be_visible()
    combobox.press("Escape")
    expect(page.get_by_role("listbox")).to_be_hidden()
    combobox.press("ArrowDown")  # reopens the list on the first option
    expect(page.get_by_role("listbox")).to_be_visible()
    option.click()
    expect(combobox).to_have_value(target.name)

    page.locator("#id_text").fill("Premier retour.")
    page.get_by_role("button", name="Save and add another").click()

    expect(page.locator(".messages .message.success")).to_be_visible()
    expect(combobox).to_have_value(target.name)
    expect(page.locator("#id_customer")).to_have_value(str(target.pk))
    expect(page.locator("#id_text")).to_have_value("")
    page.locator("#id_text").fill("Deuxième retour.")
    page.get_by_role("button", name="Submit feedback", exact=True).click()
    expect(page.locator(".messages .message.success")).to_be_visible()
    assert list(Feedback.objects.filter(submitted_by=member).order_by("id").values_list(
        "customer", flat=True)) == [target.pk, target.pk]
