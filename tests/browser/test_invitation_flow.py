"""An administrator invites a colleague from the UI; the colleague follows the emailed link,
chooses a name and a password, and lands signed in on the home page."""

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from moulin.accounts.models import Department, Member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEW_EMAIL = "new.colleague@example.com"


def test_invited_colleague_joins_through_the_emailed_link(demo, sign_in, live_server,
                                                          browser: Browser, mailoutbox):
    customer_success = Department.objects.get(organisation=demo, key="customer_success")
    page: Page = sign_in()
    page.goto(live_server.url + "/members/")
    page.locator('main a[href="/invitations/"]').click()
    page.locator("#id_email").fill(NEW_EMAIL)
    page.locator("#id_full_name").fill("Nora Nouvelle")
    page.locator("#id_role").select_option("contributor")
    page.locator("#id_department").select_option(str(customer_success.pk))
    page.locator("main form.form button[type=submit]").click()
    expect(page).to_have_url(live_server.url + "/invitations/")
    expect(page.locator("main table")).to_contain_text(NEW_EMAIL)

    # Sent on commit: the live server's request has committed, so the email is out.
    assert len(mailoutbox) == 1
    email = mailoutbox[0]
    assert email.to == [NEW_EMAIL]
    link = re.search(r"https?://\S+/invitation/\S+/", email.body).group(0)
    assert link.startswith(live_server.url)

    # The colleague opens the link in their own browser, signed out.
    context = browser.new_context()
    try:
        guest = context.new_page()
        guest.goto(link)
        expect(guest.locator("main")).to_contain_text(NEW_EMAIL)
        expect(guest.locator("#id_full_name")).to_have_value("Nora Nouvelle")
        guest.locator("#id_full_name").fill("Nora Nouvelle-Arrivée")
        guest.locator("#id_password1").fill("a-long-and-unusual-passphrase")
        guest.locator("#id_password2").fill("a-long-and-unusual-passphrase")
        guest.locator("main form.form button[type=submit]").click()
        expect(guest).to_have_url(live_server.url + "/")
        expect(guest.locator("h1")).to_contain_text("Nora")
        expect(guest.locator("header.topbar")).to_contain_text("Nora Nouvelle-Arrivée")

        # The link works once only.
        guest.goto(link)
        expect(guest.locator("#id_password1")).to_have_count(0)
    finally:
        context.close()

    member = Member.objects.get(user__email=NEW_EMAIL)
    assert member.organisation_id == demo.pk
    assert member.department_id == customer_success.pk
    assert member.role == "contributor"
