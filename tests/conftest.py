"""Personas built once for every test, and browser set-up (Debian's Chromium)."""

import os
import shutil

import pytest

from moulin.core.policy import Role
from tests.builders import make_member, make_organisation, make_token

# Playwright's sync API runs an event loop in the test thread; Django refuses ORM calls there
# (live_server's flush at teardown) unless this is set.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not shutil.which(CHROMIUM):
        pytest.fail(f"Browser tests need Debian's Chromium at {CHROMIUM}: "
                    "apt-get install chromium (never `playwright install`).")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture
def organisation(db):
    return make_organisation("Acme Treasury")


@pytest.fixture
def admin(organisation):
    return make_member(organisation, role=Role.ADMIN, department_key="product",
                       email="admin@acme.test", full_name="Alice Admin")


@pytest.fixture
def product_ops(organisation):
    return make_member(organisation, role=Role.PRODUCT_OPS, department_key="product",
                       email="ops@acme.test", full_name="Paul Ops")


@pytest.fixture
def pm(organisation):
    return make_member(organisation, role=Role.PRODUCT_MANAGER, department_key="product",
                       email="pm@acme.test", full_name="Pia Manager")


@pytest.fixture
def cs_contributor(organisation):
    return make_member(organisation, role=Role.CONTRIBUTOR, department_key="customer_success",
                       email="cs@acme.test", full_name="Carla Success")


@pytest.fixture
def sales_viewer(organisation):
    return make_member(organisation, role=Role.VIEWER, department_key="sales",
                       email="sales@acme.test", full_name="Sam Sales")


@pytest.fixture
def outsider(db):
    """An administrator of another organisation: must never see anything of ours."""
    other = make_organisation("Globex")
    return make_member(other, role=Role.ADMIN, department_key="product",
                       email="admin@globex.test", full_name="Olga Outsider")


@pytest.fixture
def client_for(client):
    """A test client signed in as the given member."""

    def sign_in(member):
        client.force_login(member.user)
        return client

    return sign_in


@pytest.fixture
def api_client(client):
    """Call the JSON API with a member's bearer token: api_client(member).get('/api/v1/me')."""

    class Api:
        def __init__(self, secret):
            self.headers = {"Authorization": f"Bearer {secret}"}

        def get(self, path, **params):
            return client.get(path, params, headers=self.headers)

        def post(self, path, data=None):
            return client.post(path, data, content_type="application/json",
                               headers=self.headers)

        def patch(self, path, data=None):
            return client.patch(path, data, content_type="application/json",
                                headers=self.headers)

        def delete(self, path):
            return client.delete(path, headers=self.headers)

    def make(member, scope="write"):
        return Api(make_token(member, scope))

    return make


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters live in the cache, keyed by token id; SQLite reuses ids after a
    rolled-back test, so every test starts with an empty cache."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
