"""Shared steps of the browser stories: the demo organisation, signing in through the form, and
a live server that answers one request at a time on SQLite's in-memory database."""

import contextlib
import threading
import time
import warnings

import pytest
from django.core.servers.basehttp import ThreadedWSGIServer
from django.test.testcases import LiveServerThread
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

from moulin.demo.organisation import DEMO_PASSWORD, demo_load

ADMIN_EMAIL = "admin@example.com"
IDLE_TIMEOUT_S = 15


class OneRequestAtATimeServer(ThreadedWSGIServer):
    """Django's threaded live server, with its requests handled one after the other when they
    share the test's connection (SQLite in memory: every request thread uses that one connection).

    With ATOMIC_REQUESTS, two requests at once on one connection nest their transactions: a
    webhook posted while the page still loads a panel joins the panel's transaction, and its
    on-commit work (the task that imports the ticket, the invitation email) runs with the other
    request or is dropped with it. Real deployments have a connection per thread; PostgreSQL
    runs keep the threaded server as it is. Connections stay open between requests (keep-alive):
    only the application call, body included, holds the lock.
    """

    lock = threading.Lock()
    idle = threading.Condition()
    in_flight = 0

    def set_app(self, application):
        if not self.connections_override:
            super().set_app(application)
            return
        cls = type(self)

        def one_at_a_time(environ, start_response):
            with cls.idle:
                cls.in_flight += 1
            try:
                with cls.lock:
                    response = application(environ, start_response)
                    try:
                        return list(response)  # streamed bodies read the database too
                    finally:
                        if hasattr(response, "close"):
                            response.close()  # request_finished, inside the lock
            finally:
                with cls.idle:
                    cls.in_flight -= 1
                    cls.idle.notify_all()

        super().set_app(one_at_a_time)

    @classmethod
    def wait_until_idle(cls, timeout: float = IDLE_TIMEOUT_S, quiet: float = 0.1) -> bool:
        """Wait until no request has run for ``quiet`` seconds (a request whose headers were
        still being read when the page was left is counted once it reaches the application)."""
        deadline = time.monotonic() + timeout
        with cls.idle:
            while time.monotonic() < deadline:
                if not cls.idle.wait_for(lambda: cls.in_flight == 0,
                                         timeout=max(deadline - time.monotonic(), 0)):
                    return False
                if not cls.idle.wait(timeout=quiet) and cls.in_flight == 0:
                    return True  # nothing started or ended during the quiet period
        return False


LiveServerThread.server_class = OneRequestAtATimeServer


@pytest.fixture(autouse=True)
def _server_idle_before_flush(transactional_db, live_server):
    """Torn down after the test's page is closed and before the database is flushed: waits for
    the requests the server had already received. One still running holds the in-memory
    database's lock and the flush fails ("table is locked")."""
    yield
    if not OneRequestAtATimeServer.wait_until_idle():
        warnings.warn(f"The live server was still answering after {IDLE_TIMEOUT_S} s; the "
                      "database flush may fail.", stacklevel=1)


@pytest.fixture
def demo(transactional_db):
    """The Liquidia demo organisation, committed so the live server sees it (with a smaller
    feedback hub than `make run` loads, to keep the suite fast; screenshots use the full one)."""
    organisation, _created = demo_load(customers=40, feedback=200)
    return organisation


@pytest.fixture
def sign_in(live_server, page: Page):
    """Sign in through the real form: sign_in(email, password) leaves the page on home."""

    def submit(email: str = ADMIN_EMAIL, password: str = DEMO_PASSWORD) -> Page:
        page.goto(f"{live_server.url}/sign-in/")
        page.locator("#id_username").fill(email)
        page.locator("#id_password").fill(password)
        page.locator("form.form button[type=submit]").click()
        expect(page).to_have_url(f"{live_server.url}/")
        return page

    yield submit
    # Before the database is flushed: let the page's last requests (panels loaded after the
    # page, such as similar feedback or features) finish, then leave it; the autouse fixture
    # above then waits for what the server had already received.
    with contextlib.suppress(PlaywrightError):
        page.wait_for_load_state("networkidle", timeout=3000)
    with contextlib.suppress(PlaywrightError):
        page.goto("about:blank")
