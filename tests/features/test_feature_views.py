"""The feature tree, the feature form and the feature page: what product people see and do,
including linking feedback from the feature page, the feedback page and the inbox."""

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import translation

from moulin.core.policy import Role
from moulin.features.models import Feature, FeatureEvent, FeedbackLink, LinkOrigin
from moulin.feedback.models import ProductArea, Status
from tests.builders import make_customer, make_feature, make_feedback, make_member, make_squad

HTMX = {"HX-Request": "true"}


@pytest.fixture
def tree(organisation, pm):
    """Two areas, a parent feature with a sub-feature, and one feature without an area."""
    squad = make_squad(organisation, "Payments squad")
    area = ProductArea.objects.create(organisation=organisation, name="Collections")
    reporting = ProductArea.objects.create(organisation=organisation, name="Reporting")
    parent = make_feature(pm, "Smarter dunning", product_area=area, squad=squad)
    child = make_feature(pm, "Pause reminders in disputes", parent=parent, squad=squad,
                         status="planned", target_quarter="2027-Q1", effort="2")
    pdf = make_feature(pm, "PDF export keeps charts", product_area=reporting)
    loose = make_feature(pm, "Dark mode")
    return {"squad": squad, "area": area, "parent": parent, "child": child, "pdf": pdf,
            "loose": loose}


def test_tree_groups_features_by_area_with_sub_features_under_their_parent(client_for, pm,
                                                                            tree):
    page = client_for(pm).get(reverse("features:feature_list"))
    assert page.status_code == 200
    body = page.content.decode()
    assert body.index("Collections") < body.index("Smarter dunning") < body.index(
        "Pause reminders in disputes")
    assert "No product area" in body and "Dark mode" in body
    assert 'class="child"' in body


def test_tree_filters_by_squad_and_reports_a_bad_value(client_for, pm, tree):
    client = client_for(pm)
    page = client.get(reverse("features:feature_list"), {"squad": tree["squad"].pk},
                      headers=HTMX | {"HX-Target": "feature-tree"})
    body = page.content.decode()
    assert "Smarter dunning" in body and "PDF export keeps charts" not in body
    bad = client.get(reverse("features:feature_list"), {"squad": "999999"})
    assert bad.status_code == 422
    assert "Some filters were ignored" in bad.content.decode()


def test_the_search_box_reads_titles_and_descriptions(client_for, pm, tree):
    make_feature(pm, "Quiet hours", description="No e-mail reminders during the WEEKEND.")
    body = client_for(pm).get(reverse("features:feature_list"), {"q": "weekend"},
                              headers=HTMX | {"HX-Target": "feature-tree"}).content.decode()
    assert "Quiet hours" in body and "Smarter dunning" not in body


def test_create_a_sub_feature_with_scoring_inputs(client_for, pm, tree):
    client = client_for(pm)
    form = client.get(reverse("features:feature_create"), {"parent": tree["parent"].pk})
    assert form.status_code == 200
    assert "Reach" in form.content.decode()  # the standard (RICE) asks for its manual inputs
    answer = client.post(reverse("features:feature_create"), {
        "title": "Dispute flag from the CRM", "status": "idea", "parent": tree["parent"].pk,
        "product_area": tree["area"].pk, "squad": tree["squad"].pk, "effort": "2,5",
        "target_quarter": "2027-q2", "input_reach": "40", "input_impact": "2",
        "input_confidence": "80"})
    feature = Feature.objects.get(title="Dispute flag from the CRM")
    assert answer.status_code == 302 and answer.url == reverse("features:feature_detail",
                                                                args=[feature.pk])
    assert feature.parent == tree["parent"] and feature.effort == Decimal("2.50")
    assert feature.target_quarter == "2027-Q2"
    assert feature.score_inputs == {"reach": 40.0, "impact": 2.0, "confidence": 80.0}
    assert feature.score == Decimal("25.6000")  # 40 × 2 × 0.8 / 2.5


def test_bad_input_gets_field_errors_not_a_crash(client_for, pm, tree):
    answer = client_for(pm).post(reverse("features:feature_create"), {
        "title": "Scheduled exports", "status": "idea", "target_quarter": "next spring",
        "effort": "a lot", "input_reach": "many", "delivery_url": "javascript:alert(1)"})
    assert answer.status_code == 422
    body = answer.content.decode()
    assert "Effort must be a number of person-weeks" in body
    assert "Enter a number, e.g. 3 or 0.5." in body
    assert not Feature.objects.filter(title="Scheduled exports").exists()
    answer = client_for(pm).post(reverse("features:feature_create"), {
        "title": "Scheduled exports", "status": "idea", "target_quarter": "next spring"})
    assert answer.status_code == 422
    assert "YYYY-QN" in answer.content.decode()


def test_edit_records_the_change_in_the_history(client_for, pm, tree):
    feature = tree["child"]
    client = client_for(pm)
    assert client.get(reverse("features:feature_edit", args=[feature.pk])).status_code == 200
    client.post(reverse("features:feature_edit", args=[feature.pk]), {
        "title": feature.title, "status": "in_progress", "parent": tree["parent"].pk,
        "squad": tree["squad"].pk, "effort": "2", "target_quarter": "2027-Q1"})
    feature.refresh_from_db()
    assert feature.status == "in_progress"
    page = client.get(reverse("features:feature_detail", args=[feature.pk])).content.decode()
    assert "In progress" in page and "Planned" in page  # before → after in the history


def test_a_contributor_can_create_but_not_edit_or_delete(client_for, organisation, tree):
    engineer = make_member(organisation, role=Role.CONTRIBUTOR, department_key="tech")
    client = client_for(engineer)
    assert client.get(reverse("features:feature_create")).status_code == 200
    assert client.get(reverse("features:feature_edit",
                              args=[tree["pdf"].pk])).status_code == 403
    assert client.post(reverse("features:feature_delete",
                               args=[tree["pdf"].pk])).status_code == 403


def test_deleting_a_parent_is_refused_with_the_reason(client_for, admin, tree):
    client = client_for(admin)
    answer = client.post(reverse("features:feature_delete", args=[tree["parent"].pk]),
                         follow=True)
    assert "has sub-features" in answer.content.decode()
    assert Feature.objects.filter(pk=tree["parent"].pk).exists()
    client.post(reverse("features:feature_delete", args=[tree["loose"].pk]))
    assert not Feature.objects.filter(pk=tree["loose"].pk).exists()


# --- The feature page and linking from it ---------------------------------------------------

@pytest.fixture
def demand(organisation):
    big = make_customer(organisation, "Initech", arr=Decimal("120000"), segment="Enterprise",
                        plan="Enterprise")
    small = make_customer(organisation, "Hooli", arr=Decimal("20000"), segment="SMB",
                          plan="Starter")
    return {
        "big": big, "hooli": small,
        "export": make_feedback(organisation, "The PDF export cuts our charts in half.",
                                customer=big, importance="critical"),
        "again": make_feedback(organisation, "PDF export: charts are cut again.", customer=big),
        "small": make_feedback(organisation, "Charts missing from the PDF export.",
                               customer=small),
    }


def test_linking_from_the_feature_page_moves_its_arr(client_for, pm, tree, demand):
    client = client_for(pm)
    feature = tree["pdf"]
    url = reverse("features:link_add", args=[feature.pk])
    answer = client.post(url, {"feedback": demand["export"].pk, "importance": "critical"},
                         headers=HTMX)
    assert answer.status_code == 200
    body = answer.content.decode()
    assert 'id="feature-summary"' in body and 'hx-swap-oob="true"' in body
    assert "120,000" in body or "120 000" in body or "120000" in body
    # The score panel comes along out of band: its breakdown and history follow the link.
    assert '<section class="card" id="feature-score"' in body
    assert body.count('hx-swap-oob="true"') >= 2
    client.post(url, {"feedback": demand["again"].pk, "importance": "important"}, headers=HTMX)
    client.post(url, {"feedback": demand["small"].pk, "importance": "nice_to_have"},
                headers=HTMX)
    feature.refresh_from_db()
    assert (feature.feedback_count, feature.customer_count) == (3, 2)
    assert feature.arr_total == Decimal("140000.00")  # Initech counted once
    link = FeedbackLink.objects.get(feature=feature, feedback=demand["small"])
    assert link.importance == "nice_to_have"

    page = client.get(reverse("features:feature_detail", args=[feature.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    for text in ("Initech", "Hooli", "Enterprise", "The PDF export cuts our charts in half.",
                 "trend-data", "Linked feedback"):
        assert text in body

    client.post(reverse("features:link_importance", args=[feature.pk, link.pk]),
                {"importance": "critical"}, headers=HTMX)
    assert FeedbackLink.objects.get(pk=link.pk).importance == "critical"
    client.post(reverse("features:link_remove", args=[feature.pk, link.pk]), headers=HTMX)
    feature.refresh_from_db()
    assert (feature.customer_count, feature.arr_total) == (1, Decimal("120000.00"))
    assert FeatureEvent.objects.filter(feature=feature, kind="unlinked").exists()


def test_link_search_finds_unlinked_feedback_by_words_or_id(client_for, pm, tree, demand):
    client = client_for(pm)
    feature = tree["pdf"]
    url = reverse("features:link_search", args=[feature.pk])
    body = client.get(url, {"q": "PDF"}).content.decode()
    assert "The PDF export cuts our charts in half." in body
    body = client.get(url, {"q": f"#{demand['small'].pk}"}).content.decode()
    assert "Charts missing from the PDF export." in body
    FeedbackLink.objects.create(organisation=feature.organisation, feature=feature,
                                feedback=demand["small"])
    body = client.get(url, {"q": f"#{demand['small'].pk}"}).content.decode()
    assert "Nothing found that is not linked yet." in body


def test_linking_an_unknown_item_says_what_to_fix(client_for, pm, tree):
    answer = client_for(pm).post(reverse("features:link_add", args=[tree["pdf"].pk]),
                                 {"feedback": "not-a-number", "importance": "critical"},
                                 headers=HTMX)
    assert answer.status_code == 422
    assert "Choose a feedback item" in answer.content.decode()


def test_sales_sees_the_feature_page_without_link_controls(client_for, sales_viewer, pm, tree,
                                                          demand):
    make_feature(pm, "unused")
    FeedbackLink.objects.create(organisation=tree["pdf"].organisation, feature=tree["pdf"],
                                feedback=demand["export"])
    page = client_for(sales_viewer).get(reverse("features:feature_detail",
                                                args=[tree["pdf"].pk]))
    body = page.content.decode()
    assert page.status_code == 200
    assert "Unlink" not in body and 'id="link-search"' not in body
    assert "Why this priority" in body


def test_another_organisation_gets_404(client_for, outsider, tree):
    client = client_for(outsider)
    assert client.get(reverse("features:feature_detail",
                              args=[tree["pdf"].pk])).status_code == 404


# --- Linking from the feedback page and the inbox -------------------------------------------

def test_feedback_page_loads_the_features_panel_with_suggestions(client_for, pm, tree, demand):
    client = client_for(pm)
    item = demand["export"]
    page = client.get(reverse("feedback:detail", args=[item.pk])).content.decode()
    assert reverse("features:feedback_panel", args=[item.pk]) in page
    panel = client.get(reverse("features:feedback_panel", args=[item.pk])).content.decode()
    assert "Not linked to any feature yet." in panel
    assert "Suggested features" in panel and "PDF export keeps charts" in panel

    answer = client.post(reverse("features:feedback_link", args=[item.pk]),
                         {"feature": tree["pdf"].pk, "importance": "critical",
                          "suggested": "1"}, headers=HTMX)
    assert answer.status_code == 200
    assert "Linked to “PDF export keeps charts”." in answer.content.decode()
    link = FeedbackLink.objects.get(feedback=item)
    assert link.origin == LinkOrigin.SUGGESTION
    item.refresh_from_db()
    assert item.status == Status.LINKED

    client.post(reverse("features:feedback_unlink", args=[item.pk, tree["pdf"].pk]),
                headers=HTMX)
    assert not FeedbackLink.objects.filter(feedback=item).exists()


def test_members_who_cannot_see_features_get_no_panel(client_for, organisation, demand):
    from moulin.accounts import services as account_services
    from moulin.accounts.audit import CLI
    from tests.builders import department

    admin = make_member(organisation, role=Role.ADMIN)
    account_services.permission_set(actor=admin, origin=CLI, subject_type="department",
                                    subject=str(department(organisation, "marketing").pk),
                                    module="features", level=0)
    marketer = make_member(organisation, role=Role.CONTRIBUTOR, department_key="marketing")
    page = client_for(marketer).get(reverse("feedback:detail", args=[demand["export"].pk]))
    assert page.status_code == 200
    assert "feedback-features" not in page.content.decode()


def test_inbox_bulk_links_the_selected_items(client_for, pm, tree, demand):
    client = client_for(pm)
    inbox = client.get(reverse("feedback:inbox")).content.decode()
    assert reverse("features:inbox_link_picker") in inbox
    picker = client.get(reverse("features:inbox_link_picker")).content.decode()
    assert "Link to feature…" in picker and "PDF export keeps charts" in picker
    ids = f"{demand['export'].pk},{demand['small'].pk}"
    answer = client.post(reverse("features:inbox_link"),
                         {"ids": ids, "feature": tree["pdf"].pk, "importance": ""},
                         headers=HTMX)
    assert answer.status_code == 200
    body = answer.content.decode()
    assert "2 items linked to “PDF export keeps charts”." in body
    # The linked rows come back out of band with their new status badge.
    for item in (demand["export"], demand["small"]):
        assert f'<tr id="feedback-{item.pk}"' in body
    assert body.count('class="badge status-linked"') == 2
    assert FeedbackLink.objects.filter(feature=tree["pdf"], origin="bulk").count() == 2
    again = client.post(reverse("features:inbox_link"), {"ids": ids, "feature": ""},
                        headers=HTMX)
    assert again.status_code == 422 and "Choose a feature." in again.content.decode()
    twice = client.post(reverse("features:inbox_link"),
                        {"ids": ids, "feature": tree["pdf"].pk, "importance": ""}, headers=HTMX)
    assert "0 items linked to “PDF export keeps charts”. 2 items were already linked." \
        in twice.content.decode()


def test_history_counts_linked_items_in_words(pm, tree):
    from moulin.features.views.feature_page import history_entries

    feature = tree["pdf"]
    events = [FeatureEvent(feature=feature, kind="linked", changes={"count": 1}),
              FeatureEvent(feature=feature, kind="linked",
                           changes={"count": 3, "importance_changed": 1}),
              FeatureEvent(feature=feature, kind="unlinked", changes={"count": 1}),
              FeatureEvent(feature=feature, kind="unlinked", changes={"count": 2})]
    with translation.override("en"):
        texts = [entry["text"] for entry in history_entries(events)]
    assert texts == ["linked 1 feedback item",
                     "linked 3 feedback items · importance changed on 1 item",
                     "unlinked 1 feedback item", "unlinked 2 feedback items"]


def test_linking_a_theme_from_the_feature_page_counts_new_and_already_linked(
        client_for, pm, organisation, tree):
    from moulin.triage.models import FeedbackTheme, Theme

    theme = Theme.objects.create(organisation=organisation, name_en="Exports",
                                 name_fr="Exports")
    items = [make_feedback(organisation, f"Export {n}") for n in range(3)]
    for item in items:
        FeedbackTheme.objects.create(organisation=organisation, feedback=item, theme=theme)
    feature = tree["pdf"]
    FeedbackLink.objects.create(organisation=organisation, feature=feature, feedback=items[0])
    client = client_for(pm)
    url = reverse("features:link_group", args=[feature.pk])
    page = client.post(url, {"theme": theme.pk}, follow=True).content.decode()
    assert "2 items linked. 1 item was already linked." in page
    empty = Theme.objects.create(organisation=organisation, name_en="Empty", name_fr="Vide")
    page = client.post(url, {"theme": empty.pk}, follow=True).content.decode()
    assert "The theme “Empty” has no feedback to link." in page
