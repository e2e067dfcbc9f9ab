"""Insights: theme volume per week, rising themes, customers and ARR behind each theme (each
customer once), segments and sentiment, on a small hand-counted fixture."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import translation

from moulin.feedback.models import ProductArea
from moulin.triage import selectors_insights
from moulin.triage.models import FeedbackAnalysis, FeedbackTheme, Sentiment, Theme
from moulin.triage.selectors_insights import InsightFilters
from moulin.triage.services import duplicates
from tests.triage.discovery_data import make_customer, make_feedback

pytestmark = pytest.mark.django_db


@pytest.fixture
def fixture(organisation, cs_contributor, product_ops):
    reporting = ProductArea.objects.create(organisation=organisation, name="Reporting")
    security = ProductArea.objects.create(organisation=organisation, name="Security")
    exports = Theme.objects.create(organisation=organisation, name_en="Slow exports",
                                   name_fr="Exports lents", product_area=reporting)
    sso = Theme.objects.create(organisation=organisation, name_en="Single sign-on",
                               name_fr="Authentification unique", product_area=security)
    retired = Theme.objects.create(organisation=organisation, name_en="Old theme",
                                   name_fr="Ancien thème")
    initech = make_customer(organisation, "Initech", arr="120000", segment="Enterprise")
    globex = make_customer(organisation, "Globex", arr="30000", segment="SMB")
    hooli = make_customer(organisation, "Hooli", arr="50000", segment="SMB")

    def said(text, customer, days_ago, theme, sentiment=Sentiment.NEUTRAL):
        item = make_feedback(organisation, cs_contributor, text, customer=customer,
                             days_ago=days_ago)
        if theme is not None:
            FeedbackTheme.objects.create(organisation=organisation, feedback=item, theme=theme)
        FeedbackAnalysis.objects.update_or_create(
            feedback=item, defaults={"organisation": organisation, "embedder": "test",
                                     "vector": b"", "text_key": str(item.pk),
                                     "sentiment": sentiment})
        return item

    kept = said("Exports take minutes on our big workspace.", initech, 1, exports,
                Sentiment.NEGATIVE)
    said("The monthly export never finishes.", initech, 10, exports, Sentiment.NEGATIVE)
    said("CSV exports are slow since the update.", globex, 20, exports)
    said("Exports were slow again last quarter.", globex, 60, exports, Sentiment.POSITIVE)
    said("Exports were slow a long time ago.", hooli, 200, exports)  # outside 12 weeks
    # Hooli said it too: merged into Initech's item, it counts for its themes (not its own).
    duplicate = said("Export takes ages on large workspaces.", hooli, 5, sso)
    duplicates.feedback_merge(actor=product_ops, duplicate=duplicate, kept=kept)
    said("We need Okta single sign-on.", initech, 40, sso)
    said("SSO with Azure AD, please.", hooli, 50, sso, Sentiment.NEGATIVE)
    said("A retired theme's item.", globex, 3, retired)
    retired.archived_at = retired.created_at
    retired.save()
    said("Nothing to do with any theme.", globex, 2, None)
    return {"exports": exports, "sso": sso, "reporting": reporting, "security": security}


def by_name(data) -> dict:
    return {t.name: t for t in data.themes}


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def test_counts_customers_and_arr_per_theme(product_ops, fixture, django_assert_max_num_queries):
    with django_assert_max_num_queries(10):
        data = selectors_insights.insights(member=product_ops, filters=InsightFilters())
    themes = by_name(data)
    assert set(themes) == {"Slow exports", "Single sign-on"}  # archived themes left out
    exports, sso = themes["Slow exports"], themes["Single sign-on"]
    # 4 items in 12 weeks + Hooli's merged duplicate; Initech counted once for its 2 items.
    assert (exports.items, exports.customers, exports.arr) == (5, 3, Decimal("200000"))
    assert (sso.items, sso.customers, sso.arr) == (2, 2, Decimal("170000"))
    assert (exports.negative, exports.neutral, exports.positive) == (2, 2, 1)
    assert exports.sentiment_percent == {"negative": 40, "neutral": 40, "positive": 20}
    segments = {s["segment"]: s for s in exports.segments}
    assert segments["SMB"]["customers"] == 2 and segments["SMB"]["items"] == 3
    assert segments["Enterprise"]["customers"] == 1 and segments["Enterprise"]["items"] == 2
    assert data.segments == ["Enterprise", "SMB"]


def test_weekly_volume_and_rising_themes(product_ops, fixture):
    data = selectors_insights.insights(member=product_ops, filters=InsightFilters())
    assert len(data.weeks) == 12
    series = {s["label"]: s["data"] for s in data.series}
    assert sum(series["Slow exports"]) == 5
    assert sum(series["Single sign-on"]) == 2
    assert series["Slow exports"][-1] >= 1  # said yesterday (or earlier this week)
    exports = by_name(data)["Slow exports"]
    # 4 in the last 4 weeks (1/week) against 1 in the 8 before (0.125/week): +700 %.
    assert (exports.recent, exports.before, exports.change) == (4, 1, 700.0)
    sso = by_name(data)["Single sign-on"]
    assert (sso.recent, sso.before, sso.change) == (0, 2, -100.0)
    assert [t.name for t in data.rising] == ["Slow exports"]


def test_period_and_product_area_filters(product_ops, fixture):
    year = selectors_insights.insights(member=product_ops, filters=InsightFilters(weeks=52))
    assert by_name(year)["Slow exports"].items == 6
    security = selectors_insights.insights(
        member=product_ops, filters=InsightFilters(product_area=fixture["security"].pk))
    assert set(by_name(security)) == {"Single sign-on"}


def test_the_taxonomy_counts_items_as_the_insights_do(client_for, api_client, product_ops,
                                                       fixture):
    """Hooli's duplicate, merged into an Initech item about slow exports, counts for slow
    exports on both pages; its own "Single sign-on" link counts nowhere (the taxonomy page and
    the theme's page used to count it there, not for slow exports)."""
    year = selectors_insights.insights(member=product_ops, filters=InsightFilters(weeks=52))
    insight_counts = {t.theme_id: t.items for t in year.themes}
    client = client_for(product_ops)
    page = client.get(reverse("triage:taxonomy"))
    taxonomy_counts = {theme.pk: theme.item_count for group in page.context["tree"]
                       for theme in group.themes}
    assert insight_counts == taxonomy_counts == {fixture["exports"].pk: 6,
                                                 fixture["sso"].pk: 2}
    theme_page = client.get(reverse("triage:theme_edit", args=[fixture["sso"].pk]))
    assert "2 feedback items under this theme." in theme_page.content.decode()
    # each count links to the inbox filtered by the theme: the same items are listed there
    for theme in (fixture["exports"], fixture["sso"]):
        listed = api_client(product_ops, "read").get("/api/v1/feedback", theme=theme.pk,
                                                      limit=200).json()["items"]
        assert len(listed) == taxonomy_counts[theme.pk]


def test_insights_page(client_for, sales_viewer, fixture):
    client = client_for(sales_viewer)
    page = client.get(reverse("triage:insights"))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Slow exports" in body and "theme-volume-data" in body
    assert "chart.umd.min.js" in body
    assert "+700%" in body
    filtered = client.get(reverse("triage:insights"), {"weeks": 4,
                                                       "product_area": fixture["security"].pk})
    assert filtered.status_code == 200
    bad = client.get(reverse("triage:insights"), {"weeks": "fortnight", "product_area": "x"})
    assert bad.status_code == 422
    assert "Choose a period of 4, 12, 26, 52 weeks." in bad.content.decode()


def test_insights_api(api_client, sales_viewer, outsider, fixture):
    answer = api_client(sales_viewer, "read").get("/api/v1/triage/insights", weeks=12)
    assert answer.status_code == 200
    themes = {t["name"]: t for t in answer.json()["themes"]}
    assert themes["Slow exports"]["customers"] == 3
    assert Decimal(str(themes["Slow exports"]["arr"])) == Decimal("200000")
    assert api_client(sales_viewer, "read").get("/api/v1/triage/insights",
                                                weeks=5).status_code == 422
    theirs = api_client(outsider, "read").get("/api/v1/triage/insights").json()
    assert theirs["themes"] == []


def test_empty_organisation(client_for, pm):
    page = client_for(pm).get(reverse("triage:insights"))
    assert page.status_code == 200
    assert "No feedback linked to a theme" in page.content.decode()


def test_a_steady_theme_is_not_falling_on_a_monday(product_ops, organisation, cs_contributor):
    """One item a day for twelve weeks is a flat trend whatever the weekday. The comparison
    used to start the "last 4 weeks" at a Monday: on a Monday morning they held 3 weeks of
    items against 4 weeks of time, and every steady theme showed -25 %."""
    from datetime import datetime, timedelta
    from unittest import mock

    from django.utils import timezone

    from moulin.feedback.models import Feedback

    monday_morning = datetime(2026, 11, 30, 9, 0, tzinfo=timezone.get_current_timezone())
    assert monday_morning.weekday() == 0
    steady = Theme.objects.create(organisation=organisation, name_en="Steady",
                                  name_fr="Régulier")
    for day in range(84):
        item = make_feedback(organisation, cs_contributor, f"Same request, day {day}.")
        Feedback.objects.filter(pk=item.pk).update(
            received_at=monday_morning - timedelta(days=day, hours=12))
        FeedbackTheme.objects.create(organisation=organisation, feedback=item, theme=steady)
    with mock.patch("django.utils.timezone.now", return_value=monday_morning):
        data = selectors_insights.insights(member=product_ops, filters=InsightFilters())
    theme = by_name(data)["Steady"]
    assert (theme.recent, theme.before, theme.change) == (28, 56, 0.0)
    assert data.rising == []


def test_arr_behind_a_theme_is_in_the_reporting_currency(api_client, client_for, product_ops,
                                                         organisation, cs_contributor):
    """A GBP customer's ARR is converted with the organisation's rate, as on features; one in a
    currency without a rate is shown apart, never added as if it were euros."""
    from moulin.features.models import CurrencyRate
    from tests.builders import make_customer as customer_in

    CurrencyRate.objects.create(organisation=organisation, currency="GBP", rate="1.2")
    theme = Theme.objects.create(organisation=organisation, name_en="Exports",
                                 name_fr="Exports")
    for name, arr, currency in (("Initech", "100000", "EUR"), ("Globex", "10000", "GBP"),
                                ("Vandelay", "5000", "CHF")):
        item = make_feedback(organisation, cs_contributor, f"{name}: exports are slow.",
                             customer=customer_in(organisation, name, arr=Decimal(arr),
                                                  currency=currency))
        FeedbackTheme.objects.create(organisation=organisation, feedback=item, theme=theme)
    exports = by_name(selectors_insights.insights(member=product_ops,
                                                  filters=InsightFilters()))["Exports"]
    assert exports.customers == 3
    assert exports.arr == Decimal("112000.00")
    assert exports.arr_unconverted == {"CHF": Decimal("5000.00")}
    answer = api_client(product_ops).get("/api/v1/triage/insights").json()
    assert answer["currency"] == "EUR"
    assert Decimal(str(answer["themes"][0]["arr"])) == Decimal("112000")
    assert {k: Decimal(str(v)) for k, v in answer["themes"][0]["arr_unconverted"].items()} \
        == {"CHF": Decimal("5000")}
    # The page says which currency the total is in, and shows the CHF apart.
    page = client_for(product_ops).get(reverse("triage:insights")).content.decode()
    assert "ARR (EUR)" in page
    assert "112,000" in page and "+ 5,000 CHF" in page
