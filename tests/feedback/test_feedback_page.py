"""The feedback page: a PM reads the whole verbatim with the account behind it, the person who
said it, what else that customer asked, and the item's history; Product Ops triage it there."""

import pytest
from django.utils import timezone

from moulin.accounts.audit import CLI
from moulin.customers.models import Contact
from moulin.feedback.models import FeedbackEvent, ProductArea
from moulin.feedback.services import contact_erase
from tests.feedback.inbox_data import make_customer, make_feedback

HTMX = {"HX-Request": "true"}
VERBATIM = ("Bonjour,\nL'export <b>plante</b> & les totaux sont faux.\n"
            "<script>alert('x')</script>\nMerci !")


@pytest.fixture
def initech(organisation, admin):
    return make_customer(organisation, "Initech", arr="250000", currency="USD",
                         plan="Enterprise", segment="Enterprise", health_score="35",
                         renewal_date="2027-03-31", owner_email=admin.user.email)


@pytest.fixture
def item(organisation, initech, cs_contributor):
    return make_feedback(
        organisation, VERBATIM, title="Export breaks", customer=initech, source="zendesk",
        contact_email="marie@initech.com", contact_name="Marie Curie", tags=["exports"],
        product_area="Reporting", actor=cs_contributor, days_ago=2,
        links=["https://support.initech.com/t/42", "javascript:alert(1)"],
        attachments=[{"name": "export.xlsx", "url": "https://files.initech.com/e.xlsx",
                      "content_type": "application/vnd.ms-excel", "size": 20480},
                     {"name": "trap", "url": "javascript:alert(2)"}])


def url(item) -> str:
    return f"/feedback/{item.pk}/"


def body(response) -> str:
    return response.content.decode()


def test_the_full_verbatim_is_shown_escaped_with_its_line_breaks(client_for, pm, item):
    page = body(client_for(pm).get(url(item)))

    assert "L&#x27;export &lt;b&gt;plante&lt;/b&gt; &amp; les totaux sont faux." in page
    assert "<script>alert('x')</script>" not in page
    assert "Bonjour,\nL&#x27;export" in page  # kept as typed, shown with white-space: pre-wrap
    assert 'class="verbatim-full"' in page


def test_the_page_says_where_it_came_from_who_recorded_it_and_when(client_for, pm, item):
    page = body(client_for(pm).get(url(item)))

    assert "<h1>Export breaks</h1>" in page
    assert "Zendesk" in page
    assert "submitted by Carla Success" in page
    assert f'datetime="{timezone.localtime(item.received_at).isoformat()[:16]}' in page


def test_the_customer_card_weighs_the_account(client_for, pm, item):
    page = body(client_for(pm).get(url(item)))

    for expected in ["Initech", "250,000.00 USD", "Enterprise", "Customer", "35 / 100",
                     "March 31, 2027", "Alice Admin", "All feedback from this customer"]:
        assert expected in page, expected
    assert 'class="badge danger">35 / 100' in page  # an account at risk stands out


def test_the_contact_card_and_an_erased_contact(client_for, pm, admin, item):
    client = client_for(pm)
    assert "marie@initech.com" in body(client.get(url(item)))

    contact_erase(actor=admin, origin=CLI, contact=Contact.objects.get(email="marie@initech.com"))
    page = body(client.get(url(item)))

    assert "marie@initech.com" not in page
    assert "This person was erased" in page


def test_other_feedback_from_the_same_customer_is_listed(client_for, pm, organisation,
                                                         initech, item):
    sibling = make_feedback(organisation, "Also: SSO please.", customer=initech, days_ago=9)
    stranger = make_feedback(organisation, "Someone else's wish.",
                             customer=make_customer(organisation, "Hooli"))

    page = body(client_for(pm).get(url(item)))

    assert "Other feedback from Initech" in page
    assert f'href="/feedback/{sibling.pk}/"' in page
    assert stranger.text not in page


def test_links_and_attachments_are_listed_and_only_web_addresses_are_clickable(client_for, pm,
                                                                               item):
    page = body(client_for(pm).get(url(item)))

    assert 'href="https://support.initech.com/t/42"' in page
    assert 'href="https://files.initech.com/e.xlsx"' in page
    assert "export.xlsx" in page and "20.0\xa0KB" in page
    assert 'href="javascript:' not in page
    assert "javascript:alert(1)" in page  # shown as text, so nothing is hidden


def test_product_ops_triage_on_the_page_and_history_tells_who_changed_what(client_for,
                                                                         product_ops, item,
                                                                         organisation):
    client = client_for(product_ops)
    area = item.product_area

    response = client.post(f"{url(item)}triage/", {
        "status": "triaged", "importance": "critical", "product_area": area.pk,
        "tags": "exports, finance", "title": "Export breaks totals"}, headers=HTMX)

    assert response.status_code == 200
    page = body(response)
    assert page.startswith('<section class="card triage-card" id="feedback-triage"')
    assert "Saved." in page
    assert 'id="feedback-history" aria-labelledby="history-title" hx-swap-oob="true"' in page
    assert "Paul Ops</strong> — changed" in page
    assert "Status: <del>New</del> → <ins>Triaged</ins>" in page
    assert "Importance: <del>Important</del> → <ins>Critical</ins>" in page
    assert "Tags: <del>exports</del> → <ins>exports, finance</ins>" in page
    event = FeedbackEvent.objects.get(feedback=item, kind="updated")
    assert f'name="events" value="{event.pk}"' in page  # the toast's Undo
    item.refresh_from_db()
    assert (item.status, item.importance, item.title) == ("triaged", "critical",
                                                          "Export breaks totals")
    assert sorted(t.name for t in item.tags.all()) == ["exports", "finance"]


def test_undo_from_the_page_puts_the_old_values_back(client_for, product_ops, item):
    client = client_for(product_ops)
    client.post(f"{url(item)}triage/", {"status": "archived", "importance": "important",
                                        "tags": "exports"})
    event = FeedbackEvent.objects.get(feedback=item, kind="updated")

    response = client.post("/feedback/triage/undo/", {"events": event.pk, "next": url(item)},
                           follow=True)

    assert response.redirect_chain[-1][0] == url(item)
    assert "Undone: 1 item is back as it was." in body(response)
    item.refresh_from_db()
    assert item.status == "new"


def test_the_history_names_product_areas_instead_of_ids(client_for, product_ops, item,
                                                        organisation):
    billing = ProductArea.objects.create(organisation=organisation, name="Billing")
    client = client_for(product_ops)

    client.post(f"{url(item)}triage/", {"status": "new", "importance": "important",
                                        "product_area": billing.pk, "tags": "exports"})

    assert "Product area: <del>Reporting</del> → <ins>Billing</ins>" in body(client.get(url(item)))


def test_a_wrong_value_is_explained_and_nothing_changes(client_for, product_ops, item):
    response = client_for(product_ops).post(f"{url(item)}triage/", {
        "status": "shipped", "importance": "critical", "tags": ""}, headers=HTMX)

    assert response.status_code == 422
    assert "Select a valid choice" in body(response)
    item.refresh_from_db()
    assert (item.status, item.importance) == ("new", "important")


def test_without_javascript_saving_comes_back_to_the_page(client_for, product_ops, item):
    response = client_for(product_ops).post(f"{url(item)}triage/", {
        "status": "triaged", "importance": "important", "tags": "exports"}, follow=True)

    assert response.redirect_chain[-1][0] == url(item)
    assert "Saved." in body(response)


def test_viewers_and_contributors_read_the_page_without_the_triage_form(client_for,
                                                                        sales_viewer,
                                                                        cs_contributor, item):
    for member in (sales_viewer, cs_contributor):
        client = client_for(member)
        page = body(client.get(url(item)))
        assert "Export breaks" in page
        assert 'id="feedback-triage"' not in page
        assert "Reporting" in page  # the triage fields, read-only
        refused = client.post(f"{url(item)}triage/", {"status": "archived",
                                                       "importance": "critical"})
        assert refused.status_code == 403
    item.refresh_from_db()
    assert item.status == "new"


def test_another_organisation_gets_not_found(client_for, outsider, item):
    client = client_for(outsider)

    assert client.get(url(item)).status_code == 404
    assert client.post(f"{url(item)}triage/", {"status": "archived",
                                               "importance": "critical"}).status_code == 404
    assert client.get("/feedback/999999999/").status_code == 404


def test_feedback_without_customer_or_contact_still_reads_well(client_for, pm, organisation):
    lonely = make_feedback(organisation, "Just an idea.", days_ago=0)

    response = client_for(pm).get(url(lonely))

    page = body(response)
    assert response.status_code == 200
    assert "No customer is linked to this feedback." in page
    assert "No contact." in page
    assert "Other feedback from" not in page
