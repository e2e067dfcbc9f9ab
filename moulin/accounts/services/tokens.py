"""Personal API tokens: created (secret shown once), revoked, checked on each request.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from moulin.accounts.audit import Origin, audit_record
from moulin.accounts.models import (
    ApiToken,
    Member,
    hash_secret,
)
from moulin.core import parsing, policy
from moulin.core.errors import DomainError

# --- API tokens --------------------------------------------------------------------------------

def api_token_create(*, actor: Member, origin: Origin, name: str, scope: str,
                     expires_in_days: int | None = None) -> tuple[ApiToken, str]:
    """Create a personal token; returns the token row and the secret (shown once)."""
    name = parsing.clean_text(name)
    if not name:
        raise DomainError(_("Name the token after what will use it."), field="name")
    if scope not in (ApiToken.READ, ApiToken.WRITE):
        raise DomainError(_("The scope must be “read” or “write”."), field="scope")
    if expires_in_days is not None and not 1 <= expires_in_days <= 3650:
        raise DomainError(_("A token lasts between 1 and 3650 days."), field="expires_in_days")
    secret = ApiToken.new_secret()
    token = ApiToken.objects.create(
        organisation=actor.organisation, member=actor, name=name[:100], scope=scope,
        token_hash=hash_secret(secret), token_prefix=secret[:10],
        expires_at=timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    audit_record(organisation=actor.organisation, actor=actor, action="token.created",
                 origin=origin, target=token, target_label=f"{token.name} ({token.token_prefix}…)",
                 changes={"scope": scope})
    return token, secret


def api_token_revoke(*, actor: Member, origin: Origin, token: ApiToken) -> None:
    """Revoke a token: the next request that uses it is refused."""
    if token.member_id != actor.pk and actor.role != policy.Role.ADMIN:
        raise DomainError(_("You can only revoke your own tokens."))
    if token.revoked_at:
        return
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at", "updated_at"])
    audit_record(organisation=actor.organisation, actor=actor, action="token.revoked",
                 origin=origin, target=token, target_label=f"{token.name} ({token.token_prefix}…)")


# How often last_used_at is written: a busy integration must not write on every request.
TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)


def api_token_authenticate(secret: str) -> ApiToken | None:
    """The usable token behind a bearer secret (its member active), or None."""
    if not secret or not secret.startswith(ApiToken.PREFIX) or len(secret) > 200:
        return None
    token = (ApiToken.objects.select_related("member__user", "member__department",
                                              "member__organisation")
             .filter(token_hash=hash_secret(secret)).first())
    if token is None or not token.is_usable:
        return None
    if not token.member.is_active or not token.member.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > TOKEN_TOUCH_INTERVAL:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
