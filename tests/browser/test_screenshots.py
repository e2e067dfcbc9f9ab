"""Full-page screenshots of the main screens with the demo data, for the README and docs.

They are rewritten on every run (a few hundred milliseconds each) so docs/img/ never goes stale.
"""

from pathlib import Path

import ninja
import pytest
from playwright.sync_api import Browser, Page, expect

from moulin.accounts.models import User
from moulin.demo.organisation import DEMO_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

IMAGES = Path(__file__).resolve().parents[2] / "docs" / "img"
VIEWPORT = {"width": 1280, "height": 800}
# While "ninja" is not in INSTALLED_APPS, /api/v1/docs loads Swagger UI from jsDelivr, which CI
# machines may not reach; the browser is given the copy django-ninja ships instead.
SWAGGER_CDN = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/"
SWAGGER_LOCAL = Path(ninja.__file__).parent / "static" / "ninja"


def shoot(page: Page, name: str) -> None:
    page.screenshot(path=str(IMAGES / f"{name}.png"), full_page=True, animations="disabled",
                    caret="hide")


def test_screenshots_of_the_main_screens(demo, live_server, browser: Browser):
    IMAGES.mkdir(parents=True, exist_ok=True)
    # Screenshots in English, whatever the organisation's language.
    User.objects.filter(email="admin@example.com").update(language="en")
    context = browser.new_context(viewport=VIEWPORT, locale="en-GB")
    context.add_cookies([{"name": "django_language", "value": "en", "url": live_server.url}])
    page = context.new_page()
    try:
        page.goto(live_server.url + "/sign-in/")
        page.locator("#id_username").fill("admin@example.com")
        page.locator("#id_username").blur()
        shoot(page, "sign-in")
        page.locator("#id_password").fill(DEMO_PASSWORD)
        page.locator("form.form button[type=submit]").click()
        expect(page).to_have_url(live_server.url + "/")
        shoot(page, "home")

        for path, name in [("/members/", "members"), ("/permissions/", "permissions"),
                           ("/audit/", "audit-log")]:
            page.goto(live_server.url + path)
            shoot(page, name)

        page.goto(live_server.url + "/me/tokens/")
        page.locator("#id_name").fill("Zapier sync")
        page.locator("main form.form button[type=submit]").click()
        expect(page.locator("#new-token")).to_be_visible()
        shoot(page, "api-tokens")

        page.route(SWAGGER_CDN + "*", lambda route: route.fulfill(
            path=SWAGGER_LOCAL / route.request.url.removeprefix(SWAGGER_CDN)))
        page.route("https://django-ninja.dev/**", lambda route: route.abort())
        page.goto(live_server.url + "/api/v1/docs")
        page.locator(".swagger-ui .info .title").wait_for(timeout=5000)
        page.locator(".swagger-ui section.models h4").click()  # fold the long schema list
        expect(page.locator(".swagger-ui section.models.is-open")).to_have_count(0)
        page.evaluate("document.activeElement.blur()")
        page.mouse.move(0, 0)  # no focus ring or hover decoration in the picture
        page.wait_for_load_state("networkidle")
        shoot(page, "api-docs")
    finally:
        context.close()
