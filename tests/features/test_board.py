"""The prioritisation board: ranked by the standard score, manual moves recorded with their
reason, filters by squad, area, status and requesting segment, and the squad comparison."""

from decimal import Decimal

import pytest
from django.utils import translation

from moulin.core.errors import DomainError
from moulin.features import selectors, services
from moulin.features.models import Feature, FeatureEvent, RankOverride
from moulin.feedback.models import ProductArea
from tests.builders import make_customer, make_feature, make_feedback, make_squad


@pytest.fixture(autouse=True)
def _english():
    """The standard framework's driver names are written in the language active when it is
    created; these tests read the English ones whatever ran before them."""
    with translation.override("en"):
        yield

def scored(member, title, reach, **fields):
    """A RICE-scored feature: reach × 1 × 100 % / 1 = reach."""
    return make_feature(member, title, effort="1",
                        score_inputs={"reach": reach, "impact": 1, "confidence": 100}, **fields)


def titles(member, filters=None):
    return [f.title for f in selectors.board_list(member=member, filters=filters)]


def test_board_ranks_by_score_and_unscorable_features_last(pm):
    scored(pm, "Medium", 50)
    scored(pm, "High", 90)
    make_feature(pm, "No inputs yet")
    scored(pm, "Low", 10)
    assert titles(pm) == ["High", "Medium", "Low", "No inputs yet"]
    assert Feature.objects.get(title="No inputs yet").score_error == "Missing input: Impact."


def test_manual_move_needs_a_reason_and_is_recorded(pm):
    high, medium, low = scored(pm, "High", 90), scored(pm, "Medium", 50), scored(pm, "Low", 10)
    with pytest.raises(DomainError) as error:
        services.feature_move(actor=pm, feature=low, to_position=1, reason="  ")
    assert error.value.field == "reason"
    override = services.feature_move(actor=pm, feature=low, to_position=1,
                                     reason="Contractual commitment to Initech")
    assert (override.from_position, override.to_position) == (3, 1)
    assert titles(pm) == ["Low", "High", "Medium"]
    event = FeatureEvent.objects.filter(feature=low, kind="rank").get()
    assert event.changes == {"position": [3, 1], "reason": "Contractual commitment to Initech"}
    row = selectors.board_list(member=pm).first()
    assert row.override_reason == "Contractual commitment to Initech"
    assert high.pk and medium.pk


def test_moving_below_the_pinned_block_keeps_the_others_in_place(pm):
    features = [scored(pm, f"F{n}", 100 - n) for n in range(5)]  # F0 … F4 by score
    services.feature_move(actor=pm, feature=features[0], to_position=3, reason="Wait for API")
    assert titles(pm) == ["F1", "F2", "F0", "F3", "F4"]
    services.feature_move(actor=pm, feature=features[4], to_position=1, reason="Renewal")
    assert titles(pm) == ["F4", "F1", "F2", "F0", "F3"]
    services.feature_rank_clear(actor=pm, feature=features[0], reason="API shipped")
    assert titles(pm) == ["F4", "F1", "F2", "F0", "F3"]  # F0 back to its score
    assert Feature.objects.get(pk=features[0].pk).manual_rank is None
    assert RankOverride.objects.count() == 2


def test_board_order_pins_first_then_score_then_unscorable(pm, outsider):
    features = [scored(pm, f"F{n}", 100 - n) for n in range(5)]  # F0 … F4 by score
    unscored = make_feature(pm, "No inputs yet")
    services.feature_move(actor=pm, feature=features[3], to_position=1, reason="Renewal")
    elsewhere = make_feature(outsider, "Another organisation's")
    order = services.board_order_ids(pm.organisation_id)
    assert order == [features[3].pk, features[0].pk, features[1].pk, features[2].pk,
                     features[4].pk, unscored.pk]
    assert elsewhere.pk not in order


def test_filters_squad_area_status_and_segment(pm, organisation):
    payments, reporting = make_squad(organisation, "Payments"), make_squad(organisation,
                                                                          "Reporting")
    area = ProductArea.objects.create(organisation=organisation, name="Cash")
    a = scored(pm, "Payouts", 80, squad=payments, product_area=area, status="planned")
    b = scored(pm, "Dashboards", 70, squad=reporting)
    scored(pm, "Exports", 60, squad=reporting, status="discovery")
    enterprise = make_customer(organisation, arr=Decimal("900"), segment="Enterprise")
    services.feature_link_feedback(actor=pm, feature=b, feedback_items=[
        make_feedback(organisation, customer=enterprise)])
    f = selectors.FeatureFilters.from_query
    assert titles(pm, f({"squad": str(reporting.pk)})) == ["Dashboards", "Exports"]
    assert titles(pm, f({"product_area": str(area.pk)})) == ["Payouts"]
    assert titles(pm, f({"status": "planned,discovery"})) == ["Payouts", "Exports"]
    segment_id = enterprise.segment_id
    assert titles(pm, f({"segment": str(segment_id)})) == ["Dashboards"]
    bad = f({"status": "someday", "squad": "x"})
    assert set(bad.errors) == {"status", "squad"}
    assert a.pk


def test_board_pages_carry_positions(pm):
    for n in range(5):
        scored(pm, f"F{n}", 100 - n)
    first = selectors.board_page(member=pm, limit=2)
    second = selectors.board_page(member=pm, limit=2, cursor=first["next_cursor"])
    assert [f.title for f in second["items"]] == ["F2", "F3"]
    assert [f.position for f in second["items"]] == [3, 4]
    assert selectors.board_position(member=pm, feature=Feature.objects.get(title="F4")) == 5


def test_squad_comparison_and_value_effort_matrix(pm, organisation):
    payments = make_squad(organisation, "Payments")
    scored(pm, "A", 10, squad=payments)
    scored(pm, "B", 30, squad=payments)
    scored(pm, "C", 20)
    rows = {row.name: row for row in selectors.squad_comparison(member=pm)}
    assert rows["Payments"].features == 2
    assert rows["Payments"].mean_score == Decimal("20.00")
    assert rows["Payments"].median_score == Decimal("20.00")
    assert rows["No squad"].features == 1
    assert (rows["Payments"].customers, rows["Payments"].arr_total) == (0, Decimal("0.00"))

    # A customer asking for both of the squad's features counts once there, and its ARR too;
    # another squad it asked counts it as well.
    initech = make_customer(organisation, "Initech", arr=Decimal("1000"))
    globex = make_customer(organisation, "Globex", arr=Decimal("500"))
    a, b, c = (Feature.objects.get(title=t) for t in ("A", "B", "C"))
    for feature, customers in ((a, [initech, globex]), (b, [initech]), (c, [initech])):
        services.feature_link_feedback(actor=pm, feature=feature, feedback_items=[
            make_feedback(organisation, customer=customer) for customer in customers])
    rows = {row.name: row for row in selectors.squad_comparison(member=pm)}
    assert (rows["Payments"].customers, rows["Payments"].arr_total) == (2, Decimal("1500.00"))
    assert (rows["No squad"].customers, rows["No squad"].arr_total) == (1, Decimal("1000.00"))
    only_b = selectors.FeatureFilters.from_query({"q": "B"})
    rows = {row.name: row for row in selectors.squad_comparison(member=pm, filters=only_b)}
    assert (rows["Payments"].customers, rows["Payments"].arr_total) == (1, Decimal("1000.00"))
    matrix = selectors.value_effort_points(member=pm)
    assert len(matrix.points) == 3 and matrix.without_effort == 0


def test_board_reads_columns_only(pm, django_assert_max_num_queries):
    for n in range(30):
        scored(pm, f"F{n}", n)
    with django_assert_max_num_queries(3):
        page = selectors.board_page(member=pm, limit=25)
        [f.squad for f in page["items"]]


def test_suggestions_for_a_feedback_item_without_embeddings_use_words(pm, organisation):
    exports = make_feature(pm, "Scheduled PDF exports",
                           description="Send the cash report as a PDF every Monday")
    make_feature(pm, "Dark mode", description="A darker theme for the dashboards")
    item = make_feedback(organisation, "Could the cash report PDF be sent every Monday?")
    found = selectors.feedback_feature_suggestions(member=pm, feedback=item)
    assert [s.feature for s in found][:1] == [exports]
    services.feature_link_feedback(actor=pm, feature=exports, feedback_items=[item])
    assert exports not in [s.feature for s in
                           selectors.feedback_feature_suggestions(member=pm, feedback=item)]
