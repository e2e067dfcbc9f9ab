"""Scoring frameworks: Product Ops define a custom formula once, checked live in the editor
(a typo or a division by zero is an error there, never a crash on the board), choose the
organisation's standard, and set currency rates."""

from decimal import Decimal

from django.urls import reverse

from moulin.features.models import Feature, ScoringFramework
from tests.builders import make_feature

HTMX = {"HX-Request": "true"}
DRIVERS = {"driver_key": ["fit", "revenue", ""], "driver_label": ["Strategic fit", "ARR", ""],
           "driver_weight": ["2", "0.001", "1"], "driver_source": ["manual", "arr_total", "manual"],
           "driver_default": ["3", "", ""]}


def check(client, formula, **extra):
    data = {"kind": "custom", "name": "Liquidia score", "formula": formula, **DRIVERS, **extra}
    answer = client.post(reverse("features:framework_check"), data, headers=HTMX)
    assert answer.status_code == 200
    return answer.content.decode()


def test_the_editor_points_at_a_typo_as_you_type(client_for, product_ops):
    body = check(client_for(product_ops), "fit * revenu")
    assert "To fix:" in body
    assert "Unknown name “revenu” at character 7: did you mean “revenue”?" in body
    assert "<mark>r</mark>" in body  # the faulty place is highlighted


def test_the_editor_catches_a_division_by_zero_and_bad_syntax(client_for, product_ops):
    client = client_for(product_ops)
    assert "Division by zero" in check(client, "fit / (revenue - revenue)")
    assert "Syntax error at character" in check(client, "fit * (revenue")
    assert "Unknown name “__import__”" in check(client, "__import__('os')")
    assert "is not allowed" in check(client, "fit.real")
    assert "not a usable name" in check(client, "fit", driver_key=["Fit!", "revenue", ""])


def test_a_working_formula_previews_on_the_features(client_for, product_ops):
    make_feature(product_ops, "With inputs", effort="2", score_inputs={"fit": 4})
    body = check(client_for(product_ops), "fit + revenue / max(effort, 1)")
    assert "The formula works." in body and "1 feature gets a score" in body


def test_saving_a_bad_formula_keeps_the_editor_open_with_the_error(client_for, product_ops):
    answer = client_for(product_ops).post(reverse("features:framework_create"), {
        "kind": "custom", "name": "Broken", "formula": "fit / 0", **DRIVERS})
    assert answer.status_code == 422
    assert "Division by zero" in answer.content.decode()
    assert not ScoringFramework.objects.filter(name="Broken").exists()


def test_product_ops_create_a_custom_standard_and_the_board_follows(client_for, product_ops):
    feature = make_feature(product_ops, "Two signatories", effort="2",
                           score_inputs={"fit": 5})
    client = client_for(product_ops)
    assert client.get(reverse("features:framework_create")).status_code == 200
    answer = client.post(reverse("features:framework_create"), {
        "kind": "custom", "name": "Liquidia score", "formula": "fit * 10 / effort",
        "make_standard": "1", **DRIVERS})
    assert answer.status_code == 302
    framework = ScoringFramework.objects.get(name="Liquidia score")
    assert framework.is_standard
    assert [d["key"] for d in framework.drivers] == ["fit", "revenue"]
    feature.refresh_from_db()
    assert feature.score == Decimal("50.0000")  # fit 5 × weight 2 × 10 / 2
    listing = client.get(reverse("features:framework_list")).content.decode()
    assert "Organisation standard" in listing and "Liquidia score" in listing
    board = client.get(reverse("features:board")).content.decode()
    assert "Strategic fit" in board

    # Back to RICE: every feature is rescored.
    rice = ScoringFramework.objects.get(name="RICE")
    client.post(reverse("features:framework_set_standard", args=[rice.pk]))
    assert ScoringFramework.objects.get(pk=rice.pk).is_standard
    assert Feature.objects.get(pk=feature.pk).score_error.startswith("Missing input")
    edit = client.get(reverse("features:framework_edit", args=[framework.pk]))
    assert edit.status_code == 200 and "fit * 10 / effort" in edit.content.decode()
    client.post(reverse("features:framework_delete", args=[framework.pk]))
    assert not ScoringFramework.objects.filter(pk=framework.pk).exists()


def test_the_standard_cannot_be_deleted(client_for, product_ops):
    client = client_for(product_ops)
    client.get(reverse("features:framework_list"))  # RICE becomes the standard on first use
    rice = ScoringFramework.objects.get(is_standard=True)
    answer = client.post(reverse("features:framework_delete", args=[rice.pk]), follow=True)
    assert "standard framework" in answer.content.decode()
    assert ScoringFramework.objects.filter(pk=rice.pk).exists()


def test_currency_rates_with_clear_errors(client_for, product_ops):
    client = client_for(product_ops)
    answer = client.post(reverse("features:currency_rate_save"),
                         {"currency": "usd", "rate": "0,92"}, follow=True)
    assert "1 USD = 0.92" in answer.content.decode()
    answer = client.post(reverse("features:currency_rate_save"),
                         {"currency": "USD", "rate": "-3"}, follow=True)
    assert "The rate must be a positive number" in answer.content.decode()


def test_sales_reads_frameworks_but_cannot_change_them(client_for, sales_viewer):
    client = client_for(sales_viewer)
    page = client.get(reverse("features:framework_list"))
    assert page.status_code == 200 and "New framework" not in page.content.decode()
    assert client.get(reverse("features:framework_create")).status_code == 403
    assert client.post(reverse("features:framework_check"),
                       {"kind": "custom"}).status_code == 403
