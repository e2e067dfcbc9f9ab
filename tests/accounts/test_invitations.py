"""Inviting a colleague by email, and the colleague joining from the link."""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.utils import timezone

from moulin.accounts import services
from moulin.accounts.audit import CLI
from moulin.accounts.models import AuditEntry, Invitation, Member
from moulin.core.policy import Level, Role
from tests.builders import department, make_squad

JOIN_PASSWORD = "windmill-sails-turning-77"


@pytest.fixture(autouse=True)
def english_visitor(client):
    """Anonymous pages follow the browser's choice; these stories read them in English."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


def invite(client, organisation, *, email="newcomer@acme.test", role=Role.CONTRIBUTOR,
           department_key="customer_success", squads=(), capture=None):
    data = {"email": email, "full_name": "Nina Newcomer", "role": role,
            "department": department(organisation, department_key).pk,
            "squads": [squad.pk for squad in squads]}
    if capture is None:
        return client.post("/invitations/", data)
    with capture(execute=True):
        return client.post("/invitations/", data)


def link_in(message) -> str:
    match = re.search(r"http://testserver(/invitation/[^/\s]+/)", message.body)
    assert match, message.body
    return match.group(1)


def accept(client, link, *, password=JOIN_PASSWORD, again=None, full_name="Nina Newcomer"):
    return client.post(link, {"full_name": full_name, "password1": password,
                              "password2": again if again is not None else password})


def test_admin_invites_and_the_email_link_opens_the_join_page(
        client_for, admin, organisation, django_capture_on_commit_callbacks):
    client = client_for(admin)

    response = invite(client, organisation, capture=django_capture_on_commit_callbacks)

    assert response.status_code == 302
    assert response.url == "/invitations/"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["newcomer@acme.test"]
    assert message.subject == "Alice Admin invites you to Acme Treasury on Moulin"
    client.post("/sign-out/")
    page = client.get(link_in(message))
    assert page.status_code == 200
    assert "Join Acme Treasury" in page.content.decode()
    assert "newcomer@acme.test" in page.content.decode()
    entry = AuditEntry.objects.get(action="invitation.sent")
    assert entry.actor == admin
    assert entry.target_label == "newcomer@acme.test"
    assert entry.changes == {"role": Role.CONTRIBUTOR, "department": "Customer Success"}


def test_invitation_email_waits_for_the_transaction_to_commit(client_for, admin, organisation):
    invite(client_for(admin), organisation)

    # Without the commit (the test transaction never commits), no mail leaves.
    assert mail.outbox == []
    assert Invitation.objects.get().status == "pending"


def test_pending_invitation_is_listed_for_the_admin(client_for, admin, organisation):
    client = client_for(admin)
    invite(client, organisation)

    page = client.get("/invitations/").content.decode()

    assert "newcomer@acme.test" in page
    assert "pending" in page


def send_invitation(admin, organisation, **kwargs) -> Invitation:
    defaults = {"email": "newcomer@acme.test", "full_name": "Nina Newcomer",
                "role": Role.CONTRIBUTOR,
                "department": department(organisation, "customer_success"), "squads": []}
    defaults.update(kwargs)
    return services.invitation_send(actor=admin, origin=CLI, base_url="http://testserver/",
                                    **defaults)


def test_mismatched_passwords_are_refused_with_a_field_error(client, admin, organisation):
    invitation = send_invitation(admin, organisation)

    response = accept(client, f"/invitation/{invitation.raw_token}/",
                      again="something-else-entirely")

    assert response.status_code == 422
    assert "The two passwords differ" in response.content.decode()
    assert list(response.context["form"].errors) == ["password2"]
    assert not Member.objects.filter(user__email="newcomer@acme.test").exists()


def test_weak_password_is_refused_with_a_field_error(client, admin, organisation):
    invitation = send_invitation(admin, organisation)

    response = accept(client, f"/invitation/{invitation.raw_token}/", password="12345678")

    assert response.status_code == 422
    assert list(response.context["form"].errors) == ["password1"]
    assert "too common" in response.content.decode()
    assert Invitation.objects.get().status == "pending"


def test_password_resembling_the_address_is_refused(client, admin, organisation):
    invitation = send_invitation(admin, organisation)

    response = accept(client, f"/invitation/{invitation.raw_token}/",
                      password="newcomer@acme.test")

    assert response.status_code == 422
    assert "password1" in response.context["form"].errors


def test_accepting_creates_the_promised_member_and_signs_them_in(client, admin, organisation):
    squad = make_squad(organisation, "Onboarding")
    invitation = send_invitation(admin, organisation, role=Role.PRODUCT_MANAGER,
                                 department=department(organisation, "product"),
                                 squads=[squad])
    link = f"/invitation/{invitation.raw_token}/"

    response = accept(client, link, full_name="  Nina Newcomer  ")

    assert response.status_code == 302
    assert response.url == "/"
    member = Member.objects.select_related("user", "department").get(
        user__email="newcomer@acme.test")
    assert member.organisation == organisation
    assert member.role == Role.PRODUCT_MANAGER
    assert member.department.key == "product"
    assert list(member.squads.all()) == [squad]
    assert member.user.full_name == "Nina Newcomer"
    assert member.user.check_password(JOIN_PASSWORD)
    assert client.session[SESSION_KEY] == str(member.user.pk)
    home = client.get("/")
    assert "Welcome to Acme Treasury!" in home.content.decode()
    assert "Hello Nina" in home.content.decode()
    invitation.refresh_from_db()
    assert invitation.status == "accepted"
    joined = AuditEntry.objects.get(action="member.joined")
    assert joined.actor == member

    client.post("/sign-out/")
    used = client.get(link)
    assert used.status_code == 410
    assert "This invitation cannot be used" in used.content.decode()


def test_used_link_cannot_create_a_second_account(client, admin, organisation):
    invitation = send_invitation(admin, organisation)
    link = f"/invitation/{invitation.raw_token}/"
    accept(client, link)
    client.post("/sign-out/")

    response = accept(client, link, full_name="Someone Else")

    assert response.status_code == 410
    assert Member.objects.filter(user__email="newcomer@acme.test").count() == 1


def test_revoked_invitation_link_is_gone(client_for, admin, organisation, client):
    invitation = send_invitation(admin, organisation)
    admin_client = client_for(admin)
    revoked = admin_client.post(f"/invitations/{invitation.pk}/revoke/")
    assert revoked.status_code == 302
    admin_client.post("/sign-out/")

    response = client.get(f"/invitation/{invitation.raw_token}/")

    assert response.status_code == 410
    assert "It has expired, was revoked or was already accepted" in response.content.decode()
    assert AuditEntry.objects.filter(action="invitation.revoked").count() == 1


def test_expired_invitation_link_is_gone(client, admin, organisation):
    invitation = send_invitation(admin, organisation)
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1))

    assert client.get(f"/invitation/{invitation.raw_token}/").status_code == 410
    assert accept(client, f"/invitation/{invitation.raw_token}/").status_code == 410
    assert not Member.objects.filter(user__email="newcomer@acme.test").exists()


def test_unknown_invitation_link_is_not_found(client, admin):
    response = client.get("/invitation/not-a-real-token/")

    assert response.status_code == 404
    assert "The link is incomplete or unknown" in response.content.decode()


def test_inviting_someone_who_already_has_an_account_is_a_field_error(
        client_for, admin, organisation, pm):
    response = invite(client_for(admin), organisation, email="PM@acme.test")

    assert response.status_code == 422
    assert "pm@acme.test already has an account." in response.context["form"].errors["email"]
    assert not Invitation.objects.exists()


def test_product_ops_lead_cannot_invite_an_administrator(client_for, admin, organisation,
                                                         product_ops):
    # Give Product Ops leads of the Product department the right to invite people.
    for subject_type, subject in (("role", Role.PRODUCT_OPS),
                                  ("department", str(product_ops.department_id))):
        services.permission_set(actor=admin, origin=CLI, subject_type=subject_type,
                                subject=subject, module="organisation",
                                level=Level.CONTRIBUTE)
    client = client_for(product_ops)

    refused = invite(client, organisation, role=Role.ADMIN)
    allowed = invite(client, organisation, email="helper@acme.test", role=Role.CONTRIBUTOR)

    assert refused.status_code == 422
    assert refused.context["form"].errors["role"] == [
        "Only an administrator can invite another administrator."]
    assert allowed.status_code == 302
    assert list(Invitation.objects.values_list("email", flat=True)) == ["helper@acme.test"]


def test_product_ops_lead_without_the_right_cannot_open_invitations(client_for, product_ops):
    assert client_for(product_ops).get("/invitations/").status_code == 403


def test_inviting_the_same_address_again_replaces_the_pending_invitation(
        client_for, admin, organisation, client, django_capture_on_commit_callbacks):
    admin_client = client_for(admin)
    invite(admin_client, organisation, capture=django_capture_on_commit_callbacks)
    invite(admin_client, organisation, email="Newcomer@Acme.test", role=Role.VIEWER,
           capture=django_capture_on_commit_callbacks)
    admin_client.post("/sign-out/")
    first_link, second_link = (link_in(message) for message in mail.outbox)

    assert client.get(first_link).status_code == 410
    assert client.get(second_link).status_code == 200
    statuses = {invitation.role: invitation.status for invitation in Invitation.objects.all()}
    assert statuses == {Role.CONTRIBUTOR: "revoked", Role.VIEWER: "pending"}
    accept(client, second_link)
    assert Member.objects.get(user__email="newcomer@acme.test").role == Role.VIEWER
