"""Prioritisation in the browser, on the demo organisation:

- a PM links a feedback item to a feature from the feature page and watches the feature's ARR
  and rank change without reloading;
- Product Ops drag a feature up the board, give the reason in the dialog, and the board shows
  the new order with the reason.

With MOULIN_SCREENSHOTS=1 (``make screenshots``) the board and the feature page are saved in
docs/img for the README."""

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from moulin.accounts.models import User
from moulin.features.models import Feature, FeedbackLink, RankOverride
from moulin.feedback.models import Feedback

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

IMAGES = Path(__file__).resolve().parents[2] / "docs" / "img"
PM_EMAIL = "pm@example.com"
OPS_EMAIL = "productops@example.com"


def shoot(page: Page, name: str, *, full_page: bool = True) -> None:
    if os.environ.get("MOULIN_SCREENSHOTS") != "1":
        return
    IMAGES.mkdir(parents=True, exist_ok=True)
    page.mouse.move(0, 0)
    page.screenshot(path=str(IMAGES / f"{name}.png"), full_page=full_page,
                    animations="disabled", caret="hide")


def test_linking_feedback_moves_the_features_arr_and_rank(demo, sign_in, live_server):
    User.objects.filter(email=PM_EMAIL).update(language="en")
    feature = Feature.objects.get(organisation=demo, title="Relances par SMS")
    # The largest customer's feedback this feature does not hold yet.
    item = (Feedback.objects.filter(organisation=demo, customer__isnull=False)
            .exclude(feature_links__feature=feature).order_by("-customer_arr", "pk").first())
    page: Page = sign_in(PM_EMAIL)
    page.goto(f"{live_server.url}/features/{feature.pk}/")
    expect(page.locator("main h1")).to_have_text("Relances par SMS")
    arr = page.get_by_test_id("feature-arr")
    rank = page.get_by_test_id("feature-rank")
    arr_before, rank_before = arr.inner_text(), rank.inner_text()
    assert arr_before.startswith("0")
    breakdown = page.locator("#feature-score table.driver-table")
    breakdown_before = breakdown.inner_text()

    page.get_by_label("Link feedback").fill(f"#{item.pk}")
    result = page.locator("#link-search-results li").first
    expect(result).to_contain_text(f"#{item.pk}")
    result.get_by_role("button", name=f"Link feedback #{item.pk}").click()

    expect(page.locator("#feature-links")).to_contain_text("Linked.")
    expect(arr).not_to_have_text(arr_before)
    expect(page.get_by_test_id("feature-customers")).to_have_text("1")
    new_rank = int(rank.inner_text().lstrip("#"))
    assert new_rank < int(rank_before.lstrip("#")), "more demand, higher on the board"
    # The score panel follows too: the demand drivers of the breakdown have new values.
    expect(breakdown).not_to_have_text(breakdown_before)
    assert FeedbackLink.objects.filter(feature=feature, feedback=item).exists()
    feature.refresh_from_db()
    assert feature.arr_total > 0
    expect(page.locator("#feature-links table")).to_contain_text(item.customer.name)

    if os.environ.get("MOULIN_SCREENSHOTS") == "1":  # a feature with a year of demand
        busy = Feature.objects.get(organisation=demo, title="Synchronisation bancaire fiable")
        page.goto(f"{live_server.url}/features/{busy.pk}/")
        page.wait_for_load_state("networkidle")
        shoot(page, "feature-page")


def test_drag_a_feature_up_the_board_and_give_the_reason(demo, sign_in, live_server):
    User.objects.filter(email=OPS_EMAIL).update(language="en")
    page: Page = sign_in(OPS_EMAIL)
    page.set_viewport_size({"width": 1440, "height": 1600})
    page.goto(f"{live_server.url}/features/board/")
    rows = page.locator("#board-rows tr[data-id]")
    expect(rows.first).to_be_visible()
    moved = rows.nth(6)
    moved_title = moved.get_attribute("data-title")
    target = rows.nth(3)
    target_rank = int(target.get_attribute("data-rank"))

    moved.scroll_into_view_if_needed()
    handle = moved.locator(".drag-handle").bounding_box()
    goal = target.bounding_box()
    page.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
    page.mouse.down()
    page.mouse.move(handle["x"] + 5, handle["y"] - 10, steps=5)
    page.mouse.move(goal["x"] + 20, goal["y"] + 4, steps=20)
    page.mouse.up()

    dialog = page.locator("#move-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("[data-feature-title]")).to_have_text(moved_title)
    expect(dialog.get_by_label("New place on the board")).to_have_value(str(target_rank))
    shoot(page, "prioritisation-move", full_page=False)
    dialog.get_by_role("button", name="Move it").click()
    expect(dialog.locator("#move-errors")).to_contain_text("Give the reason")  # required
    dialog.get_by_label(re.compile("Reason")).fill("Blocking the renewal of Groupe Martin")
    dialog.get_by_role("button", name="Move it").click()

    expect(dialog).to_be_hidden()
    row = page.locator(f'#board-rows tr[data-rank="{target_rank}"]')
    expect(row).to_have_attribute("data-title", moved_title)
    expect(row).to_contain_text("Blocking the renewal of Groupe Martin")
    override = RankOverride.objects.filter(feature__title=moved_title).latest("created_at")
    assert override.to_position == target_rank
    assert override.reason == "Blocking the renewal of Groupe Martin"
    page.reload()
    expect(page.locator(f'#board-rows tr[data-rank="{target_rank}"]')).to_have_attribute(
        "data-title", moved_title)
    page.set_viewport_size({"width": 1440, "height": 1000})
    shoot(page, "prioritisation-board", full_page=False)

    # Cancel puts a dragged row back where it was.
    rows = page.locator("#board-rows tr[data-id]")
    first_title = rows.nth(0).get_attribute("data-title")
    rows.nth(0).scroll_into_view_if_needed()
    handle = rows.nth(3).locator(".drag-handle").bounding_box()
    goal = rows.nth(0).bounding_box()
    page.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
    page.mouse.down()
    page.mouse.move(handle["x"] + 5, handle["y"] - 10, steps=5)
    page.mouse.move(goal["x"] + 20, goal["y"] + 4, steps=20)
    page.mouse.up()
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(rows.nth(0)).to_have_attribute("data-title", first_title)
