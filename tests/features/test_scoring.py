"""Every scoring framework computes what Product Ops expects, and a broken formula gets a clear
error in the editor (and on the feature), never a crash."""

import contextlib
from decimal import Decimal

import pytest
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from moulin.features import scoring, services
from moulin.features.models import Feature, ScoreSnapshot, ScoringFramework
from moulin.features.scoring import FeatureFacts, FormulaError, compile_framework, score_feature
from tests.builders import make_feature


@pytest.fixture(autouse=True)
def english():
    """The messages below are checked in English (the default interface language is French)."""
    with translation.override("en"):
        yield


def score(kind, facts, drivers=None, formula=""):
    return score_feature(compile_framework(kind, drivers, formula), facts)


def test_rice_is_reach_times_impact_times_confidence_over_effort():
    result = score("rice", FeatureFacts(effort=4, inputs={"reach": 800, "impact": 2,
                                                          "confidence": 50}))
    assert result.score == Decimal("200.0000")  # 800 × 2 × 0.5 / 4
    assert [d["key"] for d in result.breakdown["drivers"]] == ["reach", "impact", "confidence",
                                                               "effort"]


def test_rice_reach_defaults_to_the_number_of_requesting_customers():
    result = score("rice", FeatureFacts(customer_count=30, effort=3,
                                        inputs={"impact": 1, "confidence": 100}))
    assert result.score == Decimal("10.0000")


def test_ice_multiplies_impact_confidence_and_ease():
    assert score("ice", FeatureFacts(inputs={"impact": 8, "confidence": 5, "ease": 3})).score \
        == Decimal("120.0000")


def test_wsjf_is_cost_of_delay_over_job_size():
    facts = FeatureFacts(inputs={"business_value": 8, "time_criticality": 5,
                                 "risk_reduction": 3, "job_size": 4})
    assert score("wsjf", facts).score == Decimal("4.0000")
    # Without a job size, the effort estimate stands in.
    facts = FeatureFacts(effort=8, inputs={"business_value": 8, "time_criticality": 5,
                                           "risk_reduction": 3})
    assert score("wsjf", facts).score == Decimal("2.0000")


def test_value_over_effort():
    assert score("value_effort", FeatureFacts(effort=2.5, inputs={"value": 10})).score \
        == Decimal("4.0000")


def test_custom_formula_applies_weights_and_reads_data_drivers():
    drivers = [{"key": "fit", "label": "Strategic fit", "source": "manual", "weight": 2},
               {"key": "arr", "label": "ARR", "source": "arr_total", "weight": 0.001},
               {"key": "customers", "label": "Customers", "source": "customer_count"}]
    facts = FeatureFacts(arr_total=50_000, customer_count=4, effort=2, inputs={"fit": 3})
    result = score("custom", facts, drivers, "(fit + arr + customers) / effort")
    assert result.score == Decimal("30.0000")  # (6 + 50 + 4) / 2
    assert result.breakdown["drivers"][1] == {
        "key": "arr", "label": "ARR", "source": "arr_total", "weight": 0.001,
        "value": 50000.0, "weighted": 50.0}


def test_custom_formula_without_text_sums_weighted_drivers():
    drivers = [{"key": "fit", "source": "manual", "weight": 3},
               {"key": "momentum", "source": "trend", "weight": 1}]
    assert score("custom", FeatureFacts(trend=-2, inputs={"fit": 2}), drivers).score \
        == Decimal("4.0000")


def test_custom_functions_log_sqrt_min_max_abs():
    drivers = [{"key": "arr", "source": "arr_total"}, {"key": "n", "source": "customer_count"}]
    result = score("custom", FeatureFacts(arr_total=1000, customer_count=16), drivers,
                   "log(arr, 10) + sqrt(n) + max(1, 2, 3) - min(abs(-2), 5) ** 2")
    assert result.score == Decimal("6.0000")  # 3 + 4 + 3 - 4


def test_missing_manual_input_is_a_score_error_not_a_crash():
    result = score("ice", FeatureFacts(inputs={"impact": 8, "confidence": 5}))
    assert result.score is None
    assert result.error == "Missing input: Ease."


def test_manual_driver_default_is_used_when_the_feature_has_no_value():
    drivers = [{"key": "fit", "source": "manual", "default": 1}]
    assert score("custom", FeatureFacts(), drivers, "fit * 5").score == Decimal("5.0000")


def test_division_by_zero_in_the_data_shows_on_the_feature():
    result = score("rice", FeatureFacts(effort=0, inputs={"reach": 1, "impact": 1,
                                                          "confidence": 100}))
    assert result.score is None
    assert result.error == "Division by zero: “effort” is 0."


@pytest.mark.parametrize(("formula", "message"), [
    ("arr_totl * 2", "Unknown name “arr_totl” at character 1: did you mean “arr_total”?"),
    ("fit + (2 * ", "Syntax error at character 7: '(' was never closed"),
    ("fit +", "Syntax error at the end of the formula (character 6)"),
    ("fit / 0", "This formula fails whatever the data: Division by zero: “0” is 0."),
    ("fit / (fit - fit)", "fails whatever the data"),
    ("__import__('os').system('x')", "Only min, max, log, sqrt and abs can be called"),
    ("fit.real", "“fit.real” is not allowed at character 1"),
    ("fit if fit else 1", "is not allowed"),
    ("'abc'", "Only numbers are allowed"),
    ("fit < 2", "is not allowed"),
    ("sqrt(1, 2)", "sqrt() takes 1 argument (character 1)."),
    ("abs + fit", "abs() needs its arguments in parentheses, e.g. abs(reach) (character 1)."),
    ("fit * max", "max() needs its arguments in parentheses"),
])
def test_formula_errors_are_clear(formula, message):
    drivers = [{"key": "fit", "source": "manual"}]
    with pytest.raises(FormulaError) as error:
        scoring.check_formula("custom", drivers, formula)
    assert message in error.value.message


def test_formula_errors_list_what_is_allowed_in_the_reader_s_language():
    drivers = [{"key": "fit", "source": "manual"}]
    for language, words in (("fr", "Utilisez des nombres"), ("en", "Use numbers"),
                            ("fr", "Utilisez des nombres")):
        with translation.override(language), pytest.raises(FormulaError) as error:
            scoring.check_formula("custom", drivers, "'abc'")
        assert words in error.value.message


def test_numbers_too_large_for_the_computer_are_errors_not_crashes():
    from moulin.core.errors import DomainError

    for huge in (10**400, "1e999", float("inf")):
        with pytest.raises(DomainError) as error:
            scoring.clean_inputs({"reach": huge})
        assert error.value.field == "score_inputs"
    with pytest.raises(FormulaError, match="the weight is between"):
        scoring.check_formula("custom", [{"key": "fit", "source": "manual", "weight": 1e300}],
                              "fit")
    framework = compile_framework("custom", [{"key": "fit", "source": "manual",
                                              "weight": 1_000_000}], "fit")
    result = score_feature(framework, FeatureFacts(inputs={"fit": 1e308}))
    assert result.score is None and "too large to compute" in result.error
    assert result.breakdown["drivers"][0]["weighted"] is None  # no inf in the stored JSON


def test_an_empty_formula_is_refused_where_one_is_needed():
    with pytest.raises(FormulaError, match="Enter a formula"):
        scoring.parse_formula("  ", ["fit"])


def test_syntax_error_reports_its_position():
    with pytest.raises(FormulaError) as error:
        scoring.check_formula("custom", [{"key": "fit"}], "fit + * 2")
    assert error.value.position == 7


@pytest.mark.parametrize("drivers", [
    [], [{"key": "Bad Name"}], [{"key": "a"}, {"key": "a"}], [{"key": "a", "source": "x"}],
    [{"key": "a", "weight": "heavy"}], [{"key": "min"}],
])
def test_bad_driver_lists_are_refused(drivers):
    with pytest.raises(FormulaError):
        scoring.check_formula("custom", drivers, "1")


@given(st.text(max_size=60))
def test_any_text_either_parses_or_raises_formula_error(text):
    try:
        framework = scoring.compile_framework("custom", [{"key": "fit"}], text)
    except FormulaError:
        return
    with contextlib.suppress(scoring.ScoreError):  # a ScoreError is a clean answer too
        scoring.evaluate(framework.formula, {"fit": 3.0,
                                             **dict.fromkeys(scoring.DATA_SOURCES, 1.0)})


@given(st.floats(0, 1e6), st.floats(0, 3), st.floats(0, 100), st.floats(0.1, 1000))
def test_rice_matches_the_definition(reach, impact, confidence, effort):
    result = score("rice", FeatureFacts(effort=effort, inputs={
        "reach": reach, "impact": impact, "confidence": confidence}))
    expected = reach * impact * confidence / 100 / effort
    assert float(result.score) == pytest.approx(expected, abs=1e-3)


# --- Frameworks in the organisation ---------------------------------------------------------------

def test_first_use_creates_a_rice_standard(organisation):
    standard = services.framework_standard(organisation_id=organisation.pk)
    assert (standard.kind, standard.name, standard.is_standard) == ("rice", "RICE", True)
    assert services.framework_standard(organisation_id=organisation.pk) == standard


def test_new_standard_rescores_every_feature_and_keeps_history(product_ops, pm):
    feature = make_feature(pm, "Bulk export", effort="2",
                           score_inputs={"impact": 2, "confidence": 50, "reach": 10,
                                         "value": 9})
    assert feature.score == Decimal("5.0000")
    value_effort = services.framework_create(actor=product_ops, kind="value_effort",
                                             name="Value over effort")
    services.framework_set_standard(actor=product_ops, framework=value_effort)
    feature.refresh_from_db()
    assert feature.score == Decimal("4.5000")
    assert feature.score_breakdown["framework"] == "Value over effort"
    history = list(ScoreSnapshot.objects.filter(feature=feature).values_list("score",
                                                                               flat=True))
    assert history == [Decimal("4.5000"), Decimal("5.0000")]
    assert ScoringFramework.objects.filter(organisation=pm.organisation,
                                           is_standard=True).count() == 1


def test_unchanged_score_adds_no_history(pm):
    feature = make_feature(pm, "Dark mode", effort="1",
                           score_inputs={"impact": 1, "confidence": 100, "reach": 3})
    services.feature_update(actor=pm, feature=feature, description="Themes for the app")
    services.scores_recompute(organisation_id=pm.organisation_id)
    assert ScoreSnapshot.objects.filter(feature=feature).count() == 1


def test_changing_an_input_rescores_the_feature(pm):
    feature = make_feature(pm, "SSO", effort="2",
                           score_inputs={"impact": 1, "confidence": 100, "reach": 4})
    services.feature_update(actor=pm, feature=feature,
                            score_inputs={"impact": 3, "confidence": 100, "reach": 4})
    feature.refresh_from_db()
    assert feature.score == Decimal("6.0000")
    assert ScoreSnapshot.objects.filter(feature=feature).count() == 2


def test_custom_standard_with_zero_divisor_marks_the_feature_not_the_board(product_ops, pm):
    feature = make_feature(pm, "Audit trail")
    framework = services.framework_create(
        actor=product_ops, kind="custom", name="Ops",
        drivers=[{"key": "fit", "source": "manual", "default": 2},
                 {"key": "customers", "source": "customer_count"}],
        formula="fit / customers", make_standard=True)
    feature.refresh_from_db()
    assert feature.score is None
    assert feature.score_error == "Division by zero: “customers” is 0."
    assert framework.is_standard


def test_saving_a_broken_formula_is_refused_with_its_field(product_ops):
    with pytest.raises(FormulaError) as error:
        services.framework_create(actor=product_ops, kind="custom", name="Typo",
                                  drivers=[{"key": "fit"}], formula="fitt * 2")
    assert error.value.field == "formula"
    assert "did you mean “fit”" in error.value.message


def test_framework_check_previews_failures_on_real_features(pm):
    make_feature(pm, "No customers yet")
    check = services.framework_check(organisation_id=pm.organisation_id, kind="custom",
                                     drivers=[{"key": "n", "source": "customer_count"}],
                                     formula="10 / n")
    assert check.ok and check.failing == 1 and check.scored == 0
    assert check.examples == [{"feature": "No customers yet",
                               "error": "Division by zero: “n” is 0."}]
    bad = services.framework_check(organisation_id=pm.organisation_id, kind="custom",
                                   drivers=[{"key": "n"}], formula="n +")
    assert not bad.ok and bad.position == 4 and "Syntax error" in bad.message


def test_the_standard_cannot_be_deleted(product_ops):
    standard = services.framework_standard(organisation_id=product_ops.organisation_id)
    from moulin.core.errors import Conflict

    with pytest.raises(Conflict):
        services.framework_delete(actor=product_ops, framework=standard)
    assert Feature.objects.count() == 0
