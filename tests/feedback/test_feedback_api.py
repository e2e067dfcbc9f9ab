"""The feedback API as integrations use it: create one, upsert 1,000 at once, list with filters."""

from datetime import UTC, datetime

import pytest

from moulin.customers.models import Contact
from moulin.customers.services import customer_upsert
from moulin.feedback.models import Feedback

URL = "/api/v1/feedback"
BULK = "/api/v1/feedback/bulk"


def customer(organisation, name, external_id, domain, **extra):
    found, _created = customer_upsert(organisation=organisation, raw={
        "name": name, "external_id": external_id, "domains": [domain], **extra})
    return found


@pytest.fixture
def customers(organisation):
    return {
        "acme": customer(organisation, "Acme Logistics", "SF-1001", "acme-logistics.fr",
                         segment="Mid-market", arr="48000"),
        "initech": customer(organisation, "Initech", "SF-2001", "initech.com",
                            segment="Enterprise", arr="250000"),
    }


@pytest.fixture
def api(api_client, admin):
    return api_client(admin)


def test_create_one_then_the_same_external_id_updates_it(api, customers):
    first = api.post(URL, {"text": "Exports time out.", "external_id": "zd-1",
                           "source": "zendesk", "customer_external_id": "SF-1001",
                           "importance": "critique", "tags": ["exports"]})
    assert first.status_code == 201
    body = first.json()
    assert (body["customer"]["name"], body["importance"], body["tags"], body["status"]) == (
        "Acme Logistics", "critical", ["exports"], "new")

    again = api.post(URL, {"text": "Exports time out above 10k rows.", "external_id": "zd-1",
                           "source": "zendesk", "customer_external_id": "SF-1001"})

    assert again.status_code == 200
    assert again.json()["id"] == body["id"]
    assert Feedback.objects.get().text == "Exports time out above 10k rows."


def test_the_same_external_id_from_another_source_is_another_item(api):
    api.post(URL, {"text": "From Zendesk", "external_id": "42", "source": "zendesk"})
    assert api.post(URL, {"text": "From Intercom", "external_id": "42",
                          "source": "intercom"}).status_code == 201
    assert Feedback.objects.count() == 2


@pytest.mark.parametrize(("body", "field"), [
    ({"text": "   "}, "text"),
    ({"text": "x", "source": "fax"}, "source"),
    ({"text": "x", "importance": "meh"}, "importance"),
    ({"text": "x", "contact_email": "not-an-address"}, "contact_email"),
    ({"text": "x", "created_at": "the day before yesterday"}, "created_at"),
    ({"text": "x", "customer_external_id": "SF-404"}, "customer_external_id"),
    ({"text": "x", "tags": [f"t{n}" for n in range(31)]}, "tags"),
])
def test_invalid_values_answer_422_naming_the_field(api, customers, body, field):
    response = api.post(URL, body)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert not Feedback.objects.exists()


def test_a_ten_megabyte_verbatim_is_accepted(api):
    transcript = ("Le client explique que l'export Excel échoue. " * 220_000)[:10_000_000]
    response = api.post(URL, {"text": transcript})
    assert response.status_code == 201
    assert len(Feedback.objects.get().text) == len(transcript.strip())


def test_a_body_beyond_the_limit_gets_413_not_a_crash(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = api.post(URL, {"text": "x" * 5000})
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"


def issue_item(n: int, **overrides) -> dict:
    """An item exactly as the issue specifies the bulk body."""
    return {"external_id": f"ic-{n}", "text": f"Conversation {n}: please add SSO.",
            "source": "intercom", "customer_external_id": "SF-1001",
            "contact_email": f"user{n}@acme-logistics.fr", "created_at": "2026-03-02T09:30:00Z",
            "importance": "important", "tags": ["sso", "security"], **overrides}


def test_bulk_answers_per_item_created_updated_or_error(api, customers):
    api.post(URL, issue_item(0))
    items = [issue_item(0, text="Updated text"), issue_item(1), issue_item(2, source="fax"),
             issue_item(3, customer_external_id="SF-404"), issue_item(4, created_at="31/02/2026"),
             issue_item(1, text="Same id twice")]

    response = api.post(BULK, {"items": items})

    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["updated"], body["errors"]) == (1, 1, 4)
    statuses = [(r["status"], r["field"]) for r in body["items"]]
    assert statuses == [("updated", None), ("created", None), ("error", "source"),
                        ("error", "customer_external_id"), ("error", "created_at"),
                        ("error", "external_id")]
    item = Feedback.objects.get(external_id="ic-1")
    assert item.customer == customers["acme"]
    assert item.received_at == datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    assert sorted(t.name for t in item.tags.all()) == ["security", "sso"]
    assert item.contact.email == "user1@acme-logistics.fr"
    assert Feedback.objects.get(external_id="ic-0").text == "Updated text"


def test_a_retried_batch_creates_no_duplicates(api, customers):
    items = [issue_item(n) for n in range(50)]
    assert api.post(BULK, {"items": items}).json()["created"] == 50

    retry = api.post(BULK, {"items": items}).json()

    assert (retry["created"], retry["updated"], retry["errors"]) == (0, 50, 0)
    assert Feedback.objects.count() == 50
    assert Contact.objects.filter(email__startswith="user").count() == 50


def test_a_thousand_items_pass_and_a_thousand_and_one_are_refused(api, customers):
    assert api.post(BULK, {"items": [issue_item(n) for n in range(1000)]}).json()[
        "created"] == 1000

    response = api.post(BULK, {"items": [issue_item(n) for n in range(1001)]})

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "items"
    assert Feedback.objects.count() == 1000


def test_contact_email_finds_the_customer_by_contact_then_domain_never_free_mail(
        api, organisation, customers):
    Contact.objects.create(organisation=organisation, email="jane@gmail.com",
                           customer=customers["initech"])
    items = [{"text": "by known contact", "contact_email": "Jane@Gmail.com"},
             {"text": "by domain", "contact_email": "bob@acme-logistics.fr"},
             {"text": "free mail", "contact_email": "someone@gmail.com"},
             {"text": "unknown domain", "contact_email": "x@unknown.example"}]
    api.post(BULK, {"items": items})

    found = dict(Feedback.objects.values_list("text", "customer__name"))
    assert found == {"by known contact": "Initech", "by domain": "Acme Logistics",
                     "free mail": None, "unknown domain": None}
    assert Contact.objects.get(email="bob@acme-logistics.fr").customer == customers["acme"]


# --- Listing ---------------------------------------------------------------------------------

@pytest.fixture
def listed(api, customers):
    api.post(BULK, {"items": [
        {"external_id": "1", "source": "zendesk", "customer_external_id": "SF-1001",
         "text": "Les exports comptables sont trop lents pour nos équipes.",
         "created_at": "2026-01-05T10:00:00Z"},
        {"external_id": "2", "source": "intercom", "customer_external_id": "SF-2001",
         "text": "The accounting export is too slow for our team.",
         "created_at": "2026-01-06T10:00:00Z"},
        {"external_id": "3", "source": "email", "text": "Please add dark mode.",
         "created_at": "2026-01-07T10:00:00Z"},
    ]})
    Feedback.objects.filter(external_id="3").update(status="archived")


def texts(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["text"][:12] for item in response.json()["items"]]


@pytest.mark.parametrize(("params", "expected"), [
    ({}, ["Please add d", "The accounti", "Les exports "]),
    ({"status": "new"}, ["The accounti", "Les exports "]),
    ({"status": "new,archived"}, ["Please add d", "The accounti", "Les exports "]),
    ({"source": "zendesk"}, ["Les exports "]),
    ({"q": "export"}, ["The accounti", "Les exports "]),
    ({"q": "lents"}, ["Les exports "]),
    ({"q": "comptable"}, ["Les exports "]),
    ({"q": "EXPORT slow"}, ["The accounti"]),
    ({"segment": "__enterprise__"}, ["The accounti"]),
    ({"arr_min": "100 000"}, ["The accounti"]),
    ({"arr_min": "10000", "arr_max": "50000"}, ["Les exports "]),
])
def test_list_filters(api, listed, customers, params, expected):
    if params.get("segment") == "__enterprise__":
        params = {"segment": str(customers["initech"].segment_id)}
    assert texts(api.get(URL, **params)) == expected


def test_list_filters_by_customer(api, listed, customers):
    assert texts(api.get(URL, customer=customers["acme"].pk)) == ["Les exports "]


def test_a_wrong_filter_value_answers_422_with_the_field(api, listed):
    response = api.get(URL, status="pending")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "status"


def test_filter_errors_are_english_in_the_api_and_french_in_a_french_inbox(
        api, listed, admin, client_for):
    admin.user.language = "fr"
    admin.user.save()

    response = api.get(URL, importance="urgent-ish")
    page = client_for(admin).get("/feedback/", {"importance": "urgent-ish"}).content.decode()

    assert response.json()["message"].startswith("Unknown value; use one of:")
    assert "Valeur inconnue\u00a0; utilisez l’une de celles-ci\u00a0:" in page


def test_list_pages_with_a_cursor_newest_first(api, customers):
    api.post(BULK, {"items": [{"text": f"Item {n}", "created_at": f"2026-02-{n + 1:02}"}
                              for n in range(5)]})
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get(URL, **params).json()
        seen += [item["text"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["Item 4", "Item 3", "Item 2", "Item 1", "Item 0"]


def test_a_viewer_token_reads_but_cannot_write(api_client, sales_viewer, admin):
    viewer = api_client(sales_viewer)
    assert viewer.post(URL, {"text": "x"}).status_code == 403
    assert viewer.post(BULK, {"items": [{"text": "x"}]}).status_code == 403
    assert viewer.get(URL).status_code == 200
    read_only = api_client(admin, scope="read")
    assert read_only.post(URL, {"text": "x"}).status_code == 403
    assert not Feedback.objects.exists()


def test_an_outsider_gets_404_on_our_ids_and_never_sees_our_feedback(api, api_client, outsider,
                                                                     customers):
    ours = api.post(URL, {"text": "Secret roadmap wish", "external_id": "e-1",
                          "source": "email"}).json()["id"]
    theirs = api_client(outsider)

    assert theirs.get(f"{URL}/{ours}").status_code == 404
    assert theirs.get(URL).json()["items"] == []
    assert theirs.get(URL, q="Secret").json()["items"] == []
    # Naming our customer by id or external id does not reach it.
    by_id = theirs.post(URL, {"text": "x", "customer_id": customers["acme"].pk})
    assert by_id.status_code == 422
    assert theirs.post(URL, {"text": "x", "customer_external_id": "SF-1001"}
                       ).status_code == 422
    # The same source and external id in their organisation is their own item.
    assert theirs.post(URL, {"text": "Theirs", "external_id": "e-1", "source": "email"}
                       ).status_code == 201
    assert Feedback.objects.get(pk=ours).text == "Secret roadmap wish"
