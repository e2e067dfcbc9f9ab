"""Signing in and out, resetting and changing a password: the doors into Moulin."""

import re

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.core import mail

from moulin.accounts import services
from moulin.accounts.audit import CLI
from moulin.accounts.models import AuditEntry
from tests.builders import PASSWORD

SIGN_IN = "/sign-in/"
NEW_PASSWORD = "a-brand-new-mill-wheel-42"
BROWSER = {"REMOTE_ADDR": "203.0.113.7", "HTTP_USER_AGENT": "Firefox/130 (tests)"}


@pytest.fixture(autouse=True)
def english_visitor(client):
    """Anonymous pages follow the browser's choice; these stories read them in English."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


def signed_in_user_id(client):
    return client.session.get(SESSION_KEY)


def sign_in(client, email, password, **extra):
    return client.post(SIGN_IN, {"username": email, "password": password}, **extra)


def test_member_signs_in_with_email_in_any_case_and_lands_on_home(client, admin):
    response = sign_in(client, "Admin@ACME.test", PASSWORD)

    assert response.status_code == 302
    assert response.url == "/"
    assert signed_in_user_id(client) == str(admin.user.pk)
    home = client.get("/")
    assert home.status_code == 200
    assert "Hello Alice" in home.content.decode()


def test_wrong_password_shows_a_message_and_is_audited_with_the_address(client, admin):
    response = sign_in(client, "admin@acme.test", "not-my-password", **BROWSER)

    assert response.status_code == 200
    assert signed_in_user_id(client) is None
    assert "That email address and password do not match" in response.content.decode()
    entry = AuditEntry.objects.get(action="auth.sign_in_failed")
    assert entry.organisation == admin.organisation
    assert entry.actor is None
    assert entry.actor_email == "admin@acme.test"
    assert entry.ip_address == "203.0.113.7"
    assert entry.target_id == str(admin.pk)


def test_failed_sign_in_for_unknown_address_leaves_no_trace(client, admin):
    sign_in(client, "nobody@acme.test", "whatever")

    assert not AuditEntry.objects.filter(action="auth.sign_in_failed").exists()


def test_sign_in_and_sign_out_are_audited_with_address_and_browser(client, admin):
    sign_in(client, "admin@acme.test", PASSWORD, **BROWSER)
    response = client.post("/sign-out/", **BROWSER)

    assert response.status_code == 302
    assert signed_in_user_id(client) is None
    signed_in = AuditEntry.objects.get(action="auth.sign_in")
    signed_out = AuditEntry.objects.get(action="auth.sign_out")
    for entry in (signed_in, signed_out):
        assert entry.actor == admin
        assert entry.ip_address == "203.0.113.7"
        assert entry.user_agent == "Firefox/130 (tests)"
        assert entry.via == "web"


def test_deactivated_member_cannot_sign_in(client, admin, sales_viewer):
    services.member_set_active(actor=admin, origin=CLI, member=sales_viewer, active=False)

    response = sign_in(client, "sales@acme.test", PASSWORD)

    assert response.status_code == 200
    assert signed_in_user_id(client) is None
    assert 'class="form-errors"' in response.content.decode()
    assert not AuditEntry.objects.filter(action="auth.sign_in").exists()


def test_anonymous_visitor_of_home_is_sent_to_sign_in_and_back(client, admin):
    response = client.get("/")

    assert response.status_code == 302
    assert response.url == "/sign-in/?next=%2F"
    after = client.post(response.url, {"username": "admin@acme.test", "password": PASSWORD,
                                        "next": "/members/"})
    assert after.url == "/members/"


def reset_link(message) -> str:
    match = re.search(r"http://testserver(/password-reset/[^/\s]+/[^/\s]+/)", message.body)
    assert match, message.body
    return match.group(1)


def test_password_reset_email_lets_the_member_choose_a_new_password(client, pm):
    response = client.post("/password-reset/", {"email": "PM@acme.test"})

    assert response.status_code == 302
    assert response.url == "/password-reset/sent/"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["pm@acme.test"]
    assert "Reset your Moulin password" in message.subject

    form_page = client.get(reset_link(message), follow=True)
    assert form_page.status_code == 200
    assert form_page.context["validlink"]
    saved = client.post(form_page.redirect_chain[-1][0],
                        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert saved.status_code == 302
    assert saved.url == "/password-reset/done/"

    assert sign_in(client, "pm@acme.test", PASSWORD).status_code == 200  # old one refused
    assert signed_in_user_id(client) is None
    assert sign_in(client, "pm@acme.test", NEW_PASSWORD).url == "/"
    assert signed_in_user_id(client) == str(pm.user.pk)
    actions = list(AuditEntry.objects.filter(actor=pm).values_list("action", flat=True))
    assert "auth.password_reset_requested" in actions
    assert "auth.password_changed" in actions


def test_password_reset_link_works_only_once(client, pm):
    client.post("/password-reset/", {"email": "pm@acme.test"})
    link = reset_link(mail.outbox[0])
    form_page = client.get(link, follow=True)
    client.post(form_page.redirect_chain[-1][0],
                {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    again = client.get(link, follow=True)

    assert again.context["validlink"] is False
    assert "This link no longer works" in again.content.decode()


def without_csrf_token(response) -> str:
    return re.sub(r'(X-CSRFToken": "|name="csrfmiddlewaretoken" value=")[^"]+', r"\1",
                  response.content.decode())


def test_password_reset_for_unknown_address_looks_the_same_and_sends_nothing(client, pm):
    known = client.post("/password-reset/", {"email": "pm@acme.test"}, follow=True)
    mail.outbox.clear()

    unknown = client.post("/password-reset/", {"email": "stranger@acme.test"}, follow=True)

    assert unknown.redirect_chain == known.redirect_chain
    assert "Check your inbox" in unknown.content.decode()
    assert without_csrf_token(unknown) == without_csrf_token(known)
    assert mail.outbox == []


def test_signed_in_member_changes_their_password(client_for, pm):
    client = client_for(pm)

    response = client.post("/me/password/", {"old_password": PASSWORD,
                                             "new_password1": NEW_PASSWORD,
                                             "new_password2": NEW_PASSWORD})

    assert response.status_code == 302
    assert response.url == "/me/password/done/"
    # Still signed in on this browser after the change.
    assert client.get("/me/password/done/").status_code == 200
    pm.user.refresh_from_db()
    assert pm.user.check_password(NEW_PASSWORD)
    assert AuditEntry.objects.filter(actor=pm, action="auth.password_changed").exists()


def test_password_change_needs_the_current_password(client_for, pm):
    client = client_for(pm)

    response = client.post("/me/password/", {"old_password": "guess",
                                             "new_password1": NEW_PASSWORD,
                                             "new_password2": NEW_PASSWORD})

    assert response.status_code == 200
    assert response.context["form"].errors["old_password"]
    pm.user.refresh_from_db()
    assert pm.user.check_password(PASSWORD)


def test_signed_in_member_visiting_sign_in_goes_home(client_for, admin):
    client = client_for(admin)

    assert client.get(SIGN_IN).url == "/"
