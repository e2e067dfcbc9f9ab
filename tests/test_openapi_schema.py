"""The published OpenAPI schema tells the truth: valid, complete, and a fuzzer finds every
answer of every operation documented in it."""

import json

import pytest
import schemathesis
from django.core.cache import cache
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from ninja.responses import NinjaJSONEncoder
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from moulin.config.api import api
from moulin.config.wsgi import application
from moulin.core.api import ERROR_RESPONSES
from moulin.core.policy import Role
from tests.builders import make_member, make_organisation, make_squad, make_token

SCHEMA_URL = "/api/v1/openapi.json"
HTTP_METHODS = {"get", "put", "post", "patch", "delete", "head", "options", "trace"}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]

# The document the fuzzer reads. `schemathesis.openapi.from_wsgi(SCHEMA_URL, application)`
# cannot run at import time: the request opens a transaction (ATOMIC_REQUESTS) before
# pytest-django allows the database, and `schemathesis.pytest.from_fixture` fails on pytest 9.2.
# So it is built, as JSON, by the object that serves SCHEMA_URL, and the first test below proves
# the served document is this one; requests still go through the whole WSGI application.
DOCUMENT = json.loads(json.dumps(api.get_openapi_schema(), cls=NinjaJSONEncoder))
schema = schemathesis.openapi.from_dict(DOCUMENT)
schema.app = application


def operations(document: dict):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield f"{method.upper()} {path}", operation


@pytest.fixture
def published(client, db) -> dict:
    response = client.get(SCHEMA_URL)
    assert response.status_code == 200
    return response.json()


def test_served_document_is_the_one_the_fuzzer_reads(published):
    assert published == DOCUMENT


def test_document_is_valid_openapi_3(published):
    assert published["openapi"].startswith("3.")
    schemathesis.openapi.from_dict(published).validate()  # raises on an invalid document
    assert len(list(operations(published))) >= 10


def test_every_operation_needs_the_bearer_token_and_documents_every_error(published):
    document = published
    schemes = document["components"]["securitySchemes"]
    bearer = [name for name, scheme in schemes.items()
              if scheme == {"type": "http", "scheme": "bearer"}]
    assert bearer, schemes
    error_out = document["components"]["schemas"]["ErrorOut"]
    assert set(error_out["required"]) == {"status", "code", "message"}
    assert set(error_out["properties"]) == {"status", "code", "message", "errors"}

    for label, operation in operations(document):
        assert operation.get("security") == [{bearer[0]: []}], label
        for status in ERROR_RESPONSES:
            content = operation["responses"].get(str(status), {}).get("content", {})
            assert content.get("application/json", {}).get("schema") == {
                "$ref": "#/components/schemas/ErrorOut"}, f"{label} does not document {status}"


# --- Fuzzing -------------------------------------------------------------------------------

@schema.hook("before_generate_path_parameters")
def sometimes_an_existing_id(context, strategy):
    # Random ids almost never exist; mix in the small ids the fixture's rows have (sequences
    # are reset), so the success answers of GET and PATCH /members/{member_id} are fuzzed too.
    names = [parameter.name for parameter in context.operation.path_parameters]
    return strategy | st.fixed_dictionaries({name: st.integers(1, 5) for name in names})


@pytest.fixture
def admin_secret(transactional_db, settings):
    """An organisation with data to find, and its administrator's write token."""
    # The fuzzer sends a few hundred requests a minute; the rate limit has its own tests.
    settings.API_RATE_LIMIT_PER_MINUTE = 100_000
    cache.clear()
    organisation = make_organisation("Fuzzed Ltd")
    admin = make_member(organisation, role=Role.ADMIN, email="admin@fuzzed.test")
    make_member(organisation, role=Role.VIEWER, department_key="sales")
    make_member(organisation, role=Role.PRODUCT_MANAGER)
    make_squad(organisation, "Payments")
    return make_token(admin)


@pytest.mark.django_db(transaction=True, reset_sequences=True)
@schema.parametrize()
@hypothesis_settings(max_examples=25, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture,
                                            HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_every_operation_answers_as_documented(case, admin_secret):
    case.call_and_validate(headers={"Authorization": f"Bearer {admin_secret}"}, checks=CHECKS)
