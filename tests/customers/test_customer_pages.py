"""The customers pages: who buys what, how healthy they are, and what they told us."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from moulin.accounts import services as account_services
from moulin.accounts.audit import CLI
from moulin.accounts.models import AuditEntry
from moulin.customers.models import Contact, Customer, Segment
from moulin.customers.services import customer_upsert
from moulin.feedback.services import feedback_create
from tests.builders import department, make_member

LIST = "/customers/"
EXPORT = "/customers/export.csv"


def customer(organisation, **raw):
    found, _created = customer_upsert(organisation=organisation, raw=raw)
    return found


@pytest.fixture
def book(organisation, cs_contributor):
    """Three customers with business data, two of them with feedback."""
    today = timezone.localdate()
    acme = customer(organisation, name="Acme Logistics", external_id="SF-1001",
                    domains=["acme-logistics.fr"], segment="Mid-market", plan="Scale",
                    arr="48000", lifecycle="customer", health_score=82,
                    renewal_date=(today + timedelta(days=20)).isoformat(),
                    owner_email=cs_contributor.user.email,
                    custom_fields={"ERP": "SAP", "seats": 120})
    initech = customer(organisation, name="Initech", external_id="SF-2001",
                       domains=["initech.com"], segment="Enterprise", plan="Enterprise",
                       arr="250000", health_score=35,
                       renewal_date=(today + timedelta(days=200)).isoformat())
    trial = customer(organisation, name="Blue Yonder Trial", external_id="SF-3001",
                     domains=["blueyonder.io"], segment="SMB", plan="Starter",
                     lifecycle="trial")
    for n in range(3):
        feedback_create(organisation=organisation, actor=cs_contributor, raw={
            "text": f"Acme wants scheduled exports ({n}).", "customer_id": acme.pk,
            "contact_email": "marie@acme-logistics.fr", "contact_name": "Marie Curie"})
    feedback_create(organisation=organisation, actor=cs_contributor, raw={
        "text": "Initech needs SSO.", "customer_id": initech.pk})
    return {"acme": acme, "initech": initech, "trial": trial}


def names(response) -> list[str]:
    return [c.name for c in response.context["page"]]


def test_list_shows_business_data_and_feedback_activity(client_for, admin, book):
    response = client_for(admin).get(LIST)

    assert response.status_code == 200
    assert names(response) == ["Acme Logistics", "Blue Yonder Trial", "Initech"]
    acme = response.context["page"][0]
    assert (acme.feedback_count, acme.last_feedback_at is not None) == (3, True)
    body = response.content.decode()
    for text in ["Mid-market", "Scale", "48,000", "EUR", "Trial", "Carla Success", "82",
                 "Renews within 60 days"]:
        assert text in body


@pytest.mark.parametrize(("query", "expected"), [
    ({"q": "acme"}, ["Acme Logistics"]),
    ({"q": "initech.com"}, ["Initech"]),
    ({"q": "SF-3001"}, ["Blue Yonder Trial"]),
    ({"lifecycle": "trial"}, ["Blue Yonder Trial"]),
    ({"plan": "Enterprise"}, ["Initech"]),
    ({"sort": "arr"}, ["Initech", "Acme Logistics", "Blue Yonder Trial"]),
    ({"sort": "renewal"}, ["Acme Logistics", "Initech", "Blue Yonder Trial"]),
    ({"sort": "nonsense"}, ["Acme Logistics", "Blue Yonder Trial", "Initech"]),
])
def test_list_filters_and_sorts(client_for, admin, book, query, expected):
    assert names(client_for(admin).get(LIST, query)) == expected


def test_list_filters_by_segment(client_for, admin, book):
    smb = Segment.objects.get(name="SMB")
    assert names(client_for(admin).get(LIST, {"segment": smb.pk})) == ["Blue Yonder Trial"]


def test_typing_in_the_filters_swaps_only_the_rows(client_for, admin, book):
    response = client_for(admin).get(LIST, {"q": "init"}, headers={
        "HX-Request": "true", "HX-Target": "customer-rows"})
    body = response.content.decode()
    assert "Initech" in body
    assert "<form" not in body  # the fragment, not the page


def test_list_costs_the_same_queries_for_many_customers(client_for, admin, organisation,
                                                        django_assert_max_num_queries):
    for n in range(60):
        customer(organisation, name=f"Customer {n:02}", external_id=f"X-{n}",
                 segment=f"Segment {n % 3}", owner_email=admin.user.email, arr=str(n * 1000))
    client = client_for(admin)
    client.get(LIST)  # warm the member's permission cache like any signed-in page
    with django_assert_max_num_queries(12):
        response = client.get(LIST, {"sort": "arr"})
    assert len(response.context["page"]) == 50


def test_export_is_the_filtered_list_as_csv_and_is_audited(client_for, admin, book,
                                                           organisation):
    customer(organisation, name="=HYPERLINK(\"http://evil\")", external_id="SF-6666",
             plan="Enterprise")
    response = client_for(admin).get(EXPORT, {"plan": "Enterprise", "sort": "arr"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content)
                                           .decode().lstrip("\ufeff"))))
    assert [r["name"] for r in rows] == ["Initech", "'=HYPERLINK(\"http://evil\")"]
    assert rows[0]["arr"] == "250000.00"
    assert rows[0]["feedback_count"] == "1"
    entry = AuditEntry.objects.get(action="export.customers")
    assert entry.actor == admin
    assert entry.changes["filters"]["plan"] == "Enterprise"


def test_customer_page_shows_the_card_contacts_and_feedback(client_for, pm, book):
    acme = book["acme"]
    response = client_for(pm).get(f"/customers/{acme.pk}/")

    assert response.status_code == 200
    body = response.content.decode()
    for text in ["48,000.00 EUR", "SF-1001", "acme-logistics.fr", "ERP", "SAP", "seats",
                 "Marie Curie", "marie@acme-logistics.fr", "Acme wants scheduled exports"]:
        assert text in body
    assert len(response.context["feedback"]) == 3
    for item in response.context["feedback"]:
        assert f'href="/feedback/{item.pk}/"' in body
    assert "Initech needs SSO" not in body


def test_customer_page_lists_the_newest_twenty_feedback(client_for, pm, book, cs_contributor):
    for n in range(25):
        feedback_create(organisation=book["initech"].organisation, actor=cs_contributor, raw={
            "text": f"Item {n}", "customer_id": book["initech"].pk,
            "created_at": f"2026-01-{n + 1:02}T10:00:00Z"})
    items = client_for(pm).get(f"/customers/{book['initech'].pk}/").context["feedback"]
    assert len(items) == 20
    assert items[0].text == "Initech needs SSO."  # received now: the newest
    assert items[-1].text == "Item 6"


def test_product_ops_corrects_business_data(client_for, product_ops, book):
    acme = book["acme"]
    response = client_for(product_ops).post(f"/customers/{acme.pk}/", {
        "name": "Acme Logistics SAS", "external_id": "SF-1001", "lifecycle": "customer",
        "segment": "Enterprise", "plan": "Scale+", "arr": "12 500,50", "currency": "EUR",
        "renewal_date": "2027-03-31", "health_score": "64", "owner": "",
        "industry": "Transport", "country": "fr",
        "domains": "acme-logistics.fr, https://www.acme.eu/", "custom_fields": "ERP: Sage\n"})

    assert response.status_code == 302
    acme.refresh_from_db()
    assert acme.name == "Acme Logistics SAS"
    assert acme.arr == Decimal("12500.50")
    assert acme.segment.name == "Enterprise"
    assert (acme.country, acme.health_score, acme.owner) == ("FR", 64, None)
    assert sorted(acme.domain_rows.values_list("domain", flat=True)) == [
        "acme-logistics.fr", "acme.eu"]
    assert acme.custom_fields == {"ERP": "Sage"}  # a line removed is a field removed


def test_unchanged_custom_fields_keep_their_type(client_for, product_ops, book):
    acme = book["acme"]
    client_for(product_ops).post(f"/customers/{acme.pk}/", {
        "name": "Acme Logistics", "lifecycle": "customer", "external_id": "SF-1001",
        "custom_fields": "ERP: SAP\nseats: 120"})
    acme.refresh_from_db()
    assert acme.custom_fields == {"ERP": "SAP", "seats": 120}


@pytest.mark.parametrize(("field", "value", "message"), [
    ("domains", "initech.com", "already belongs to another customer"),
    ("country", "France", "two-letter ISO code"),
    ("arr", "beaucoup", "Expected a number"),
    ("external_id", "SF-2001", "Another customer has the CRM id"),
    ("custom_fields", "no colon here", "write name: value"),
])
def test_a_wrong_value_is_reported_on_its_field_and_nothing_changes(client_for, product_ops,
                                                                    book, field, value,
                                                                    message):
    acme = book["acme"]
    data = {"name": "Renamed", "external_id": "SF-1001", "lifecycle": "customer",
            "arr": "1", "segment": "Brand new segment", field: value}
    response = client_for(product_ops).post(f"/customers/{acme.pk}/", data)

    assert response.status_code == 422
    assert message in " ".join(response.context["form"].errors[field])
    acme.refresh_from_db()
    assert (acme.name, acme.arr) == ("Acme Logistics", Decimal("48000"))
    assert not Segment.objects.filter(name="Brand new segment").exists()


def test_sales_viewer_and_cs_contributor_see_customers_but_cannot_edit(client_for, book,
                                                                       sales_viewer,
                                                                       cs_contributor):
    url = f"/customers/{book['acme'].pk}/"
    for member in (sales_viewer, cs_contributor):
        client = client_for(member)
        page = client.get(url)
        assert page.status_code == 200
        assert page.context["form"] is None
        assert "/erase/" not in page.content.decode()
        assert client.post(url, {"name": "Hacked", "lifecycle": "customer"}).status_code == 403
    book["acme"].refresh_from_db()
    assert book["acme"].name == "Acme Logistics"


def test_only_those_who_may_erase_see_the_erase_button(client_for, product_ops, book):
    body = client_for(product_ops).get(f"/customers/{book['acme'].pk}/").content.decode()
    contact = Contact.objects.get(email="marie@acme-logistics.fr")
    assert "Erase the personal data of Marie Curie" in body
    assert f'action="/feedback/contacts/{contact.pk}/erase/"' in body


def test_marketing_without_customer_access_is_refused(client_for, organisation, admin, book):
    marketing = make_member(organisation, role="contributor", department_key="marketing")
    account_services.permission_set(actor=admin, origin=CLI, subject_type="department",
                                    subject=str(department(organisation, "marketing").pk),
                                    module="customers", level=0)
    client = client_for(marketing)
    for url in (LIST, EXPORT, f"/customers/{book['acme'].pk}/"):
        assert client.get(url).status_code == 403, url
    assert 'href="/customers/"' not in client.get("/").content.decode()


def test_a_department_created_by_an_admin_has_no_customer_access(client_for, organisation,
                                                                 admin, book):
    partners = account_services.department_create(actor=admin, origin=CLI, name="Partners")
    member = make_member(organisation, role="contributor")
    member.department = partners
    member.save()
    assert client_for(member).get(LIST).status_code == 403


def test_another_organisation_never_sees_our_customers(client_for, outsider, book):
    client = client_for(outsider)
    assert client.get(f"/customers/{book['acme'].pk}/").status_code == 404
    assert client.post(f"/customers/{book['acme'].pk}/", {"name": "x"}).status_code == 404
    listing = client.get(LIST)
    assert names(listing) == []
    export = b"".join(client.get(EXPORT).streaming_content).decode()
    assert "Acme" not in export
    assert Customer.objects.filter(name="x").count() == 0
