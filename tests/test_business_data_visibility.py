"""A customer's business data (ARR, plan, segment, lifecycle, health, renewal, owner) belongs to
the Customers module: members who see feedback but not customers — Tech, and the departments an
admin creates, by default — see who said it, never what the account weighs.

One rule decides it (``policy.can_see_customer_data``); every surface that shows feedback with
its customer follows it: the inbox (rows, filters, sort), the feedback page, the exports, the
feedback API, triage's emerging themes and similar-feedback panel. Totals over many customers
(the ARR behind a theme or a feature) are prioritisation data and stay visible.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from moulin.accounts import services as account_services
from moulin.accounts.audit import CLI
from moulin.accounts.models import Department, Member
from moulin.core import policy
from moulin.core.policy import Role
from moulin.feedback.models import Feedback, Status
from moulin.feedback.views.export import COLUMNS, CUSTOMER_DATA_COLUMNS
from moulin.triage.models import EmergingCluster, TriageJob
from tests.builders import department, make_customer, make_feedback, make_member

# Initech's ARR as the pages print it (English, no decimals / two decimals) and as exported.
ARR = Decimal("987654")
SHOWN = "987,654"
PLAN = "Platinum Deluxe"
SEGMENT = "Galactic Accounts"
HEALTH = "13 / 100"
RENEWAL = "July 14, 2031"
HTMX_LIST = {"HX-Request": "true", "HX-Target": "inbox-results"}
BUSINESS_FILTERS = ["name=\"segment\"", "name=\"plan\"", "name=\"lifecycle\"",
                    "name=\"arr_min\"", "name=\"arr_max\"", "value=\"arr\""]


# --- Personas ------------------------------------------------------------------------------------

@pytest.fixture
def engineer(organisation):
    """A PM of the Tech department: feedback yes (view), customers no (Tech's default)."""
    return make_member(organisation, role=Role.PRODUCT_MANAGER, department_key="tech",
                       email="eng@acme.test", full_name="Eli Engineer")


@pytest.fixture
def lawyer(organisation):
    """A contributor of a department an admin created: the "custom" defaults (contribute
    feedback, no customers)."""
    Department.objects.create(organisation=organisation, name="Legal", key="legal")
    return make_member(organisation, role=Role.CONTRIBUTOR, department_key="legal",
                       email="legal@acme.test", full_name="Lea Legal")


@pytest.fixture(params=["engineer", "lawyer"])
def without_customers(request):
    """Each member who sees feedback but not customers."""
    return request.getfixturevalue(request.param)


# --- Data ----------------------------------------------------------------------------------------

@pytest.fixture
def initech(organisation, admin):
    return make_customer(organisation, "Initech", arr=ARR, currency="EUR", plan=PLAN,
                         segment=SEGMENT, lifecycle="trial", health_score=13,
                         renewal_date=date(2031, 7, 14), external_id="SF-77", owner=admin)


@pytest.fixture
def hooli(organisation):
    return make_customer(organisation, "Hooli", arr=Decimal("1000"), plan="Starter",
                         segment="Small", external_id="SF-78")


@pytest.fixture
def said(organisation, initech, hooli):
    """One item from each customer."""
    return {"initech": make_feedback(organisation, "Exports time out", customer=initech),
            "hooli": make_feedback(organisation, "Dark mode please", customer=hooli)}


# --- The rule ------------------------------------------------------------------------------------

def test_one_rule_follows_the_customers_column_of_the_permission_matrix(
        organisation, admin, engineer, lawyer, sales_viewer, cs_contributor):
    assert not policy.can_see_customer_data(engineer)
    assert not policy.can_see_customer_data(lawyer)
    assert not policy.can_see_customer_data(None)
    assert policy.can_see_customer_data(sales_viewer)  # a Viewer with Customers view
    assert policy.can_see_customer_data(cs_contributor)
    assert policy.can_see_customer_data(admin)

    # An administrator opens Customers to Tech: the rule follows the matrix, not a list.
    account_services.permission_set(actor=admin, origin=CLI, subject_type="department",
                                    subject=str(department(organisation, "tech").pk),
                                    module="customers", level=1)
    assert policy.can_see_customer_data(Member.objects.get(pk=engineer.pk))


# --- The inbox -----------------------------------------------------------------------------------

def test_inbox_rows_name_the_customer_without_its_business_data(client_for, without_customers,
                                                                sales_viewer, said):
    body = client_for(without_customers).get("/feedback/", {"status": "all"}).content.decode()
    assert "Initech" in body and "Hooli" in body
    for hidden in (SHOWN, PLAN, SEGMENT, 'badge warn">Trial'):
        assert hidden not in body
    # A member who may see customers (here a Sales viewer) sees what the account weighs.
    body = client_for(sales_viewer).get("/feedback/", {"status": "all"}).content.decode()
    for shown in ("Initech", SHOWN, PLAN, SEGMENT, 'badge warn">Trial'):
        assert shown in body


def test_inbox_offers_no_filter_or_sort_on_business_data_without_customers(
        client_for, without_customers, sales_viewer, said):
    hidden = client_for(without_customers).get("/feedback/").content.decode()
    for control in BUSINESS_FILTERS:
        assert control not in hidden
    assert 'name="product_area"' in hidden  # the other filters stay
    shown = client_for(sales_viewer).get("/feedback/").content.decode()
    for control in BUSINESS_FILTERS:
        assert control in shown


@pytest.mark.parametrize("query", [{"arr_min": "500000"}, {"arr_max": "5000"},
                                   {"plan": PLAN}, {"lifecycle": "trial"},
                                   {"sort": "arr"}, {"segment": "SEGMENT"}])
def test_a_business_filter_in_the_address_is_refused_and_explained(
        client_for, organisation, engineer, sales_viewer, said, query):
    """A shared link or saved view may carry such a filter: applying it would tell which
    customers are above an amount as surely as showing the amount."""
    if query.get("segment"):
        query = {"segment": str(said["initech"].customer.segment_id)}
    params = {"status": "all", **query}
    refused = client_for(engineer).get("/feedback/", params, headers=HTMX_LIST)
    assert refused.status_code == 422
    body = refused.content.decode()
    assert "needs access to the Customers module" in body
    # Not applied: both items are listed, newest first as always.
    assert [item.pk for item in refused.context["rows"]] == [said["hooli"].pk,
                                                             said["initech"].pk]

    allowed = client_for(sales_viewer).get("/feedback/", params, headers=HTMX_LIST)
    assert allowed.status_code == 200
    assert "needs access to the Customers module" not in allowed.content.decode()
    if query.get("sort") == "arr":
        assert [item.pk for item in allowed.context["rows"]] == [said["initech"].pk,
                                                                 said["hooli"].pk]
    else:
        assert len(allowed.context["rows"]) == 1


def test_rows_redrawn_after_a_triage_action_hide_business_data(client_for, organisation, admin,
                                                              engineer, said):
    """Rows are also drawn outside the inbox page (after a triage action, its undo…)."""
    account_services.permission_set(actor=admin, origin=CLI, subject_type="department",
                                    subject=str(department(organisation, "tech").pk),
                                    module="feedback", level=3)
    item = said["initech"]
    response = client_for(engineer).post("/feedback/triage/", {
        "action": "triage", "ids": [item.pk]}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    body = response.content.decode()
    assert f'id="feedback-{item.pk}"' in body and "Initech" in body
    assert SHOWN not in body and PLAN not in body


# --- The feedback page ---------------------------------------------------------------------------

def test_feedback_page_customer_card_without_customers_access(client_for, without_customers,
                                                              sales_viewer, said):
    url = reverse("feedback:detail", args=[said["initech"].pk])
    body = client_for(without_customers).get(url).content.decode()
    assert "Initech" in body and "SF-77" in body  # who said it
    for hidden in (SHOWN, PLAN, SEGMENT, HEALTH, RENEWAL, "Alice Admin"):
        assert hidden not in body
    assert "shown to members with access to the Customers module" in body

    body = client_for(sales_viewer).get(url).content.decode()
    for shown in ("Initech", f"{SHOWN}.00 EUR", PLAN, SEGMENT, HEALTH, RENEWAL, "Alice Admin"):
        assert shown in body
    assert "shown to members with access to the Customers module" not in body


# --- Exports -------------------------------------------------------------------------------------

def _csv(response) -> list[list[str]]:
    raw = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.reader(io.StringIO(raw[1:])))


def test_csv_export_leaves_the_business_columns_out(client_for, without_customers,
                                                    sales_viewer, said):
    rows = _csv(client_for(without_customers).get("/feedback/export/", {"status": "all"}))
    assert rows[0] == [name for name in COLUMNS if name not in CUSTOMER_DATA_COLUMNS]
    assert len(rows[1]) == len(rows[0])  # left out, not left empty
    flat = repr(rows)
    assert "Initech" in flat and "SF-77" in flat
    for hidden in ("987654", PLAN, SEGMENT):
        assert hidden not in flat

    rows = _csv(client_for(sales_viewer).get("/feedback/export/", {"status": "all"}))
    assert rows[0] == COLUMNS
    initech = dict(zip(rows[0], next(r for r in rows[1:] if "Initech" in r), strict=True))
    assert (initech["arr"], initech["plan"], initech["segment"]) == ("987654.00", PLAN, SEGMENT)


def test_xlsx_export_leaves_the_business_columns_out(client_for, without_customers,
                                                     sales_viewer, said):
    def sheet(member):
        response = client_for(member).get("/feedback/export/", {"status": "all",
                                                                "format": "xlsx"})
        workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
        return [list(row) for row in workbook["Feedback"].iter_rows(values_only=True)]

    hidden = sheet(without_customers)
    assert hidden[0] == [name for name in COLUMNS if name not in CUSTOMER_DATA_COLUMNS]
    assert all(ARR not in row and PLAN not in row for row in hidden)
    shown = sheet(sales_viewer)
    assert shown[0] == COLUMNS
    assert any(ARR in row and PLAN in row for row in shown)


def test_a_business_filter_on_the_export_address_is_not_applied(client_for, engineer, said):
    rows = _csv(client_for(engineer).get("/feedback/export/", {"status": "all",
                                                               "arr_min": "500000"}))
    assert len(rows) == 3  # header + both items: the filter did not pick the big account


# --- The API -------------------------------------------------------------------------------------

def test_api_refuses_business_filters_and_names_them(api_client, engineer, sales_viewer, said):
    api = api_client(engineer, "read")
    for name, value in (("arr_min", "500000"), ("arr_max", "5000"), ("plan", PLAN),
                        ("lifecycle", "trial"),
                        ("segment", str(said["initech"].customer.segment_id))):
        response = api.get("/api/v1/feedback", **{name: value})
        assert response.status_code == 403, name
        body = response.json()
        assert body["code"] == "forbidden"
        assert body["errors"] == [{"field": name, "message": body["message"]}]
        assert "Customers module" in body["message"]

    listed = api.get("/api/v1/feedback").json()
    assert {item["customer"]["name"] for item in listed["items"]} == {"Initech", "Hooli"}
    assert "987654" not in str(listed)

    allowed = api_client(sales_viewer, "read").get("/api/v1/feedback", arr_min="500000")
    assert allowed.status_code == 200
    assert [item["id"] for item in allowed.json()["items"]] == [said["initech"].pk]


def test_api_schema_says_which_filters_need_the_customers_module(client, said):
    schema = client.get("/api/v1/openapi.json").json()
    parameters = {p["name"]: p for p in schema["paths"]["/api/v1/feedback"]["get"]["parameters"]}
    for name in ("arr_min", "arr_max", "plan", "segment", "lifecycle"):
        assert "Customers module" in parameters[name]["description"], name
    assert "403" in schema["paths"]["/api/v1/feedback"]["get"]["description"]
    assert "business data" in schema["components"]["schemas"]["CustomerRef"]["description"]


# --- Triage: emerging themes and the similar-feedback panel ---------------------------------------

def test_emerging_theme_cards_keep_the_total_but_hide_each_customers_arr(
        client_for, organisation, without_customers, sales_viewer, said):
    job = TriageJob.objects.create(organisation=organisation, kind=TriageJob.Kind.CLUSTER)
    cluster = EmergingCluster.objects.create(
        organisation=organisation, job=job, label="exports", size=2, customer_count=2,
        arr_total=ARR + Decimal("1000"))
    cluster.items.set([said["initech"], said["hooli"]])

    hidden = client_for(without_customers).get(reverse("triage:emerging")).content.decode()
    assert "Initech" in hidden
    assert "988,654" in hidden  # the total behind the group: prioritisation data, kept
    assert SHOWN not in hidden

    shown = client_for(sales_viewer).get(reverse("triage:emerging")).content.decode()
    assert "988,654 EUR" in shown and f"({SHOWN} EUR)" in shown


def test_a_group_from_one_customer_does_not_show_its_arr(
        client_for, api_client, organisation, without_customers, sales_viewer, initech, said):
    """The total behind a group of one customer's items is that customer's ARR, beside its
    name: the card and the API showed it to members who may not see customers."""
    again = make_feedback(organisation, "Exports still time out", customer=initech)
    job = TriageJob.objects.create(organisation=organisation, kind=TriageJob.Kind.CLUSTER)
    cluster = EmergingCluster.objects.create(
        organisation=organisation, job=job, label="exports", size=2, customer_count=1,
        arr_total=ARR, arr_unconverted={"CHF": "1200"})
    cluster.items.set([said["initech"], again])

    hidden = client_for(without_customers).get(reverse("triage:emerging")).content.decode()
    assert "Initech" in hidden and SHOWN not in hidden and "CHF" not in hidden
    listed = api_client(without_customers, "read").get("/api/v1/triage/emerging").json()
    assert listed["items"][0]["customer_count"] == 1
    assert listed["items"][0]["arr_total"] is None
    assert listed["items"][0]["arr_unconverted"] == {}

    shown = client_for(sales_viewer).get(reverse("triage:emerging")).content.decode()
    assert f"{SHOWN} EUR" in shown and "1,200 CHF" in shown
    theirs = api_client(sales_viewer, "read").get("/api/v1/triage/emerging").json()
    assert Decimal(str(theirs["items"][0]["arr_total"])) == ARR


def test_a_theme_of_one_customer_does_not_show_its_arr_or_segment_on_insights(
        client_for, api_client, organisation, without_customers, sales_viewer, said):
    """A theme only Initech asked for: its ARR and segment split on Insights were Initech's,
    and the inbox filtered by the theme names Initech."""
    from moulin.triage.models import FeedbackTheme
    from tests.builders import make_theme

    alone = make_theme(organisation, "Exports")
    shared = make_theme(organisation, "Dark mode")
    FeedbackTheme.objects.create(organisation=organisation, feedback=said["initech"],
                                 theme=alone)
    for item in said.values():
        FeedbackTheme.objects.create(organisation=organisation, feedback=item, theme=shared)

    page = client_for(without_customers).get(reverse("triage:insights"), {"weeks": 52})
    rows = {t.name: t for t in page.context["data"].themes}
    assert rows["Exports"].customers == 1 and rows["Dark mode"].customers == 2
    body = page.content.decode()
    assert SHOWN not in body  # Initech's ARR
    assert "988,654" in body  # two customers' total: prioritisation data, kept
    answer = api_client(without_customers, "read").get("/api/v1/triage/insights",
                                                       weeks=52).json()
    themes = {t["name"]: t for t in answer["themes"]}
    assert themes["Exports"]["arr"] is None and themes["Exports"]["segments"] == []
    assert Decimal(str(themes["Dark mode"]["arr"])) == ARR + Decimal("1000")
    assert {s["segment"] for s in themes["Dark mode"]["segments"]} == {SEGMENT, "Small"}

    shown = client_for(sales_viewer).get(reverse("triage:insights"), {"weeks": 52})
    assert SHOWN in shown.content.decode()
    theirs = api_client(sales_viewer, "read").get("/api/v1/triage/insights", weeks=52).json()
    assert Decimal(str({t["name"]: t for t in theirs["themes"]}["Exports"]["arr"])) == ARR


def test_a_features_linked_feedback_is_not_ordered_by_arr_without_customers(
        client_for, organisation, pm, engineer, sales_viewer, said):
    """Same importance: listed by customer ARR, the older Initech item came before the newer
    Hooli one, telling whose account is bigger."""
    from datetime import timedelta

    from django.utils import timezone

    from moulin.features import services as feature_services
    from tests.builders import make_feature

    Feedback.objects.filter(pk=said["initech"].pk).update(
        received_at=timezone.now() - timedelta(days=30))
    feature = make_feature(pm, "Exports")
    feature_services.feature_link_feedback(actor=pm, feature=feature,
                                           feedback_items=[said["hooli"], said["initech"]])
    url = reverse("features:feature_detail", args=[feature.pk])
    newest_first = [said["hooli"].pk, said["initech"].pk]
    page = client_for(engineer).get(url)
    assert [link.feedback_id for link in page.context["links"]] == newest_first
    assert [v["id"] for v in page.context["insights"].verbatims] == newest_first
    page = client_for(sales_viewer).get(url)
    assert [link.feedback_id for link in page.context["links"]] == newest_first[::-1]


def test_similar_panel_hides_the_arr_behind_an_item_without_customers(
        client_for, organisation, without_customers, sales_viewer, initech, said):
    """An item and its merged duplicates usually come from one customer: the ARR behind them
    is that customer's ARR."""
    kept = said["initech"]
    duplicate = make_feedback(organisation, "Exports time out again", customer=initech)
    Feedback.objects.filter(pk=duplicate.pk).update(merged_into=kept, status=Status.MERGED)
    url = reverse("triage:similar_panel", args=[kept.pk])

    hidden = client_for(without_customers).get(url, headers={"HX-Request": "true"})
    body = hidden.content.decode()
    assert "1 customer" in body and "Initech" in body
    assert SHOWN not in body

    shown = client_for(sales_viewer).get(url, headers={"HX-Request": "true"}).content.decode()
    assert SHOWN in shown


def test_merge_api_answers_the_arr_behind_the_kept_item_only_with_customers_access(
        api_client, organisation, admin, engineer, initech, said):
    """The merge answer gives the demand behind the kept item: the same figure as the panel."""
    # Tech may manage feedback here (so merge), still without the Customers module.
    account_services.permission_set(actor=admin, origin=CLI, subject_type="department",
                                    subject=str(department(organisation, "tech").pk),
                                    module="feedback", level=3)
    engineer = Member.objects.get(pk=engineer.pk)
    kept = said["initech"]
    first = make_feedback(organisation, "Exports time out again", customer=initech)
    second = make_feedback(organisation, "Exports still time out", customer=initech)

    hidden = api_client(engineer, "write").post(f"/api/v1/feedback/{first.pk}/merge",
                                                {"into": kept.pk})
    assert hidden.status_code == 200, hidden.content
    assert hidden.json()["customers"] == 1
    assert hidden.json()["arr"] is None and hidden.json()["arr_unconverted"] is None

    shown = api_client(admin, "write").post(f"/api/v1/feedback/{second.pk}/merge",
                                            {"into": kept.pk})
    assert shown.status_code == 200, shown.content
    assert Decimal(shown.json()["arr"]) == ARR and shown.json()["currency"] == "EUR"


# --- The prioritisation board -----------------------------------------------------------------
# Which features the customers of a segment asked for is the segment's business data, not an
# aggregate: the board, its tabs, its export and its API refuse the filter as the inbox does.

BOARD_PAGES = ["features:board", "features:matrix", "features:squads"]
BOARD_API = ["/api/v1/board", "/api/v1/board/squads", "/api/v1/board/matrix",
             "/api/v1/board/export", "/api/v1/features"]


@pytest.fixture
def asked(organisation, pm, said):
    """A feature asked for by Initech (Galactic Accounts), another by Hooli (Small)."""
    from moulin.features import services as feature_services
    from tests.builders import make_feature, make_squad

    squad = make_squad(organisation, "Payments")
    galactic = make_feature(pm, "Galactic ledger", squad=squad, effort="2")
    small = make_feature(pm, "Dark theme", squad=squad, effort="1")
    feature_services.feature_link_feedback(actor=pm, feature=galactic,
                                           feedback_items=[said["initech"]])
    feature_services.feature_link_feedback(actor=pm, feature=small,
                                           feedback_items=[said["hooli"]])
    return {"galactic": galactic, "small": small,
            "segment": str(said["initech"].customer.segment_id)}


def test_board_offers_no_segment_filter_without_customers(client_for, without_customers,
                                                          sales_viewer, asked):
    for view in BOARD_PAGES:
        hidden = client_for(without_customers).get(reverse(view)).content.decode()
        assert 'name="segment"' not in hidden, view
        assert 'name="squad"' in hidden, view  # the other filters stay
        assert SEGMENT not in hidden, view
        shown = client_for(sales_viewer).get(reverse(view)).content.decode()
        assert 'name="segment"' in shown and SEGMENT in shown, view


@pytest.mark.parametrize("view", BOARD_PAGES)
def test_a_segment_filter_in_a_board_address_is_refused_and_explained(
        client_for, without_customers, sales_viewer, asked, view):
    """A shared link would otherwise tell which features a segment's customers asked for."""
    refused = client_for(without_customers).get(reverse(view), {"segment": asked["segment"]})
    assert refused.status_code == 422
    body = refused.content.decode()
    assert "needs access to the Customers module" in body
    assert "Galactic ledger" in body and "Dark theme" in body  # not applied
    assert "segment" not in refused.context["query"]  # nor carried on by the tabs and export

    allowed = client_for(sales_viewer).get(reverse(view), {"segment": asked["segment"]})
    assert allowed.status_code == 200
    body = allowed.content.decode()
    assert "needs access to the Customers module" not in body
    assert "Galactic ledger" in body and "Dark theme" not in body


def test_the_board_redrawn_by_htmx_refuses_the_segment_filter_too(client_for, engineer, asked):
    refused = client_for(engineer).get(reverse("features:board"), {"segment": asked["segment"]},
                                       headers={"HX-Request": "true",
                                                "HX-Target": "board-results"})
    assert refused.status_code == 422
    assert "needs access to the Customers module" in refused.content.decode()
    assert {row.pk for row in refused.context["rows"]} == {asked["galactic"].pk,
                                                           asked["small"].pk}


def test_a_segment_filter_on_the_board_export_address_is_not_applied(client_for, engineer,
                                                                     sales_viewer, asked):
    def titles(member):
        rows = _csv(client_for(member).get(reverse("features:export"),
                                           {"segment": asked["segment"]}))
        return sorted(row[rows[0].index("title")] for row in rows[1:])

    assert titles(engineer) == ["Dark theme", "Galactic ledger"]
    assert titles(sales_viewer) == ["Galactic ledger"]


@pytest.mark.parametrize("path", BOARD_API)
def test_board_api_refuses_the_segment_filter_and_names_it(api_client, engineer, sales_viewer,
                                                           asked, path):
    response = api_client(engineer, "read").get(path, segment=asked["segment"])
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "forbidden"
    assert body["errors"] == [{"field": "segment", "message": body["message"]}]
    assert "Customers module" in body["message"]
    assert api_client(engineer, "read").get(path).status_code == 200

    allowed = api_client(sales_viewer, "read").get(path, segment=asked["segment"])
    assert allowed.status_code == 200
    if path == "/api/v1/board":
        assert [item["title"] for item in allowed.json()["items"]] == ["Galactic ledger"]


def test_board_api_schema_says_the_segment_filter_needs_the_customers_module(client, asked):
    schema = client.get("/api/v1/openapi.json").json()
    for path in BOARD_API:
        operation = schema["paths"][path]["get"]
        parameters = {p["name"]: p for p in operation["parameters"]}
        assert "Customers module" in parameters["segment"]["description"], path
        assert "403" in operation["responses"], path
