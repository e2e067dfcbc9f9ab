"""A Product Ops lead puts incoming feedback under themes with one keystroke: s accepts the top
suggestion of the highlighted row, Shift+2 the second one, c opens the theme picker (type, then
Enter), and n on the feedback page says "unknown — possible new theme"."""

import re

import pytest
from playwright.sync_api import Page, expect

from moulin.triage.models import (
    FeedbackAnalysis,
    FeedbackTheme,
    Origin,
    Outcome,
    Theme,
    TriageSettings,
)
from tests.builders import PASSWORD
from tests.triage.triage_data import NEW_ITEMS, make_taxonomy, receive, train

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
CURRENT = re.compile(r"\bcurrent\b")


def sign_in(page: Page, live_server, member) -> None:
    page.goto(f"{live_server.url}/sign-in/")
    page.locator("#id_username").fill(member.user.email)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("form.form button[type=submit]").click()
    expect(page).to_have_url(f"{live_server.url}/")


@pytest.fixture
def suggested(organisation):
    """Three items waiting for review with their suggestions, newest first."""
    themes = make_taxonomy(organisation)
    TriageSettings.objects.update_or_create(organisation=organisation,
                                            defaults={"auto_apply_threshold": 1.0})
    train(organisation)
    # Intake commits, then its hook analyses each item (immediate tasks under tests).
    items = [receive(organisation, text) for text in
             (NEW_ITEMS[6][0], NEW_ITEMS[2][0], NEW_ITEMS[0][0])][::-1]
    assert all(FeedbackAnalysis.objects.get(feedback=i).suggestions for i in items)
    return themes, items


def themes_of(item) -> list[tuple[int, str]]:
    return list(FeedbackTheme.objects.filter(feedback=item).values_list("theme", "origin"))


def test_accept_and_correct_suggestions_with_the_keyboard(live_server, page: Page, product_ops,
                                                          suggested):
    themes, (bank, reminder, okta) = suggested
    sign_in(page, live_server, product_ops)
    page.goto(f"{live_server.url}/feedback/?outcome=suggested,unknown")
    first = page.locator(f"#feedback-{bank.pk}")
    expect(first).to_have_class(CURRENT)
    expect(first.locator(".theme-chip.suggested").first).to_contain_text("Bank synchronisation")

    # s: the top suggestion of the highlighted row, applied in place.
    page.keyboard.press("s")
    expect(page.locator("#inbox-toast")).to_contain_text("Theme “Bank synchronisation” applied.")
    expect(first.locator(".theme-chip:not(.suggested)")).to_contain_text("Bank synchronisation")
    assert themes_of(bank) == [(themes["bank_sync"].pk, Origin.ACCEPTED)]

    # j then Shift+2: the second suggestion of the next row.
    page.keyboard.press("j")
    second = page.locator(f"#feedback-{reminder.pk}")
    expect(second).to_have_class(CURRENT)
    runner_up = Theme.objects.get(
        pk=FeedbackAnalysis.objects.get(feedback=reminder).suggestions[1]["theme"])
    name = runner_up.name_en
    expect(second.locator('.theme-chip.suggested[data-rank="2"]')).to_contain_text(name)
    page.keyboard.press("Shift+Digit2")
    expect(page.locator("#inbox-toast")).to_contain_text("applied.")
    expect(second.locator(".theme-chip:not(.suggested)")).to_contain_text(name)
    assert themes_of(reminder) == [(runner_up.pk, Origin.ACCEPTED)]

    # c opens the picker: type to filter, Enter applies the first match.
    page.keyboard.press("j")
    expect(page.locator(f"#feedback-{okta.pk}")).to_have_class(CURRENT)
    page.keyboard.press("c")
    picker = page.locator("#theme-picker")
    expect(picker).to_be_visible()
    page.keyboard.type("forecast")
    expect(picker.locator(".theme-option:visible")).to_have_count(1)
    page.keyboard.press("Enter")
    expect(picker).to_be_hidden()
    expect(page.locator("#inbox-toast")).to_contain_text("Theme “Cash forecasting” applied.")
    assert themes_of(okta) == [(themes["forecast"].pk, Origin.MANUAL)]

    # The help lists the theme keys.
    page.keyboard.press("?")
    expect(page.locator("#shortcut-help")).to_contain_text("Accept the top suggested theme")


def test_unknown_from_the_feedback_page(live_server, page: Page, product_ops, suggested):
    _themes, (bank, _reminder, _okta) = suggested
    sign_in(page, live_server, product_ops)
    page.goto(f"{live_server.url}/feedback/{bank.pk}/")
    panel = page.locator("#triage-panel")
    expect(panel).to_contain_text("Bank synchronisation")
    page.keyboard.press("n")
    # The answer can take more than the default 5 s when the whole suite loads the machine.
    expect(panel.locator(".badge.outcome-unknown")).to_be_visible(timeout=20_000)
    expect(panel).to_contain_text("Marked “unknown — possible new theme”.")
    assert FeedbackAnalysis.objects.get(feedback=bank).outcome == Outcome.UNKNOWN
