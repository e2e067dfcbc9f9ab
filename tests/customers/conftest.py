"""Fixtures shared by the customers tests."""

import json

import pytest

URL = "/api/v1/customers"
BULK = "/api/v1/customers/bulk"


@pytest.fixture
def crm(client, api_client, admin):
    """The CRM connector, with an administrator's token; put() and post() return the answer."""
    api = api_client(admin)

    class Crm:
        def put(self, body):
            return client.put(URL, json.dumps(body), content_type="application/json",
                              headers=api.headers)

        def bulk(self, items):
            return api.post(BULK, {"items": items})

        def get(self, path=URL, **params):
            return api.get(path, **params)

    return Crm()
