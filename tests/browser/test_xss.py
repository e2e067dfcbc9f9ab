"""Names and labels typed by people are shown as text, never run as markup, on every page that
shows them."""

import pytest
from playwright.sync_api import Page, expect

from moulin.accounts import services
from moulin.accounts.audit import CLI, audit_record
from moulin.accounts.models import Department, Member
from moulin.core.policy import Role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAYLOAD = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">'
PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def hostile_data(demo):
    """A squad, a department, a member and an audit entry whose texts are the payload."""
    admin = Member.objects.get(organisation=demo, user__email="admin@example.com")
    department = services.department_create(actor=admin, origin=CLI, name=PAYLOAD,
                                            description=PAYLOAD)
    # An administrator whose name is the payload: it also shows in the header and the greeting.
    hostile = services.member_create(
        organisation=demo, email="hostile@example.com", full_name=PAYLOAD, role=Role.ADMIN,
        department=department, password=PASSWORD, job_title=PAYLOAD)
    squad = services.squad_save(actor=admin, origin=CLI, squad=None, name=PAYLOAD,
                                mission=PAYLOAD, lead=hostile)
    hostile.squads.add(squad)
    audit_record(organisation=demo, actor=hostile, action="squad.updated", origin=CLI,
                 target=squad, target_label=PAYLOAD, changes={"name": PAYLOAD})
    assert Department.objects.filter(organisation=demo, name=PAYLOAD).exists()
    return hostile


PAGES = ["/", "/squads/", "/departments/", "/members/", "/audit/"]


def test_payload_is_shown_as_text_and_never_runs(hostile_data, sign_in, live_server):
    page: Page = sign_in("hostile@example.com", PASSWORD)
    for path in PAGES:
        page.goto(live_server.url + path)  # "load" waits for images: onerror would have run
        assert page.evaluate("window.__xss") is None, f"the payload ran on {path}"
        main = page.locator("main#content")
        shown = main.get_by_text(PAYLOAD).filter(visible=True).first
        expect(shown, f"payload text on {path}").to_be_visible()
        assert main.locator("img, script").count() == 0, f"payload markup on {path}"
    # The header shows the signed-in person's name: text there too.
    expect(page.locator("header.topbar").get_by_text(PAYLOAD)).to_be_visible()
