"""The features API end to end: create, link, insights, frameworks, board and moves."""

from decimal import Decimal

from django.urls import reverse

from moulin.features import services
from tests.builders import (
    make_customer,
    make_feature,
    make_feedback,
    make_member,
    make_token,
)

API = "/api/v1"


def test_feature_lifecycle_and_insights(api_client, pm, organisation):
    api = api_client(pm)
    created = api.post(f"{API}/features", {
        "title": "Scheduled exports", "effort": "2", "target_quarter": "2027-q1",
        "delivery_url": "https://linear.app/acme/issue/EXP-12",
        "score_inputs": {"impact": 2, "confidence": 50}})
    assert created.status_code == 201, created.content
    feature = created.json()
    assert feature["target_quarter"] == "2027-Q1"
    assert feature["score"] == "0.0000"  # reach falls back to the requesting customers: none yet
    customer = make_customer(organisation, "Initech", arr=Decimal("1000"))
    items = [make_feedback(organisation, f"Schedule exports {n}", customer=customer).pk
             for n in range(5)]
    linked = api.post(f"{API}/features/{feature['id']}/links", {"feedback_ids": items,
                                                                "importance": "critical"})
    assert linked.status_code == 200, linked.content
    body = linked.json()
    assert body["created"] == 5
    assert (body["feature"]["customer_count"], body["feature"]["arr_total"]) == (1, "1000.00")
    assert body["feature"]["score"] == "0.5000"  # 1 customer × 2 × 0.5 / 2
    insights = api.get(f"{API}/features/{feature['id']}/insights").json()
    assert (insights["feedback_count"], insights["customer_count"], insights["arr_total"]) == (
        5, 1, "1000.00")
    assert insights["customers"][0]["name"] == "Initech"
    assert insights["position"] == 1 and len(insights["weekly"]) == 13

    patched = api.patch(f"{API}/features/{feature['id']}", {"status": "planned"})
    assert patched.json()["status"] == "planned"
    history = api.get(f"{API}/features/{feature['id']}/history").json()
    assert [e["kind"] for e in history["events"]][:2] == ["status", "linked"]


def test_bad_input_gets_field_errors(api_client, pm):
    api = api_client(pm)
    response = api.post(f"{API}/features", {"title": "X", "target_quarter": "next year"})
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "target_quarter", "message":
                                          "Write the target quarter as YYYY-QN, for example "
                                          "2027-Q1."}]
    response = api.post(f"{API}/features", {"title": "X", "squad_id": 999999})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "squad_id"


def test_formula_editor_flow(api_client, product_ops):
    api = api_client(product_ops)
    check = api.post(f"{API}/frameworks/validate", {
        "kind": "custom", "drivers": [{"key": "fit"}, {"key": "arr", "source": "arr_total",
                                                       "weight": 0.001}],
        "formula": "(fit + ar) / effort"}).json()
    assert not check["ok"] and check["position"] == 8
    assert "did you mean “arr”" in check["message"]
    bad = api.post(f"{API}/frameworks", {"kind": "custom", "name": "Broken",
                                         "drivers": [{"key": "fit"}], "formula": "fit / 0"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "formula"
    good = api.post(f"{API}/frameworks", {
        "kind": "custom", "name": "Ops standard", "make_standard": True,
        "drivers": [{"key": "fit", "default": 1}, {"key": "arr", "source": "arr_total",
                                                   "weight": 0.001}],
        "formula": "fit + arr"})
    assert good.status_code == 201 and good.json()["is_standard"]
    frameworks = api.get(f"{API}/frameworks").json()["items"]
    assert [f["is_standard"] for f in frameworks].count(True) == 1


def test_board_moves_and_permissions(api_client, pm, sales_viewer, organisation):
    api = api_client(pm)
    ids = [api.post(f"{API}/features", {"title": f"F{n}", "effort": "1", "score_inputs": {
        "reach": 10 * (n + 1), "impact": 1, "confidence": 100}}).json()["id"]
        for n in range(3)]
    board = api.get(f"{API}/board").json()
    assert [i["title"] for i in board["items"]] == ["F2", "F1", "F0"]
    no_reason = api.post(f"{API}/features/{ids[0]}/rank", {"to_position": 1, "reason": ""})
    assert no_reason.status_code == 422
    moved = api.post(f"{API}/features/{ids[0]}/rank", {"to_position": 1,
                                                       "reason": "Key renewal"})
    assert moved.json() == {"feature_id": ids[0], "from_position": 3, "to_position": 1,
                            "reason": "Key renewal"}
    board = api.get(f"{API}/board", limit=2).json()
    assert [i["title"] for i in board["items"]] == ["F0", "F2"]
    assert [(i["position"], i["rank"]) for i in board["items"]] == [(1, 1), (2, 2)]
    filtered = api.get(f"{API}/board", q="F1").json()["items"]
    assert [(i["title"], i["position"], i["rank"]) for i in filtered] == [("F1", 1, 3)]
    assert board["items"][0]["override_reason"] == "Key renewal"
    assert api_client(sales_viewer).post(f"{API}/features/{ids[1]}/rank", {
        "to_position": 1, "reason": "Please"}).status_code == 403


def test_insights_without_customer_rights_show_aggregates_only(api_client, pm, organisation):
    tech = make_member(organisation, role="contributor", department_key="tech")
    feature = api_client(pm).post(f"{API}/features", {"title": "SSO"}).json()
    customer = make_customer(organisation, "Initech", arr=Decimal("500"))
    api_client(pm).post(f"{API}/features/{feature['id']}/links", {
        "feedback_ids": [make_feedback(organisation, customer=customer).pk]})
    insights = api_client(tech).get(f"{API}/features/{feature['id']}/insights").json()
    assert insights["customer_count"] == 1 and insights["customers"] is None
    assert "Initech" not in str(insights)


def test_currency_rates(client, product_ops, pm, organisation):
    headers = {"Authorization": f"Bearer {make_token(product_ops)}"}
    feature = make_feature(pm, "Multi-currency")
    dollar = make_customer(organisation, arr=Decimal("1000"), currency="USD")
    services.feature_link_feedback(actor=pm, feature=feature, feedback_items=[
        make_feedback(organisation, customer=dollar)])
    response = client.put(f"{API}/currency-rates", {"currency": "usd", "rate": "0.9"},
                          content_type="application/json", headers=headers)
    assert response.json() == {"currency": "USD", "rate": "0.900000"}
    assert client.get(f"{API}/features/{feature.pk}", headers=headers).json()["arr_total"] \
        == "900.00"
    same = client.put(f"{API}/currency-rates", {"currency": "EUR", "rate": "2"},
                      content_type="application/json", headers=headers)
    assert same.status_code == 422 and "reporting currency" in same.json()["message"]
    assert client.delete(f"{API}/currency-rates/USD", headers=headers).status_code == 204
    body = client.get(f"{API}/features/{feature.pk}", headers=headers).json()
    assert (body["arr_total"], body["unconverted_arr"]) == ("0.00", {"USD": "1000.00"})


def test_linking_through_the_api_needs_the_right_to_see_the_feedback(api_client, pm,
                                                                      organisation):
    """As on the feature page: a member who may not see feedback cannot link it by id, nor link
    a whole theme."""
    from moulin.accounts.models import PermissionGrant
    from moulin.core.policy import Level
    from moulin.triage.models import Theme

    PermissionGrant.objects.create(organisation=organisation, subject_type=PermissionGrant.ROLE,
                                   subject=pm.role, module="feedback", level=Level.NONE)
    feature = api_client(pm).post(f"{API}/features", {"title": "SSO"}).json()
    item = make_feedback(organisation, "Please add SSO")
    refused = api_client(pm).post(f"{API}/features/{feature['id']}/links",
                                  {"feedback_ids": [item.pk]})
    assert refused.status_code == 403
    assert not item.feature_links.exists()
    theme = Theme.objects.create(organisation=organisation, name_en="SSO", name_fr="SSO")
    bulk = api_client(pm).post(f"{API}/features/{feature['id']}/links/bulk",
                               {"theme_id": theme.pk})
    assert bulk.status_code == 403


def test_a_contributor_proposes_features_but_does_not_score_them(api_client, client_for, pm,
                                                                 organisation):
    """Creating needs Create; placing on the board (inputs, effort) needs Change, as editing
    does: a contributor's pet feature cannot jump to #1 through the back door."""
    tech = make_member(organisation, role="contributor", department_key="tech")
    api_client(pm).post(f"{API}/features", {"title": "Audit trail", "effort": "2",
                                            "score_inputs": {"reach": 500, "impact": 1,
                                                             "confidence": 80}})
    scored = api_client(tech).post(f"{API}/features", {
        "title": "My pet feature", "effort": "0.01",
        "score_inputs": {"reach": 1_000_000, "impact": 3, "confidence": 100}})
    assert scored.status_code == 422
    assert "leave them empty" in scored.json()["message"]
    proposed = api_client(tech).post(f"{API}/features", {"title": "My pet feature"})
    assert proposed.status_code == 201
    board = api_client(pm).get(f"{API}/board").json()["items"]
    assert [item["title"] for item in board] == ["Audit trail", "My pet feature"]

    form = client_for(tech).get(reverse("features:feature_create")).content.decode()
    assert 'name="effort"' not in form and 'name="input_reach"' not in form
    form = client_for(pm).get(reverse("features:feature_create")).content.decode()
    assert 'name="effort"' in form and 'name="input_reach"' in form
