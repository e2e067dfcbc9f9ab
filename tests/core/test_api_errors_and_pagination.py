"""What every API client relies on: one error format, cursor pagination, the rate limit."""

import base64
import json
import time

import pytest
from django.core.cache import cache
from django.test import override_settings

from moulin.accounts.models import Department
from moulin.core.policy import Role
from tests.builders import make_member, make_token

ERROR_KEYS = {"status", "code", "message", "errors"}


def assert_error(response, status: int, code: str) -> dict:
    """The response is ``status`` in the one error format, with ``code``; returns the body."""
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert body["status"] == status
    assert body["code"] == code
    assert isinstance(body["message"], str)
    assert body["message"]
    assert all(set(error) == {"field", "message"} for error in body["errors"])
    return body


def forged_cursor(values) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


# --- The error format --------------------------------------------------------------------------

def test_malformed_json_is_a_400(client, api_client, admin):
    caller = api_client(admin)
    response = client.post("/api/v1/departments", '{"name": "Legal",', headers=caller.headers,
                           content_type="application/json")
    body = assert_error(response, 400, "bad_request")
    assert "JSON" in body["message"]


def test_missing_token_is_a_401(client, admin):
    assert_error(client.get("/api/v1/members"), 401, "unauthenticated")


def test_action_the_role_does_not_allow_is_a_403(api_client, admin, pm):
    response = api_client(pm).patch(f"/api/v1/members/{admin.pk}", {"role": "viewer"})
    assert_error(response, 403, "forbidden")


def test_other_organisations_member_looks_exactly_like_a_missing_one(api_client, admin,
                                                                      outsider):
    caller = api_client(admin)
    theirs = caller.get(f"/api/v1/members/{outsider.pk}")
    missing = caller.get("/api/v1/members/987654321")

    assert_error(theirs, 404, "not_found")
    assert theirs.content == missing.content
    assert outsider.user.email.encode() not in theirs.content


def test_duplicate_department_name_is_a_409_on_the_name(api_client, admin):
    response = api_client(admin).post("/api/v1/departments", {"name": "sales"})
    body = assert_error(response, 409, "conflict")
    assert [error["field"] for error in body["errors"]] == ["name"]
    assert Department.objects.filter(organisation=admin.organisation,
                                     name__iexact="sales").count() == 1


def test_invalid_fields_are_a_422_naming_each_field(api_client, admin):
    response = api_client(admin).post("/api/v1/departments",
                                      {"name": "", "description": "x" * 301})
    body = assert_error(response, 422, "validation_error")
    assert sorted(error["field"] for error in body["errors"]) == ["description", "name"]


def test_missing_required_field_is_a_422_naming_it(api_client, admin):
    response = api_client(admin).post("/api/v1/squads", {"mission": "Payments"})
    body = assert_error(response, 422, "validation_error")
    assert [error["field"] for error in body["errors"]] == ["name"]


# --- Cursor pagination ------------------------------------------------------------------------

def walk(caller, path, **params):
    """Every item of a list, page after page; returns the ids and the number of pages."""
    ids, pages, cursor = [], 0, None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = caller.get(path, **query)
        assert response.status_code == 200, response.content[:300]
        page = response.json()
        pages += 1
        ids += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return ids, pages
        assert pages < 50, "the walk never ends"


@pytest.fixture
def seven_members(organisation, admin, pm, product_ops, cs_contributor, sales_viewer):
    others = [make_member(organisation, role=Role.CONTRIBUTOR) for _ in range(2)]
    return [admin, pm, product_ops, cs_contributor, sales_viewer, *others]


def test_walking_members_two_by_two_returns_each_exactly_once(api_client, admin, seven_members,
                                                               outsider):
    ids, pages = walk(api_client(admin), "/api/v1/members", limit=2)

    assert sorted(ids) == sorted(member.pk for member in seven_members)
    assert len(ids) == len(set(ids))
    assert pages == 4  # 2 + 2 + 2 + 1
    assert outsider.pk not in ids


def test_member_added_during_a_walk_neither_repeats_nor_hides_anyone(api_client, admin,
                                                                       organisation,
                                                                       seven_members):
    caller = api_client(admin)
    first = caller.get("/api/v1/members", limit=2).json()
    # Sorted by name, the newcomer would come first and push everyone one place down.
    newcomer = make_member(organisation, role=Role.VIEWER, full_name="Aaron Early")

    rest, _pages = walk(caller, "/api/v1/members", limit=2, cursor=first["next_cursor"])
    ids = [item["id"] for item in first["items"]] + rest

    assert len(ids) == len(set(ids))
    assert set(ids) >= {member.pk for member in seven_members}
    assert set(ids) <= {member.pk for member in seven_members} | {newcomer.pk}


@pytest.mark.parametrize("cursor", [
    pytest.param("not a cursor!", id="garbage"),
    pytest.param(forged_cursor(["abc"]), id="text-for-an-id"),
    pytest.param(forged_cursor([None]), id="null"),
    pytest.param(forged_cursor([1, 2]), id="another-lists-cursor"),
    pytest.param(forged_cursor([{"dt": "2024-01-01T00:00:00+00:00"}]), id="date-for-an-id"),
    pytest.param(forged_cursor([{"dec": "not a number"}]), id="bad-decimal"),
    pytest.param(forged_cursor({"id": 3}), id="object"),
])
def test_forged_cursor_is_refused(api_client, admin, seven_members, cursor):
    response = api_client(admin).get("/api/v1/members", limit=2, cursor=cursor)
    body = assert_error(response, 422, "invalid_cursor")
    assert [error["field"] for error in body["errors"]] == ["cursor"]


def test_forged_cursor_on_the_audit_log_is_refused(api_client, admin):
    response = api_client(admin).get("/api/v1/audit-log",
                                     cursor=forged_cursor(["yesterday", 1]))
    assert_error(response, 422, "invalid_cursor")


def test_page_size_above_200_is_refused(api_client, admin):
    response = api_client(admin).get("/api/v1/members", limit=201)
    body = assert_error(response, 422, "validation_error")
    assert [error["field"] for error in body["errors"]] == ["limit"]
    assert api_client(admin).get("/api/v1/members", limit=200).status_code == 200


# --- Rate limit --------------------------------------------------------------------------------

@pytest.fixture
def rate_limit_of_three():
    # The limit counts in one-minute windows: do not straddle two of them.
    if time.time() % 60 > 55:
        time.sleep(60 - time.time() % 60 + 0.1)
    cache.clear()
    with override_settings(API_RATE_LIMIT_PER_MINUTE=3):
        yield
    cache.clear()


def test_fourth_request_in_a_minute_waits(client, admin, pm, rate_limit_of_three):
    headers = {"Authorization": f"Bearer {make_token(admin)}"}
    for _ in range(3):
        assert client.get("/api/v1/me", headers=headers).status_code == 200

    response = client.get("/api/v1/me", headers=headers)

    body = assert_error(response, 429, "rate_limited")
    retry_after = response["Retry-After"]
    assert retry_after.isdigit()
    assert 1 <= int(retry_after) <= 60
    assert retry_after in body["message"]
    # The limit is per token: someone else's token is not slowed down.
    other = {"Authorization": f"Bearer {make_token(pm)}"}
    assert client.get("/api/v1/me", headers=other).status_code == 200


def test_wrong_method_and_unknown_route_answer_in_the_error_format(client, db):
    response = client.delete("/api/v1/me")
    assert response.status_code == 405
    assert response["Allow"] == "GET"
    assert response.json()["code"] == "method_not_allowed"
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json() == {"status": 404, "code": "not_found",
                               "message": "No such API route: see /api/v1/docs.", "errors": []}
