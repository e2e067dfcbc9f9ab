"""The demand behind a feature: each customer counted once, currencies converted with the
organisation's rates (never silently summed), merged duplicates counted, and the numbers
kept right when customers or feedback change under the feature."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from moulin.customers import services as customer_services
from moulin.features import selectors, services
from moulin.features.models import Feature, FeatureSegment, LinkOrigin
from moulin.feedback import services as feedback_services
from tests.builders import make_customer, make_feature, make_feedback


def link(member, feature, *items, importance=None):
    return services.feature_link_feedback(actor=member, feature=feature, feedback_items=items,
                                          importance=importance)


def fresh(feature):
    return Feature.objects.get(pk=feature.pk)


def test_a_customer_with_five_items_counts_once(pm, organisation):
    acme = make_customer(organisation, "Initech", arr=Decimal("120000"))
    other = make_customer(organisation, "Hooli", arr=Decimal("30000"))
    feature = make_feature(pm, "Scheduled exports")
    items = [make_feedback(organisation, f"Need scheduled exports {n}", customer=acme)
             for n in range(5)]
    link(pm, feature, *items, make_feedback(organisation, "Exports!", customer=other),
         make_feedback(organisation, "Anonymous wish"))
    feature = fresh(feature)
    assert (feature.feedback_count, feature.customer_count) == (7, 2)
    assert feature.arr_total == Decimal("150000.00")


def test_other_currencies_are_converted_or_reported_apart(pm, organisation):
    assert organisation.currency == "EUR"
    services.currency_rate_set(actor=pm, currency="USD", rate="0.5")
    feature = make_feature(pm, "Multi-currency view")
    euro = make_customer(organisation, arr=Decimal("1000"), currency="EUR")
    dollar = make_customer(organisation, arr=Decimal("1000"), currency="USD")
    pound = make_customer(organisation, arr=Decimal("700"), currency="GBP")
    link(pm, feature, *(make_feedback(organisation, customer=c) for c in (euro, dollar, pound)))
    feature = fresh(feature)
    assert feature.customer_count == 3
    assert feature.arr_total == Decimal("1500.00")  # 1000 € + 1000 $ × 0.5
    assert feature.unconverted_arr == {"GBP": "700.00"}  # no GBP rate: never added
    # Adding the rate recomputes every feature.
    services.currency_rate_set(actor=pm, currency="GBP", rate="1.2")
    feature = fresh(feature)
    assert feature.arr_total == Decimal("2340.00")
    assert feature.unconverted_arr == {}


def test_a_new_reporting_currency_reaches_every_feature(pm, admin, organisation):
    from moulin.accounts.audit import CLI
    from moulin.accounts.services import organisation_update

    services.currency_rate_set(actor=pm, currency="USD", rate="0.5")
    feature = make_feature(pm, "Multi-currency view")
    dollar = make_customer(organisation, arr=Decimal("1000"), currency="USD")
    link(pm, feature, make_feedback(organisation, customer=dollar))
    assert fresh(feature).arr_total == Decimal("500.00")  # in euros
    organisation_update(actor=admin, origin=CLI, name=organisation.name,
                        language=organisation.language, timezone_name=organisation.timezone,
                        currency="USD")
    assert fresh(feature).demand_stale  # flagged in the database, whoever changed it
    services.demand_refresh_stale(organisation_id=organisation.pk)
    assert fresh(feature).arr_total == Decimal("1000.00")  # now in dollars


def test_merged_duplicates_count_for_the_kept_item(pm, organisation):
    kept_customer = make_customer(organisation, arr=Decimal("100"))
    duplicate_customer = make_customer(organisation, arr=Decimal("40"))
    feature = make_feature(pm, "Approval workflow")
    kept = make_feedback(organisation, "Two-step approvals", customer=kept_customer)
    link(pm, feature, kept)
    duplicate = make_feedback(organisation, "Approvals in two steps please",
                              customer=duplicate_customer)
    duplicate.merged_into = kept
    duplicate.save()  # the database trigger flags the feature
    assert fresh(feature).demand_stale
    assert services.demand_refresh_stale(organisation_id=organisation.pk) == 1
    feature = fresh(feature)
    assert (feature.feedback_count, feature.customer_count, feature.arr_total) == (
        2, 2, Decimal("140.00"))
    assert not feature.demand_stale
    # The duplicate's customer already asked directly: still counted once.
    link(pm, feature, make_feedback(organisation, "Again", customer=duplicate_customer))
    feature = fresh(feature)
    assert (feature.feedback_count, feature.customer_count, feature.arr_total) == (
        3, 2, Decimal("140.00"))


def test_customer_arr_change_reaches_the_feature(pm, organisation):
    customer, _ = customer_services.customer_upsert(
        organisation=organisation, raw={"external_id": "SF-1", "name": "Globex", "arr": "5000"})
    feature = make_feature(pm, "Slack alerts")
    link(pm, feature, make_feedback(organisation, customer=customer))
    assert fresh(feature).arr_total == Decimal("5000.00")
    customer_services.customer_upsert(organisation=organisation,
                                      raw={"external_id": "SF-1", "arr": "8000"})
    assert fresh(feature).demand_stale
    services.demand_refresh_stale(organisation_id=organisation.pk)
    assert fresh(feature).arr_total == Decimal("8000.00")


def test_item_moving_to_another_customer_updates_demand(pm, organisation):
    small = make_customer(organisation, "Small", arr=Decimal("10"))
    big = make_customer(organisation, "Big", arr=Decimal("900"))
    feature = make_feature(pm, "API webhooks")
    item = make_feedback(organisation, "Webhooks please", customer=small)
    link(pm, feature, item)
    feedback_services.feedback_update(actor=pm, feedback=item, customer=big)
    services.demand_refresh_stale(organisation_id=organisation.pk)
    assert fresh(feature).arr_total == Decimal("900.00")


def test_unlinking_and_deleting_feedback_recompute(pm, organisation):
    customer = make_customer(organisation, arr=Decimal("300"))
    feature = make_feature(pm, "Offline mode")
    first, second = (make_feedback(organisation, customer=customer) for _ in range(2))
    link(pm, feature, first, second)
    services.feature_unlink_feedback(actor=pm, feature=feature, feedback_items=[first])
    assert (fresh(feature).feedback_count, fresh(feature).customer_count) == (1, 1)
    second.delete()  # cascades to the link: the trigger flags the feature
    services.demand_refresh_stale(organisation_id=organisation.pk)
    feature = fresh(feature)
    assert (feature.feedback_count, feature.customer_count, feature.arr_total) == (
        0, 0, Decimal("0.00"))


def test_renewals_at_risk_segments_and_trend(pm, organisation):
    today = timezone.localdate()
    renewing = make_customer(organisation, "Renews soon", arr=Decimal("1000"),
                             segment="Enterprise", renewal_date=today + timedelta(days=30))
    later = make_customer(organisation, "Renews later", arr=Decimal("500"), segment="SMB",
                          renewal_date=today + timedelta(days=200))
    at_risk = make_customer(organisation, "Unhappy", arr=Decimal("250"), segment="SMB",
                            health_score=20)
    feature = make_feature(pm, "Cash forecast")
    now = timezone.now()
    link(pm, feature,
         make_feedback(organisation, customer=renewing, received_at=now - timedelta(days=2)),
         make_feedback(organisation, customer=later, received_at=now - timedelta(days=3)),
         make_feedback(organisation, customer=at_risk, received_at=now - timedelta(days=45)))
    feature = fresh(feature)
    assert feature.renewal_arr_90d == Decimal("1000.00")
    assert feature.at_risk_arr == Decimal("250.00")
    assert (feature.feedback_recent, feature.feedback_previous, feature.trend) == (2, 1, 1)
    segments = {row.segment.name: (row.customer_count, row.arr_total)
                for row in FeatureSegment.objects.filter(feature=feature)}
    assert segments == {"Enterprise": (1, Decimal("1000.00")), "SMB": (2, Decimal("750.00"))}


def test_bulk_link_a_theme(pm, organisation):
    from moulin.triage.models import FeedbackTheme, Theme

    theme = Theme.objects.create(organisation=organisation, name_en="Exports",
                                 name_fr="Exports")
    items = [make_feedback(organisation, f"Export {n}") for n in range(3)]
    for item in items:
        FeedbackTheme.objects.create(organisation=organisation, feedback=item, theme=theme)
    feature = make_feature(pm, "Exports v2")
    result = services.feature_link_theme(actor=pm, feature=feature, theme=theme)
    assert (result.created, result.unchanged) == (3, 0)
    assert set(feature.feedback_links.values_list("origin", flat=True)) == {LinkOrigin.BULK}
    assert fresh(feature).feedback_count == 3
    assert {item.status for item in type(items[0]).objects.filter(pk__in=[i.pk for i in items])} \
        == {"linked"}
    again = services.feature_link_theme(actor=pm, feature=feature, theme=theme)
    assert (again.created, again.unchanged) == (0, 3)


def test_insights_break_down_demand_and_hide_names_without_customer_rights(
        pm, sales_viewer, organisation):
    customer = make_customer(organisation, "Initech", arr=Decimal("1000"), plan="Business",
                             segment="Enterprise", owner=pm)
    feature = make_feature(pm, "Audit log export")
    link(pm, feature, make_feedback(organisation, "We need the audit log in CSV",
                                    customer=customer), importance="critical")
    insights = selectors.feature_insights(member=pm, feature=fresh(feature))
    assert insights.customer_count == 1 and insights.arr_total == Decimal("1000.00")
    assert [(s.label, s.arr_total) for s in insights.by_plan] == [("Business",
                                                                   Decimal("1000.00"))]
    assert [(s.label, s.customer_count) for s in insights.by_segment] == [("Enterprise", 1)]
    assert insights.customers[0]["name"] == "Initech"
    assert insights.csms[0]["name"] == pm.user.full_name
    assert insights.verbatims[0]["importance"] == "critical"

    tech = _tech_member(organisation)
    hidden = selectors.feature_insights(member=tech, feature=fresh(feature))
    assert hidden.customer_count == 1 and hidden.customers is None and hidden.csms is None
    assert hidden.verbatims and hidden.verbatims[0]["customer"] is None


def _tech_member(organisation):
    from moulin.core.policy import Role
    from tests.builders import make_member

    return make_member(organisation, role=Role.CONTRIBUTOR, department_key="tech")


def test_editing_a_feature_opened_before_a_link_keeps_the_new_demand(pm, organisation):
    # A PM opens the feature, a colleague links feedback meanwhile, the PM saves a new title:
    # the demand the link brought must survive the save.
    feature = make_feature(pm, "Scheduled exports")
    opened = fresh(feature)
    link(pm, feature, make_feedback(organisation, "Need scheduled exports",
                                    customer=make_customer(organisation, "Initech",
                                                           arr=Decimal("120000"))))
    services.feature_update(actor=pm, feature=opened, title="Scheduled CSV exports")
    feature = fresh(feature)
    assert feature.title == "Scheduled CSV exports"
    assert (feature.feedback_count, feature.arr_total) == (1, Decimal("120000.00"))
