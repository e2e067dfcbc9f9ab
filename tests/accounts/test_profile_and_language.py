"""A member's own settings: interface language and name."""

from urllib.parse import urljoin, urlsplit

import pytest
from django.conf import settings

from moulin.accounts.models import User


def html_lang(response) -> str:
    body = response.content.decode()
    start = body.index("<html lang=\"") + len("<html lang=\"")
    return body[start:body.index('"', start)]


def saved_language(member) -> str:
    return User.objects.get(pk=member.user_id).language


def test_member_switches_to_french_and_the_next_page_is_french(client_for, pm):
    client = client_for(pm)
    assert html_lang(client.get("/members/")) == "en"  # the organisation's language

    response = client.post("/language/", {"language": "fr", "next": "/members/?q=pia"})

    assert response.status_code == 302
    assert response.url == "/members/?q=pia"
    page = client.get(response.url)
    assert page.wsgi_request.LANGUAGE_CODE == "fr"
    assert html_lang(page) == "fr"
    assert saved_language(pm) == "fr"


def test_saved_language_follows_the_member_to_a_new_browser(client_for, pm, client):
    client_for(pm).post("/language/", {"language": "fr", "next": "/"})
    client.cookies.clear()
    client.force_login(pm.user)

    assert html_lang(client.get("/")) == "fr"


def test_member_switches_back_to_english(client_for, pm):
    client = client_for(pm)
    client.post("/language/", {"language": "fr"})

    client.post("/language/", {"language": "en"})

    assert html_lang(client.get("/")) == "en"
    assert saved_language(pm) == "en"


def test_visitor_who_is_not_signed_in_gets_the_language_in_a_cookie(client, db):
    response = client.post("/language/", {"language": "en", "next": "/sign-in/"})

    assert response.url == "/sign-in/"
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    assert html_lang(client.get("/sign-in/")) == "en"
    client.post("/language/", {"language": "fr", "next": "/sign-in/"})
    assert html_lang(client.get("/sign-in/")) == "fr"


@pytest.mark.parametrize("target", [
    "//evil.example",
    "//evil.example/members/",
    "https://evil.example/",
    "javascript:alert(1)",
])
def test_language_switch_never_sends_you_to_another_site(client_for, pm, target):
    response = client_for(pm).post("/language/", {"language": "fr", "next": target})

    assert response.status_code == 302
    assert response.url == "/"
    assert saved_language(pm) == "fr"


def as_a_browser_reads(location: str) -> str:
    """The host a browser goes to: it drops tabs and newlines and reads \\ as / (WHATWG URL)."""
    cleaned = location.replace("\t", "").replace("\n", "").replace("\r", "")
    return urlsplit(urljoin("http://testserver/members/", cleaned.replace("\\", "/"))).netloc


@pytest.mark.parametrize("target", ["/\\evil.example", "\\\\evil.example",
                                    "/\t/evil.example", "/\n/evil.example"])
def test_disguised_addresses_of_another_site_stay_on_moulin(client_for, pm, target):
    response = client_for(pm).post("/language/", {"language": "fr", "next": target})

    assert response.status_code == 302
    assert as_a_browser_reads(response.url) == "testserver"


def test_unknown_language_is_explained_and_nothing_is_saved(client_for, pm):
    client = client_for(pm)

    response = client.post("/language/", {"language": "klingon", "next": "/me/"}, follow=True)

    assert response.redirect_chain == [("/me/", 302)]
    assert "Unknown language." in response.content.decode()
    assert saved_language(pm) == ""
    assert settings.LANGUAGE_COOKIE_NAME not in client.cookies
    assert html_lang(response) == "en"


def test_language_switch_only_accepts_post(client_for, pm):
    assert client_for(pm).get("/language/", {"language": "fr"}).status_code == 405
    assert saved_language(pm) == ""


def test_member_changes_their_name(client_for, pm):
    client = client_for(pm)

    response = client.post("/me/", {"full_name": "Pia Product-Manager", "language": ""},
                           follow=True)

    assert response.redirect_chain == [("/me/", 302)]
    body = response.content.decode()
    assert "Your profile is saved." in body
    assert "Pia Product-Manager" in body
    assert User.objects.get(pk=pm.user_id).full_name == "Pia Product-Manager"


def test_profile_language_choice_applies_on_the_next_page(client_for, pm):
    client = client_for(pm)

    client.post("/me/", {"full_name": "Pia Manager", "language": "fr"})

    assert html_lang(client.get("/me/")) == "fr"
    assert saved_language(pm) == "fr"


def test_empty_name_is_refused(client_for, pm):
    response = client_for(pm).post("/me/", {"full_name": "", "language": ""})

    assert response.status_code == 422
    assert "full_name" in response.context["form"].errors
    assert User.objects.get(pk=pm.user_id).full_name == "Pia Manager"


def test_profile_refuses_an_unknown_language(client_for, pm):
    response = client_for(pm).post("/me/", {"full_name": "Pia Manager", "language": "xx"})

    assert response.status_code == 422
    assert "language" in response.context["form"].errors
    assert saved_language(pm) == ""
