"""Product Ops finds an emerging theme nobody has named yet — customers asking for a dark mode —
and turns it into a theme of the taxonomy in one click, renaming it on the way."""

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from moulin.accounts.models import Member, User
from moulin.customers.models import Customer
from moulin.triage.models import EmergingCluster, FeedbackTheme, Origin, Theme
from tests.browser.conftest import ADMIN_EMAIL
from tests.triage.discovery_data import DARK_MODE, analyse, forget_indexes, make_feedback

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

IMAGES = Path(__file__).resolve().parents[2] / "docs" / "img"


def test_product_ops_turns_an_emerging_cluster_into_a_theme(demo, sign_in, live_server):
    forget_indexes()
    User.objects.filter(email=ADMIN_EMAIL).update(language="en")
    admin = Member.objects.get(user__email=ADMIN_EMAIL)
    customers = list(Customer.objects.filter(organisation=demo).order_by("-arr")[:8])
    dark = [make_feedback(demo, admin, text, customer=customers[n % len(customers)],
                          days_ago=1 + 4 * n) for n, text in enumerate(DARK_MODE)]
    analyse(*dark)
    page: Page = sign_in()

    page.locator('nav.sidebar a.nav-link[href="/triage/emerging/"]').click()
    expect(page.locator("main h1")).to_have_text("Emerging themes")
    page.locator("#run-clustering").click()  # runs in the background (at once in tests)
    expect(page.locator("#emerging-job")).to_have_attribute("data-status", "done")

    dark_ids = {item.pk for item in dark}
    cluster = max(EmergingCluster.objects.filter(organisation=demo,
                                                 state=EmergingCluster.State.OPEN),
                  key=lambda c: len(dark_ids & set(c.items.values_list("pk", flat=True))))
    card = page.locator(f"#cluster-{cluster.pk}")
    expect(card).to_be_visible()
    expect(card.locator(".cluster-size")).to_have_text(str(cluster.size))
    expect(card.locator(".cluster-verbatims li")).not_to_have_count(0)
    name = card.get_by_label("Theme name")
    expect(name).to_have_value(cluster.label)  # prefilled from the keywords

    name.fill("Dark mode")
    card.evaluate("card => card.scrollIntoView({block: 'start'})")
    IMAGES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(IMAGES / "emerging-themes.png"), full_page=False,
                    animations="disabled", caret="hide")
    card.get_by_role("button", name="Create the theme").click()

    done = page.locator(f"#cluster-{cluster.pk}")
    # Tests run tasks at once: the answer waits for the retraining the new theme asks for.
    expect(done).to_contain_text(f"Theme “Dark mode” created with {cluster.size} items.",
                                 timeout=60_000)
    page.wait_for_load_state("networkidle")
    theme = Theme.objects.get(organisation=demo, name_en="Dark mode")
    from_cluster = FeedbackTheme.objects.filter(theme=theme, origin=Origin.CLUSTER)
    assert set(from_cluster.values_list("feedback_id", flat=True)) == set(
        cluster.items.values_list("pk", flat=True))
    assert len(dark_ids & set(from_cluster.values_list("feedback_id", flat=True))) >= 5
    assert theme.examples

    page.reload()  # the converted group left the open list and shows as a theme
    expect(page.locator(f"#cluster-{cluster.pk}")).to_have_count(0)
    expect(page.locator("#converted-title")).to_be_visible()
    expect(page.get_by_text("Dark mode", exact=True)).to_be_visible()

    # The new theme shows in the insights: a row with its customers, and a line in the chart.
    page.locator('nav.sidebar a.nav-link[href="/triage/insights/"]').click()
    expect(page.locator("main h1")).to_have_text("Insights")
    row = page.locator(f'.insights-table tr[data-theme="{theme.pk}"]')
    expect(row.locator(".theme-items")).to_have_text(
        str(FeedbackTheme.objects.filter(theme=theme).count()))
    assert page.evaluate("() => Chart.getChart('theme-volume-chart').data.datasets"
                         ".some(d => d.label === 'Dark mode')")
    page.screenshot(path=str(IMAGES / "insights.png"), full_page=False, animations="disabled")
    forget_indexes()


def test_a_duplicate_is_merged_from_the_feedback_page_and_warned_about_on_intake(
        demo, sign_in, live_server):
    from moulin.feedback.models import Feedback, Status
    from tests.triage.discovery_data import EXPORT_TIMEOUT, EXPORT_TIMEOUT_PARAPHRASE

    forget_indexes()
    User.objects.filter(email=ADMIN_EMAIL).update(language="en")
    admin = Member.objects.get(user__email=ADMIN_EMAIL)
    first_customer, second_customer = Customer.objects.filter(organisation=demo)[:2]
    kept = make_feedback(demo, admin, EXPORT_TIMEOUT, customer=first_customer, days_ago=6)
    duplicate = make_feedback(demo, admin, EXPORT_TIMEOUT_PARAPHRASE, customer=second_customer,
                              days_ago=2)
    analyse(kept, duplicate)
    page: Page = sign_in()

    page.goto(f"{live_server.url}/feedback/{kept.pk}/")
    row = page.locator(f'#similar-panel li[data-feedback="{duplicate.pk}"]')
    # The panel loads after the page; in a full run the first similarity search of this
    # process (index built from the database) can take longer than expect's 5 s default.
    expect(row).to_be_visible(timeout=20_000)
    expect(row).to_contain_text("% similar")
    page.locator("#similar-panel").evaluate("panel => panel.scrollIntoView({block: 'start'})")
    page.screenshot(path=str(IMAGES / "similar-feedback.png"), full_page=False,
                    animations="disabled", caret="hide")
    row.get_by_role("button", name="Merge here").click()
    panel = page.locator("#similar-panel")
    expect(panel).to_contain_text(f"Merged #{duplicate.pk} into #{kept.pk}")
    expect(panel).to_contain_text("2 customers")
    page.wait_for_load_state("networkidle")  # SQLite: let the server's requests finish
    duplicate.refresh_from_db()
    assert (duplicate.status, duplicate.merged_into_id) == (Status.MERGED, kept.pk)

    page.goto(f"{live_server.url}/feedback/new/")
    page.locator("#id_text").press_sequentially(
        "PDF export times out with more than 500 invoices", delay=10)
    warning = page.locator("#similar-warning")
    expect(warning).to_contain_text("already")
    expect(warning.get_by_role("link").first).to_have_attribute(
        "href", f"/feedback/{kept.pk}/")
    assert Feedback.objects.filter(organisation=demo, merged_into=kept).count() == 1
    forget_indexes()
