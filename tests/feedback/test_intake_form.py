"""The intake form: Customer Success and Sales record what a customer said in a few seconds."""

from datetime import timedelta

import pytest
from django.utils import timezone

from moulin.accounts import services as account_services
from moulin.accounts.audit import CLI
from moulin.customers.models import Contact
from moulin.customers.services import customer_upsert
from moulin.feedback.models import Feedback, ProductArea
from tests.builders import department, make_member

URL = "/feedback/new/"
EMBED = "/feedback/embed/"
SUGGESTIONS = "/feedback/new/customers/"


def customer(organisation, name, external_id, domain, **extra):
    found, _created = customer_upsert(organisation=organisation, raw={
        "name": name, "external_id": external_id, "domains": [domain], **extra})
    return found


@pytest.fixture
def customers(organisation):
    return {
        "acme": customer(organisation, "Acme Logistics", "SF-1001", "acme-logistics.fr",
                         arr="48 000", plan="Scale", segment="Mid-market"),
        "acmeco": customer(organisation, "Acmeco Foods", "SF-1002", "acmeco.com", arr="9000",
                           plan="Starter", segment="SMB"),
        "initech": customer(organisation, "Initech", "SF-2001", "initech.com", arr="250000",
                            plan="Enterprise", segment="Enterprise"),
    }


@pytest.fixture
def area(organisation):
    return ProductArea.objects.create(organisation=organisation, name="Exports")


def form_data(**overrides):
    data = {"text": "We need the cash report in Excel, every Monday.", "title": "",
            "customer": "", "customer_search": "", "contact_email": "", "contact_name": "",
            "importance": "important", "product_area": "", "tags": "",
            "source": "web_form", "received_on": timezone.localdate().isoformat()}
    return {**data, **overrides}


def test_cs_member_records_feedback_with_every_detail(client_for, cs_contributor, customers,
                                                      area):
    yesterday = timezone.localdate() - timedelta(days=1)
    response = client_for(cs_contributor).post(URL, form_data(
        text="Les exports Excel plantent au-delà de 10 000 lignes.", title="Excel exports",
        customer=customers["initech"].pk, customer_search="Initech",
        contact_email="Marie.Curie@initech.com", contact_name="Marie Curie",
        importance="critical", product_area=area.pk, tags="exports, excel",
        source="email", received_on=yesterday.isoformat()), follow=True)

    item = Feedback.objects.get()
    assert (item.customer, item.importance, item.product_area, item.source, item.title) == (
        customers["initech"], "critical", area, "email", "Excel exports")
    assert item.submitted_by == cs_contributor
    assert item.contact.email == "marie.curie@initech.com"
    assert item.contact.name == "Marie Curie"
    assert sorted(t.name for t in item.tags.all()) == ["excel", "exports"]
    assert timezone.localtime(item.received_at).date() == yesterday
    assert item.language == "fr"
    body = response.content.decode()
    assert "Thanks — feedback recorded." in body
    assert f'href="/feedback/{item.pk}/"' in body


def test_feedback_dated_today_keeps_the_time_it_was_recorded(client_for, cs_contributor):
    before = timezone.now()
    client_for(cs_contributor).post(URL, form_data())
    assert before <= Feedback.objects.get().received_at <= timezone.now()


def test_save_and_add_another_keeps_the_customer_for_the_next_entry(client_for, cs_contributor,
                                                                    customers):
    client = client_for(cs_contributor)
    response = client.post(URL, form_data(customer=customers["acme"].pk,
                                          customer_search="Acme Logistics", source="survey",
                                          add_another="1"))

    assert response.status_code == 302
    assert response.url == f"{URL}?customer={customers['acme'].pk}&source=survey"
    second = client.get(response.url)
    form = second.context["form"]
    assert form["customer"].value() == customers["acme"].pk
    assert form["customer_search"].value() == "Acme Logistics"
    assert form["source"].value() == "survey"
    assert not form["text"].value()
    assert "Mid-market · Scale · 48,000 EUR ARR" in second.content.decode()


def test_plain_submit_starts_a_blank_form(client_for, cs_contributor, customers):
    response = client_for(cs_contributor).post(URL, form_data(customer=customers["acme"].pk,
                                                              customer_search="Acme Logistics"))
    assert response.status_code == 302
    assert response.url == URL


def test_missing_verbatim_answers_422_with_the_field_message(client_for, cs_contributor):
    response = client_for(cs_contributor).post(URL, form_data(text="   "))

    assert response.status_code == 422
    assert response.context["form"].errors["text"] == ["This field is required."]
    assert 'aria-invalid="true"' in response.content.decode()
    assert not Feedback.objects.exists()


def test_a_date_in_the_future_is_refused(client_for, cs_contributor):
    next_week = timezone.localdate() + timedelta(days=7)
    response = client_for(cs_contributor).post(URL, form_data(received_on=next_week.isoformat()))
    assert response.status_code == 422
    assert response.context["form"].errors["received_on"] == ["This date is in the future."]


def test_a_new_contact_is_tied_to_the_customer_chosen(client_for, cs_contributor, customers):
    client_for(cs_contributor).post(URL, form_data(
        customer=customers["acme"].pk, customer_search="Acme Logistics",
        contact_email="freelancer@gmail.com", contact_name="Fred Lance"))

    item = Feedback.objects.get()
    assert item.customer == customers["acme"]
    assert Contact.objects.get(email="freelancer@gmail.com").customer == customers["acme"]


def test_without_customer_the_contacts_email_domain_finds_it(client_for, cs_contributor,
                                                             customers):
    client = client_for(cs_contributor)
    client.post(URL, form_data(contact_email="paul@initech.com"))
    client.post(URL, form_data(contact_email="paul.perso@gmail.com", text="Another one"))

    by_domain, free_mail = Feedback.objects.order_by("id")
    assert by_domain.customer == customers["initech"]
    assert Contact.objects.get(email="paul@initech.com").customer == customers["initech"]
    assert free_mail.customer is None


def test_a_known_contact_brings_their_customer(client_for, cs_contributor, customers):
    Contact.objects.create(organisation=customers["acme"].organisation, email="jo@partner.io",
                           customer=customers["acme"])
    client_for(cs_contributor).post(URL, form_data(contact_email="jo@partner.io"))
    assert Feedback.objects.get().customer == customers["acme"]


@pytest.mark.parametrize("typed", ["initech", "INITECH", "SF-2001", "initech.com"])
def test_without_javascript_a_typed_name_domain_or_crm_id_is_enough(client_for, cs_contributor,
                                                                   customers, typed):
    response = client_for(cs_contributor).post(URL, form_data(customer_search=typed))
    assert response.status_code == 302
    assert Feedback.objects.get().customer == customers["initech"]


def test_an_ambiguous_name_asks_to_pick_one(client_for, cs_contributor, customers):
    response = client_for(cs_contributor).post(URL, form_data(customer_search="acme"))

    assert response.status_code == 422
    [message] = response.context["form"].errors["customer_search"]
    assert "Acme Logistics" in message
    assert "Acmeco Foods" in message
    assert not Feedback.objects.exists()


def test_an_unknown_customer_is_refused_rather_than_dropped(client_for, cs_contributor,
                                                             customers):
    response = client_for(cs_contributor).post(URL, form_data(customer_search="Globex"))
    assert response.status_code == 422
    assert "No customer matches “Globex”" in response.context["form"].errors[
        "customer_search"][0]


def test_editing_the_name_after_picking_follows_what_is_typed(client_for, cs_contributor,
                                                              customers):
    # The hidden id still names Acme (picked earlier); the box now says Initech.
    client_for(cs_contributor).post(URL, form_data(customer=customers["acme"].pk,
                                                   customer_search="Initech"))
    assert Feedback.objects.get().customer == customers["initech"]


def test_emptying_the_box_means_no_customer(client_for, cs_contributor, customers):
    client_for(cs_contributor).post(URL, form_data(customer=customers["acme"].pk))
    assert Feedback.objects.get().customer is None


def test_another_organisations_customer_cannot_be_named(client_for, outsider, customers):
    response = client_for(outsider).post(URL, form_data(customer=customers["acme"].pk,
                                                        customer_search="Acme Logistics"))
    assert response.status_code == 422
    assert "Acme Logistics" not in str(response.context["form"].errors)
    assert not Feedback.objects.exists()


def test_sales_contributor_may_submit_but_a_sales_viewer_may_not(client_for, organisation,
                                                                 sales_viewer):
    seller = make_member(organisation, role="contributor", department_key="sales")
    assert client_for(seller).post(URL, form_data()).status_code == 302

    client = client_for(sales_viewer)
    assert client.get(URL).status_code == 403
    assert client.post(URL, form_data()).status_code == 403
    assert client.get(SUGGESTIONS, {"customer_search": "acme"}).status_code == 403
    assert Feedback.objects.count() == 1


def test_the_menu_offers_the_form_only_to_those_who_may_submit(client_for, cs_contributor,
                                                               sales_viewer):
    assert 'href="/feedback/new/"' in client_for(cs_contributor).get("/").content.decode()
    assert 'href="/feedback/new/"' not in client_for(sales_viewer).get("/").content.decode()


def test_suggestions_match_name_domain_and_crm_id_with_business_data(client_for, cs_contributor,
                                                                     customers):
    client = client_for(cs_contributor)

    def names(text):
        return [c.name for c in client.get(SUGGESTIONS, {"customer_search": text})
                .context["customers"]]

    assert names("acm") == ["Acme Logistics", "Acmeco Foods"]
    assert names("logis") == ["Acme Logistics"]  # the start of any word of the name…
    assert names("gistics") == []  # … not any piece of it
    assert names("initech.c") == ["Initech"]
    assert names("sf-1002") == ["Acmeco Foods"]
    assert names("") == []
    body = client.get(SUGGESTIONS, {"customer_search": "init"}).content.decode()
    assert 'role="option"' in body
    assert f'data-id="{customers["initech"].pk}"' in body
    assert "Enterprise · Enterprise · 250,000 EUR ARR" in body


def test_suggestions_hide_business_data_from_departments_without_customer_access(
        client_for, organisation, admin, customers):
    marketing = make_member(organisation, role="contributor", department_key="marketing")
    account_services.permission_set(actor=admin, origin=CLI, subject_type="department",
                                    subject=str(department(organisation, "marketing").pk),
                                    module="customers", level=0)
    body = client_for(marketing).get(SUGGESTIONS, {"customer_search": "init"}).content.decode()
    assert "Initech" in body
    assert "250,000" not in body
    assert "Enterprise" not in body


def test_suggestions_never_show_another_organisations_customers(client_for, outsider,
                                                                customers):
    response = client_for(outsider).get(SUGGESTIONS, {"customer_search": "acme"})
    assert response.status_code == 200
    assert list(response.context["customers"]) == []
    assert "Acme" not in response.content.decode()


def test_embedded_form_may_be_framed_by_the_same_origin_only(client_for, cs_contributor):
    client = client_for(cs_contributor)
    embedded = client.get(EMBED)
    full = client.get(URL)

    assert embedded.status_code == 200
    assert embedded["X-Frame-Options"] == "SAMEORIGIN"
    assert full["X-Frame-Options"] == "DENY"
    assert "Main navigation" not in embedded.content.decode()
    assert "Main navigation" in full.content.decode()


def test_embedded_form_saves_and_stays_embedded(client_for, cs_contributor):
    response = client_for(cs_contributor).post(EMBED, form_data(add_another="1"))
    assert response.status_code == 302
    assert response.url.startswith(EMBED)
    assert Feedback.objects.get().source == "web_form"
