"""Personal API tokens: created in the UI or on the command line, shown once, scoped, revocable."""

import base64
import hashlib
import io
import re
from datetime import timedelta

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.utils import timezone

from moulin.accounts import services
from moulin.accounts.audit import CLI
from moulin.accounts.models import ApiToken, AuditEntry, Department
from tests.builders import make_token

SECRET = re.compile(r"mln_[A-Za-z0-9_-]{20,}")


def bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


def assert_unauthenticated(response) -> None:
    assert response.status_code == 401
    assert response.json() == {
        "status": 401, "code": "unauthenticated",
        "message": "Send a valid API token: Authorization: Bearer <token>.", "errors": [],
    }
    assert response["WWW-Authenticate"].startswith("Bearer")


def create_in_ui(client, member, **fields):
    client.force_login(member.user)
    data = {"name": "Salesforce sync", "scope": "write", "expires_in_days": "", **fields}
    response = client.post("/me/tokens/", data)
    assert response.status_code == 200, response.content[:500]
    secrets_shown = SECRET.findall(response.content.decode())
    assert len(set(secrets_shown)) == 1, "the page shows exactly one new secret"
    return secrets_shown[0]


def database_rows_containing(text: str) -> list[str]:
    """Every row, in every table Django knows, whose values contain ``text``."""
    found = []
    for model in apps.get_models():
        for row in model._base_manager.values():
            if text in repr(row):
                found.append(f"{model._meta.label}: {row}")
    return found


# --- Creation ----------------------------------------------------------------------------------

def test_token_created_in_the_ui_is_shown_once_and_only_its_hash_is_stored(client, pm):
    secret = create_in_ui(client, pm)

    token = ApiToken.objects.get(member=pm)
    assert token.name == "Salesforce sync"
    assert token.scope == ApiToken.WRITE
    assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert database_rows_containing(secret) == []
    # Coming back to the page lists the token by its prefix, never the secret again.
    page = client.get("/me/tokens/").content.decode()
    assert secret not in page
    assert token.token_prefix in page
    # And the secret works against the API.
    assert client.get("/api/v1/me", headers=bearer(secret)).json()["email"] == "pm@acme.test"


def test_ui_refuses_a_token_without_a_name(client, pm):
    client.force_login(pm.user)
    response = client.post("/me/tokens/", {"name": "", "scope": "read"})
    assert response.status_code == 422
    assert not SECRET.search(response.content.decode())
    assert not ApiToken.objects.filter(member=pm).exists()


def test_command_prints_only_a_working_token(client, pm):
    out = io.StringIO()
    call_command("create_api_token", "--email", "PM@acme.test", stdout=out)

    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    secret = lines[0]
    assert secret.startswith("mln_")
    response = client.get("/api/v1/me", headers=bearer(secret))
    assert response.status_code == 200
    assert response.json()["email"] == "pm@acme.test"
    assert response.json()["token_scope"] == "write"
    assert AuditEntry.objects.filter(action="token.created", actor=pm, via="cli").exists()


def test_command_with_an_unknown_email_says_so(pm):
    with pytest.raises(CommandError, match=r"No member signs in with 'nobody@acme\.test'"):
        call_command("create_api_token", "--email", "nobody@acme.test", stdout=io.StringIO())
    assert not ApiToken.objects.exists()


# --- Scope -------------------------------------------------------------------------------------

def test_read_token_can_read_but_not_write(api_client, admin, pm):
    reader = api_client(admin, scope="read")

    me = reader.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["token_scope"] == "read"
    assert reader.get("/api/v1/members").status_code == 200

    for response in (reader.post("/api/v1/departments", {"name": "Legal"}),
                     reader.patch(f"/api/v1/members/{pm.pk}", {"role": "viewer"})):
        assert response.status_code == 403
        body = response.json()
        assert body["code"] == "read_only_token"
        assert "read-only" in body["message"]
    # Even an administrator's read token changed nothing.
    assert not Department.objects.filter(name="Legal").exists()
    pm.refresh_from_db()
    assert pm.role == "product_manager"


# --- Tokens that no longer work ----------------------------------------------------------------

def test_revoked_token_is_refused_and_revocation_is_audited(client, pm):
    secret = create_in_ui(client, pm)
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200
    token = ApiToken.objects.get(member=pm)

    response = client.post(f"/me/tokens/{token.pk}/revoke/")
    assert response.status_code == 302

    assert_unauthenticated(client.get("/api/v1/me", headers=bearer(secret)))
    entry = AuditEntry.objects.get(action="token.revoked")
    assert entry.actor == pm
    assert entry.target_id == str(token.pk)
    assert token.token_prefix in entry.target_label


def test_token_creation_is_audited_without_the_secret(client, pm):
    secret = create_in_ui(client, pm, scope="read")
    token = ApiToken.objects.get(member=pm)

    entry = AuditEntry.objects.get(action="token.created")
    assert entry.actor == pm
    assert entry.organisation_id == pm.organisation_id
    assert entry.via == "web"
    assert entry.target_id == str(token.pk)
    assert entry.changes == {"scope": "read"}
    assert secret not in entry.target_label


def test_expired_token_is_refused(client, pm):
    token, secret = services.api_token_create(actor=pm, origin=CLI, name="short",
                                              scope="read", expires_in_days=1)
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200

    ApiToken.objects.filter(pk=token.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1))

    assert_unauthenticated(client.get("/api/v1/me", headers=bearer(secret)))


def test_deactivated_members_token_is_refused(client, admin, pm):
    secret = make_token(pm)
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200

    services.member_set_active(actor=admin, origin=CLI, member=pm, active=False)

    assert_unauthenticated(client.get("/api/v1/me", headers=bearer(secret)))


def test_using_a_token_records_when(client, pm):
    secret = make_token(pm)
    token = ApiToken.objects.get(member=pm)
    assert token.last_used_at is None

    before = timezone.now()
    client.get("/api/v1/me", headers=bearer(secret))

    token.refresh_from_db()
    assert token.last_used_at is not None
    assert before <= token.last_used_at <= timezone.now()


@pytest.mark.parametrize("headers", [
    pytest.param({"Authorization": "Bearer garbage"}, id="garbage"),
    pytest.param({"Authorization": "Bearer mln_" + "x" * 43}, id="unknown-token"),
    pytest.param({}, id="missing"),
    pytest.param({"Authorization": "Basic " + base64.b64encode(
        b"pm@acme.test:correct-horse-battery-staple").decode()}, id="basic"),
])
def test_request_without_a_valid_bearer_token_is_refused(client, pm, headers):
    make_token(pm)
    assert_unauthenticated(client.get("/api/v1/me", headers=headers))
