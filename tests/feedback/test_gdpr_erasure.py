"""GDPR erasure: one action removes a person from the contact list and from every verbatim that
quotes them, keeps what their company told us, and leaves a trace in the audit log."""

import pytest

from moulin.accounts.models import AuditEntry
from moulin.customers.models import Contact
from moulin.customers.services import customer_upsert
from moulin.feedback.models import Feedback, FeedbackEvent
from moulin.feedback.services import feedback_create


@pytest.fixture
def acme(organisation):
    found, _created = customer_upsert(organisation=organisation, raw={
        "name": "Acme Logistics", "external_id": "SF-1001", "domains": ["acme-logistics.fr"]})
    return found


@pytest.fixture
def marie(organisation, acme, cs_contributor):
    """Marie wrote twice; a colleague quoted her once; someone else wrote about something else."""
    def say(text, email, name=""):
        item, _created = feedback_create(organisation=organisation, actor=cs_contributor, raw={
            "text": text, "contact_email": email, "contact_name": name, "customer_id": acme.pk})
        return item

    say("Hello, Marie Curie here. Reach me at marie.curie@acme-logistics.fr about exports.",
        "marie.curie@acme-logistics.fr", "Marie Curie")
    say("The bank sync fails every Monday.", "marie.curie@acme-logistics.fr")
    say("As MARIE CURIE said, the forecast is off by a week.", "paul@acme-logistics.fr",
        "Paul Martin")
    say("Please add SSO.", "zoe@acme-logistics.fr", "Zoé Lambert")
    return Contact.objects.get(email="marie.curie@acme-logistics.fr")


def erase(client, contact):
    return client.post(f"/feedback/contacts/{contact.pk}/erase/")


def texts() -> list[str]:
    return list(Feedback.objects.order_by("id").values_list("text", flat=True))


def test_erasing_removes_the_person_everywhere_and_keeps_the_feedback(client_for, product_ops,
                                                                      marie, acme):
    response = erase(client_for(product_ops), marie)

    assert response.status_code == 302
    assert response.url == f"/customers/{acme.pk}/"
    marie.refresh_from_db()
    assert (marie.name, marie.email, marie.erased_at is not None) == ("", None, True)
    assert texts() == [
        "Hello, [erased] here. Reach me at [erased] about exports.",
        "The bank sync fails every Monday.",
        "As [erased] said, the forecast is off by a week.",
        "Please add SSO.",
    ]
    # What the company said stays with the company, and with the (now anonymous) contact.
    assert Feedback.objects.filter(customer=acme).count() == 4
    assert Feedback.objects.filter(contact=marie).count() == 2
    assert FeedbackEvent.objects.filter(kind="erased").count() == 2


def test_erasure_is_audited_without_repeating_the_personal_data(client_for, product_ops, marie):
    erase(client_for(product_ops), marie)

    entry = AuditEntry.objects.get(action="contact.erased")
    assert entry.actor == product_ops
    assert entry.target_id == str(marie.pk)
    assert entry.changes == {"feedback_rewritten": 2}
    assert "Curie" not in f"{entry.target_label} {entry.changes}"


def test_the_page_confirms_and_no_longer_lists_the_contact(client_for, product_ops, marie, acme):
    client = client_for(product_ops)
    page = client.get(f"/customers/{acme.pk}/")
    assert "marie.curie@acme-logistics.fr" in page.content.decode()

    followed = client.post(f"/feedback/contacts/{marie.pk}/erase/", follow=True)

    body = followed.content.decode()
    assert "Contact erased" in body
    assert "2 feedback items" in body
    assert "marie.curie" not in body
    assert "Paul Martin" in body


def test_a_second_erasure_is_harmless(client_for, product_ops, marie):
    client = client_for(product_ops)
    erase(client, marie)
    after_first = texts()

    response = erase(client, marie)

    assert response.status_code == 302
    assert texts() == after_first
    marie.refresh_from_db()
    assert marie.email is None


def test_a_contact_without_customer_leads_back_to_the_customer_list(client_for, admin,
                                                                    organisation):
    loner = Contact.objects.create(organisation=organisation, email="solo@gmail.com",
                                   name="Solo Han")
    response = erase(client_for(admin), loner)
    assert response.url == "/customers/"


@pytest.mark.parametrize("persona", ["pm", "cs_contributor", "sales_viewer"])
def test_members_without_delete_rights_on_customers_cannot_erase(client_for, request, persona,
                                                                 marie):
    response = erase(client_for(request.getfixturevalue(persona)), marie)

    assert response.status_code == 403
    marie.refresh_from_db()
    assert marie.name == "Marie Curie"
    assert not AuditEntry.objects.filter(action="contact.erased").exists()


def test_another_organisation_cannot_erase_our_contacts(client_for, outsider, marie):
    assert erase(client_for(outsider), marie).status_code == 404
    marie.refresh_from_db()
    assert marie.email == "marie.curie@acme-logistics.fr"


def test_erasing_needs_a_post(client_for, admin, marie):
    assert client_for(admin).get(f"/feedback/contacts/{marie.pk}/erase/").status_code == 405
