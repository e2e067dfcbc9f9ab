"""The triage inbox: Product Ops find, weigh and triage customer feedback, fast.

Stories: the default view is the untriaged backlog; rows show who said it and what the account
weighs; every filter of the issue narrows the list (with htmx, or a plain GET); search ignores
accents and highlights; counters tell the backlog's size and age; keyboard and bulk actions
change items and can be undone; saved views keep a set of filters; viewers only look.
"""

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moulin.customers.models import Segment
from moulin.feedback.models import Feedback, FeedbackEvent, ProductArea, SavedView, Tag
from tests.feedback.inbox_data import make_customer, make_feedback

URL = "/feedback/"
BULK = "/feedback/triage/"
UNDO = "/feedback/triage/undo/"
HTMX_LIST = {"HX-Request": "true", "HX-Target": "inbox-results"}
HTMX = {"HX-Request": "true"}


@pytest.fixture
def customers(organisation):
    return {
        "initech": make_customer(organisation, "Initech", arr="250000", plan="Enterprise",
                                 segment="Enterprise"),
        "globex": make_customer(organisation, "Globex", arr="48 000", plan="Scale",
                                segment="Mid-market"),
        "hooli": make_customer(organisation, "Hooli", arr="9000", plan="Starter",
                               segment="SMB", lifecycle="trial"),
        "umbrella": make_customer(organisation, "Umbrella", plan="Starter", segment="SMB",
                                  lifecycle="churned"),
    }


@pytest.fixture
def hub(organisation, customers, cs_contributor, pm):
    """Feedback of every kind, by nickname."""
    return {
        "exports": make_feedback(
            organisation, "Exports time out on big workspaces.", title="Slow exports",
            customer=customers["initech"], source="zendesk", importance="critical",
            tags=["exports", "performance"], product_area="Reporting",
            contact_email="marie@initech.com", contact_name="Marie Curie", days_ago=1,
            actor=cs_contributor),
        "equipe": make_feedback(
            organisation, "L'équipe trésorerie veut rapprocher les relevés bancaires.",
            customer=customers["globex"], source="intercom", language="fr", days_ago=2,
            tags=["bank-sync"], actor=pm),
        "sso": make_feedback(
            organisation, "Please add SSO with Okta before renewal.", customer=customers[
                "hooli"], source="hubspot", importance="nice_to_have", days_ago=3,
            product_area="Security"),
        "churn": make_feedback(
            organisation, "We left because reports were too slow.",
            customer=customers["umbrella"], source="email", days_ago=40),
        "orphan": make_feedback(organisation, "Dark mode please.", source="slack", days_ago=5),
        "done": make_feedback(organisation, "Old request, already triaged.", source="zendesk",
                              days_ago=10, status="triaged"),
    }


def texts(response) -> list[str]:
    return [item.text for item in response.context["rows"]]


def body(response) -> str:
    return response.content.decode()


# --- The list ---------------------------------------------------------------------------------

def test_inbox_opens_on_the_untriaged_backlog_newest_first(client_for, product_ops, hub):
    response = client_for(product_ops).get(URL)

    assert response.status_code == 200
    assert texts(response) == [hub[k].text for k in ("exports", "equipe", "sso", "orphan",
                                                      "churn")]
    assert hub["done"].text not in body(response)


def test_all_statuses_is_one_click_away(client_for, product_ops, hub):
    client = client_for(product_ops)
    page = body(client.get(URL))
    assert 'href="/feedback/?status=all"' in page

    response = client.get(URL, {"status": "all"})

    assert hub["done"].text in texts(response)
    assert len(texts(response)) == 6


def test_a_row_shows_the_verbatim_customer_weight_contact_source_triage_and_date(
        client_for, product_ops, hub):
    page = body(client_for(product_ops).get(URL))

    for expected in ["Slow exports", "Exports time out on big workspaces.", "Initech",
                     "ARR 250,000 EUR", "Enterprise", "Marie Curie", "Zendesk",
                     "#exports", "#performance", "Critical", "New", "Reporting",
                     "Trial", "No customer"]:
        assert expected in page, expected
    assert f'href="/feedback/{hub["exports"].pk}/"' in page


@pytest.mark.parametrize(("filters", "expected"), [
    ({"source": "zendesk"}, ["exports"]),
    ({"source": "zendesk,slack"}, ["exports", "orphan"]),
    ({"importance": "critical"}, ["exports"]),
    ({"segment": "SMB"}, ["sso", "churn"]),
    ({"plan": "Starter"}, ["sso", "churn"]),
    ({"arr_min": "40k"}, ["exports", "equipe"]),
    ({"arr_min": "10000", "arr_max": "100 000"}, ["equipe"]),
    ({"lifecycle": "trial"}, ["sso"]),
    ({"lifecycle": "churned"}, ["churn"]),
    ({"product_area": "Security"}, ["sso"]),
    ({"tag": "bank-sync"}, ["equipe"]),
    ({"language": "fr"}, ["equipe"]),
    ({"status": "triaged"}, ["done"]),
    ({"status": "new,triaged", "source": "zendesk"}, ["exports", "done"]),
])
def test_each_filter_narrows_the_list(client_for, product_ops, hub, organisation, filters,
                                      expected):
    query = dict(filters)
    if "segment" in query:
        query["segment"] = Segment.objects.get(organisation=organisation, name=query["segment"]).pk
    if "product_area" in query:
        query["product_area"] = ProductArea.objects.get(organisation=organisation,
                                                        name=query["product_area"]).pk
    if "tag" in query:
        query["tag"] = Tag.objects.get(organisation=organisation, name=query["tag"]).pk

    response = client_for(product_ops).get(URL, query)

    assert response.status_code == 200
    assert texts(response) == [hub[key].text for key in expected]


def test_filter_by_customer_submitter_department_and_dates(client_for, product_ops, hub,
                                                           customers, cs_contributor):
    client = client_for(product_ops)
    today = timezone.localdate()

    by_customer = client.get(URL, {"customer": customers["initech"].pk})
    by_submitter = client.get(URL, {"submitted_by": cs_contributor.pk})
    by_department = client.get(URL, {"department": cs_contributor.department_id})
    by_dates = client.get(URL, {"date_from": (today - timedelta(days=3)).isoformat(),
                                "date_to": (today - timedelta(days=2)).isoformat()})

    assert texts(by_customer) == [hub["exports"].text]
    assert "Initech" in body(by_customer)  # the filter chip names the customer
    assert texts(by_submitter) == [hub["exports"].text]
    assert texts(by_department) == [hub["exports"].text]
    assert texts(by_dates) == [hub["equipe"].text, hub["sso"].text]


def test_filters_update_the_list_with_htmx_and_the_address_keeps_them(client_for, product_ops,
                                                                      hub):
    response = client_for(product_ops).get(URL, {"source": "zendesk"}, headers=HTMX_LIST)

    page = body(response)
    assert response.status_code == 200
    assert page.startswith('<div id="inbox-results">')
    assert "<html" not in page and "Received per source" not in page
    assert texts(response) == [hub["exports"].text]
    # The export link and the "save this view" field follow the new filters.
    assert "/feedback/export/?format=csv&amp;status=new&amp;source=zendesk" in page
    assert 'id="saved-view-query" value="status=new&amp;source=zendesk"' in page


def test_the_filter_form_works_without_javascript(client_for, product_ops, hub):
    page = body(client_for(product_ops).get(URL))

    assert '<form id="inbox-filters" class="filters" method="get" action="/feedback/"' in page
    assert "<noscript><button type=\"submit\"" in page


def test_invalid_filter_values_are_explained_and_the_rest_still_applies(client_for,
                                                                        product_ops, hub):
    response = client_for(product_ops).get(URL, {"importance": "urgent-ish",
                                                 "arr_min": "lots", "source": "zendesk",
                                                 "date_from": "31/02/2024"})

    assert response.status_code == 422
    page = body(response)
    assert "Some filters were ignored" in page
    assert "Unknown value; use one of: nice_to_have, important, critical." in page
    assert "Expected a number" in page
    assert "Expected a date" in page
    assert texts(response) == [hub["exports"].text]


def test_search_finds_french_words_typed_without_accents_and_highlights_them(
        client_for, product_ops, hub):
    response = client_for(product_ops).get(URL, {"q": "equipe tresorerie"})

    assert texts(response) == [hub["equipe"].text]
    page = body(response)
    assert "<mark>équipe</mark>" in page
    assert "<mark>trésorerie</mark>" in page


def test_search_matches_word_starts_in_title_and_text(client_for, product_ops, hub):
    client = client_for(product_ops)

    assert texts(client.get(URL, {"q": "export"})) == [hub["exports"].text]
    assert texts(client.get(URL, {"q": "slow", "status": "all"})) == [hub["exports"].text,
                                                                      hub["churn"].text]
    assert texts(client.get(URL, {"q": "nothing-like-this"})) == []


def test_search_syntax_is_taken_as_plain_words(client_for, product_ops, hub):
    client = client_for(product_ops)

    quoted = client.get(URL, {"q": '"okta" renewal* (sso:'})
    operators = client.get(URL, {"q": "okta OR NOT zanzibar"})

    assert quoted.status_code == operators.status_code == 200
    assert texts(quoted) == [hub["sso"].text]
    assert texts(operators) == []  # OR and NOT are words, not operators: all must match


def test_search_text_is_escaped_in_the_page(client_for, product_ops, organisation):
    make_feedback(organisation, "<b>bold</b> & <script>alert(1)</script> request")

    page = body(client_for(product_ops).get(URL, {"q": "request"}))

    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; <mark>request</mark>" in page


def test_sort_by_arr_puts_the_biggest_accounts_first_and_unknown_arr_last(client_for,
                                                                          product_ops, hub):
    response = client_for(product_ops).get(URL, {"sort": "arr"})

    assert texts(response) == [hub[k].text for k in ("exports", "equipe", "sso", "orphan",
                                                      "churn")]


def test_oldest_first(client_for, product_ops, hub):
    response = client_for(product_ops).get(URL, {"sort": "oldest"})

    assert texts(response)[0] == hub["churn"].text


# --- Pages, speed ----------------------------------------------------------------------------

@pytest.fixture
def many(organisation, customers):
    """120 untriaged items across customers, with tags."""
    names = list(customers.values())
    for index in range(120):
        make_feedback(organisation, f"Request number {index}", days_ago=index / 24,
                      customer=names[index % len(names)], tags=[f"t{index % 3}"],
                      contact_email=f"person{index % 7}@example.org")


@pytest.mark.parametrize("sort", ["newest", "oldest", "arr"])
def test_fifty_a_page_and_the_next_pages_follow_without_gaps_or_repeats(client_for,
                                                                        product_ops, many,
                                                                        sort):
    client = client_for(product_ops)
    seen, cursor, pages = [], None, 0
    while True:
        response = client.get(URL, {"sort": sort, **({"cursor": cursor} if cursor else {})},
                              headers=HTMX_LIST)
        rows = texts(response)
        assert len(rows) <= 50
        seen += rows
        pages += 1
        cursor = response.context["next_cursor"]
        if not cursor:
            break
    assert pages == 3
    assert len(seen) == len(set(seen)) == 120
    assert "Next page" not in body(response)


def test_a_forged_page_link_starts_again_from_the_top(client_for, product_ops, hub):
    response = client_for(product_ops).get(URL, {"cursor": "not-a-cursor"})

    assert response.status_code == 422
    assert texts(response)[0] == hub["exports"].text


def test_the_list_costs_the_same_queries_for_5_or_50_rows_and_counts_nothing(
        client_for, product_ops, organisation, customers, django_assert_max_num_queries):
    client = client_for(product_ops)
    for index in range(5):
        make_feedback(organisation, f"Few {index}", customer=customers["initech"],
                      tags=["a"], contact_email="few@initech.com", product_area="Reporting")
    client.get(URL)  # warm the session and the member
    with CaptureQueriesContext(connection) as few:
        client.get(URL, headers=HTMX_LIST)
    for index in range(60):
        make_feedback(organisation, f"Many {index}", customer=customers["globex"],
                      tags=["b", "c"], contact_email=f"m{index}@globex.com",
                      product_area=f"Area {index % 4}")

    with CaptureQueriesContext(connection) as fifty:
        response = client.get(URL, headers=HTMX_LIST)
    with django_assert_max_num_queries(30):
        full = client.get(URL)

    assert len(texts(response)) == 50 and len(texts(full)) == 50
    assert len(fifty.captured_queries) == len(few.captured_queries)
    # The list never counts the whole table; the counters count only the backlog.
    assert not any("COUNT(" in q["sql"].upper() for q in fifty.captured_queries)


# --- Counters ---------------------------------------------------------------------------------

def test_counters_show_backlog_its_age_time_to_triage_and_intake_per_source(client_for,
                                                                          product_ops, hub):
    Feedback.objects.filter(pk=hub["done"].pk).update(
        triaged_at=hub["done"].created_at + timedelta(hours=5))

    response = client_for(product_ops).get(URL)

    counters = response.context["counters"]
    assert counters.untriaged == 5
    assert counters.oldest_untriaged_days == 40
    assert response.context["median_to_triage"] == "5 h"
    intake = response.context["intake"]
    zendesk = next(row for row in intake["rows"] if row["source"] == "Zendesk")
    assert zendesk["total"] == 2
    assert intake["total"] == 6
    page = body(response)
    assert "Untriaged items" in page and "40 days" in page
    assert "Received per source per week" in page


# --- Keyboard and bulk triage -----------------------------------------------------------------

def test_a_keyboard_action_answers_the_changed_row_and_an_undo_toast(client_for, product_ops,
                                                                     hub):
    item = hub["sso"]

    response = client_for(product_ops).post(BULK, {"ids": str(item.pk), "action": "importance",
                                                   "value": "critical"}, headers=HTMX)

    assert response.status_code == 200
    page = body(response)
    assert f'<tr id="feedback-{item.pk}"' in page and 'hx-swap-oob="true"' in page
    event = FeedbackEvent.objects.filter(feedback=item, kind="updated").get()
    assert f'data-events="{event.pk}"' in page
    assert "Set importance: 1 item changed." in page
    item.refresh_from_db()
    assert item.importance == "critical"


def test_bulk_archive_then_undo_puts_every_item_back(client_for, product_ops, hub):
    client = client_for(product_ops)
    chosen = [hub["sso"], hub["orphan"]]

    response = client.post(BULK, {"ids": [str(i.pk) for i in chosen], "action": "archive"},
                           headers=HTMX)
    events = FeedbackEvent.objects.filter(kind="updated", feedback__in=chosen)
    assert {i.status for i in Feedback.objects.filter(pk__in=[i.pk for i in chosen])} == {
        "archived"}
    assert "Archive: 2 items changed." in body(response)

    undo = client.post(UNDO, {"events": ",".join(str(e.pk) for e in events)}, headers=HTMX)

    assert undo.status_code == 200
    assert "Undone: 2 items are back as they were." in body(undo)
    assert {i.status for i in Feedback.objects.filter(pk__in=[i.pk for i in chosen])} == {
        "new"}
    assert "Redo" in body(undo)


@pytest.mark.parametrize(("action", "value", "check"), [
    ("triage", "", lambda item: item.status == "triaged" and item.triaged_at is not None),
    ("close", "", lambda item: item.status == "closed"),
    ("importance", "nice_to_have", lambda item: item.importance == "nice_to_have"),
    ("tag", "q3-review", lambda item: "q3-review" in [t.name for t in item.tags.all()]),
])
def test_bulk_actions_on_the_selected_items(client_for, product_ops, hub, action, value,
                                            check):
    chosen = [hub["exports"], hub["equipe"]]

    client_for(product_ops).post(BULK, {"ids": ",".join(str(i.pk) for i in chosen),
                                        "action": action, "value": value}, headers=HTMX)

    for item in chosen:
        item.refresh_from_db()
        assert check(item)
    untouched = hub["sso"]
    untouched.refresh_from_db()
    assert untouched.status == "new" and untouched.importance == "nice_to_have"


def test_bulk_product_area_and_tag_from_the_toolbar_fields(client_for, product_ops, hub,
                                                           organisation):
    area = ProductArea.objects.get(organisation=organisation, name="Security")
    client = client_for(product_ops)

    client.post(BULK, {"ids": [hub["orphan"].pk], "action": "area", "area": area.pk})
    client.post(BULK, {"ids": [hub["orphan"].pk], "action": "tag", "tag": "dark-mode"})

    hub["orphan"].refresh_from_db()
    assert hub["orphan"].product_area == area
    assert [t.name for t in hub["orphan"].tags.all()] == ["dark-mode"]


def test_without_javascript_a_bulk_action_goes_back_to_the_list_with_a_message(client_for,
                                                                               product_ops,
                                                                               hub):
    response = client_for(product_ops).post(BULK, {
        "ids": [hub["orphan"].pk], "action": "archive", "next": "/feedback/?source=slack"},
        follow=True)

    assert response.redirect_chain[-1][0] == "/feedback/?source=slack"
    assert "Archive: 1 item changed." in body(response)


def test_a_bulk_action_without_selection_or_with_a_bad_value_changes_nothing(client_for,
                                                                              product_ops,
                                                                              hub):
    client = client_for(product_ops)

    empty = client.post(BULK, {"action": "archive"}, headers=HTMX)
    bad = client.post(BULK, {"ids": [hub["sso"].pk, hub["orphan"].pk], "action": "importance",
                             "value": "whenever"}, headers=HTMX)
    unknown = client.post(BULK, {"ids": [hub["sso"].pk], "action": "delete"}, headers=HTMX)

    assert empty.status_code == bad.status_code == unknown.status_code == 422
    assert "Select at least one" in body(empty)
    assert "whenever" in body(bad)
    assert not FeedbackEvent.objects.filter(kind="updated").exists()


def test_undo_refuses_what_is_not_an_undoable_change(client_for, product_ops, outsider, hub):
    created = FeedbackEvent.objects.create(feedback=hub["sso"], kind="erased",
                                           changes={"personal_data": "removed"})

    response = client_for(product_ops).post(UNDO, {"events": f"{created.pk},abc,-1"},
                                            headers=HTMX)

    assert response.status_code == 422
    assert "nothing to undo" in body(response)


# --- Who may do what --------------------------------------------------------------------------

def test_a_sales_viewer_reads_the_inbox_without_triage_controls(client_for, sales_viewer, hub):
    client = client_for(sales_viewer)
    page = body(client.get(URL))

    assert hub["exports"].text in page
    assert 'id="bulk-form"' not in page
    assert 'name="ids"' not in page
    assert 'data-can-triage="false"' in page
    assert client.post(BULK, {"ids": [hub["sso"].pk], "action": "archive"}).status_code == 403
    assert client.post(UNDO, {"events": "1"}).status_code == 403


def test_a_cs_contributor_reads_but_cannot_triage(client_for, cs_contributor, hub):
    client = client_for(cs_contributor)

    assert client.get(URL).status_code == 200
    response = client.post(BULK, {"ids": [hub["sso"].pk], "action": "archive"}, headers=HTMX)

    assert response.status_code == 403
    hub["sso"].refresh_from_db()
    assert hub["sso"].status == "new"


def test_another_organisation_never_sees_nor_changes_our_feedback(client_for, outsider, hub):
    client = client_for(outsider)

    page = body(client.get(URL, {"status": "all"}))
    client.post(BULK, {"ids": [hub["sso"].pk], "action": "archive"}, headers=HTMX)

    assert hub["sso"].text not in page
    hub["sso"].refresh_from_db()
    assert hub["sso"].status == "new"


# --- Saved views ------------------------------------------------------------------------------

def save_view(client, name, query, shared=False):
    data = {"name": name, "query": query}
    if shared:
        data["shared"] = "on"
    return client.post("/feedback/views/", data)


def test_save_the_current_filters_as_a_personal_view_and_reopen_it(client_for, pm,
                                                                   product_ops, hub):
    client = client_for(pm)

    response = save_view(client, "Critical Zendesk", "importance=critical&source=zendesk")

    view = SavedView.objects.get(name="Critical Zendesk")
    assert view.owner == pm and not view.shared
    assert view.query == "status=new&source=zendesk&importance=critical"
    assert response.url == f"/feedback/?{view.query}"
    reopened = client.get(response.url)
    assert texts(reopened) == [hub["exports"].text]
    assert 'aria-current="page">Critical Zendesk' in body(reopened)
    # Personal: nobody else sees it.
    assert "Critical Zendesk" not in body(client_for(product_ops).get(URL))


def test_a_shared_view_shows_for_everyone_and_only_its_owner_deletes_it(
        client, pm, product_ops, sales_viewer, hub):
    client.force_login(product_ops.user)
    save_view(client, "Enterprise backlog", "segment=1&status=all", shared=True)
    view = SavedView.objects.get(name="Enterprise backlog")
    assert view.shared and "status=all" in view.query.split("&")

    client.force_login(sales_viewer.user)
    assert "Enterprise backlog" in body(client.get(URL))
    refused = client.post(f"/feedback/views/{view.pk}/delete/", follow=True)
    assert "Only the person who saved this view can delete it." in body(refused)
    assert SavedView.objects.filter(pk=view.pk).exists()

    client.force_login(product_ops.user)
    client.post(f"/feedback/views/{view.pk}/delete/")
    assert not SavedView.objects.filter(pk=view.pk).exists()


def test_saving_again_under_the_same_name_replaces_the_view(client_for, pm, hub):
    client = client_for(pm)

    save_view(client, "Mine", "source=slack")
    save_view(client, "mine", "source=email")

    assert SavedView.objects.get().query == "status=new&source=email"


def test_only_feedback_managers_share_views_and_a_view_needs_a_name(client_for, sales_viewer,
                                                                    hub):
    client = client_for(sales_viewer)

    shared = save_view(client, "For everyone", "source=slack", shared=True)
    unnamed = save_view(client, "  ", "source=slack")
    personal = save_view(client, "For me", "source=slack")

    assert shared.status_code == unnamed.status_code == personal.status_code == 302
    assert list(SavedView.objects.values_list("name", flat=True)) == ["For me"]
    messages = body(client.get(URL))
    assert "Only members who manage feedback can share a view" in messages


def test_saved_views_of_another_organisation_are_out_of_reach(client_for, pm, outsider, hub):
    save_view(client_for(pm), "Ours", "source=slack")
    view = SavedView.objects.get()

    response = client_for(outsider).post(f"/feedback/views/{view.pk}/delete/")

    assert response.status_code == 404
    assert SavedView.objects.filter(pk=view.pk).exists()


# --- Garbage in, never a 500 ------------------------------------------------------------------

PARAMS = ["q", "status", "source", "importance", "language", "lifecycle", "plan", "segment",
          "product_area", "tag", "customer", "submitted_by", "department", "date_from",
          "date_to", "arr_min", "arr_max", "sort", "cursor"]
NASTY = st.one_of(
    st.text(max_size=40),
    st.sampled_from(['"foo" OR bar*', "NEAR(a b)", "\x00", "'; DROP TABLE x;--", "²", "٣",
                     "99999999999999999999999", "-1", "1e999999", "NaN", "0001-01-01",
                     "9999-12-31", "janvier 1 99999999999999999999", "all", "new,,triaged",
                     "*", '"', "AND", "__", "é" * 300]),
)


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(query=st.dictionaries(st.sampled_from(PARAMS), st.lists(NASTY, min_size=1, max_size=3),
                             max_size=6))
def test_any_query_string_gets_an_answer_never_a_server_error(client_for, product_ops, hub,
                                                               query):
    client = client_for(product_ops)
    encoded = urlencode(query, doseq=True)

    page = client.get(f"{URL}?{encoded}")
    fragment = client.get(f"{URL}?{encoded}", headers=HTMX_LIST)
    export = client.get(f"/feedback/export/?{encoded}")

    assert page.status_code in (200, 422)
    assert fragment.status_code in (200, 422)
    assert export.status_code == 200
    b"".join(export.streaming_content)
