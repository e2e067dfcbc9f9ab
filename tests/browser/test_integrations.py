"""An administrator connects Zendesk, pastes the URL, and sees the first ticket arrive as
feedback in the delivery log."""

import base64
import hashlib
import hmac
import json
import time
import urllib.request

import pytest
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SECRET = "zendesk-signing-secret"


def post_zendesk_ticket(url: str) -> int:
    body = json.dumps({"ticket": {"id": "9001", "subject": "Dark mode",
                                  "description": "<p>Our night shift wants a <b>dark mode</b>.</p>",
                                  "requester": {"email": "night@customer.example"}}}).encode()
    timestamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())  # older: a replay, refused
    signature = base64.b64encode(hmac.new(SECRET.encode(), timestamp.encode() + body,
                                          hashlib.sha256).digest()).decode()
    request = urllib.request.Request(url, data=body, method="POST", headers={  # noqa: S310
        "Content-Type": "application/json", "X-Zendesk-Webhook-Signature": signature,
        "X-Zendesk-Webhook-Signature-Timestamp": timestamp})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (live server)
        return response.status


def test_an_admin_connects_zendesk_and_watches_the_first_ticket_arrive(demo, sign_in,
                                                                       live_server):
    page: Page = sign_in()
    page.goto(f"{live_server.url}/integrations/new/?vendor=zendesk")
    expect(page.locator("input[name=vendor][value=zendesk]")).to_be_checked()
    page.locator("#id_name").fill("Support Zendesk")
    page.locator("#id_signing_secret").fill(SECRET)
    page.locator("form.form button[type=submit]").click()

    webhook_url = page.locator("#webhook-url")
    expect(webhook_url).to_contain_text(f"{live_server.url}/integrations/hooks/")
    expect(page.locator("#delivery-rows td.empty")).to_be_visible()

    assert post_zendesk_ticket(webhook_url.inner_text().strip()) == 200
    page.locator("button[hx-get]").click()  # refresh the log without reloading the page
    row = page.locator("#delivery-rows tr").first
    expect(row.locator(".badge.ok")).to_be_visible()
    feedback_link = row.locator("a[href^='/feedback/']")
    expect(feedback_link).to_be_visible()
