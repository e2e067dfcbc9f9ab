"""What a person changes about themselves: language; password events for the audit log.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext as _

from moulin.accounts.audit import Origin, audit_record
from moulin.accounts.models import (
    Member,
    User,
)
from moulin.core.errors import DomainError


def user_password_event(*, email: str, action: str, origin: Origin) -> None:
    """Audit a password reset request or change for the account behind ``email`` (if any).

    Nothing is visible to the visitor either way, so this reveals no account."""
    member = (Member.objects.select_related("organisation")
              .filter(user__email__iexact=email.strip()).first())
    if member is not None:
        audit_record(organisation=member.organisation, actor=member, action=action,
                     origin=origin, target=member)


def user_set_language(*, user: User, language: str) -> None:
    """Remember the interface language a person chose."""
    if language not in dict(settings.LANGUAGES):
        raise DomainError(_("Unknown language."), field="language")
    user.language = language
    user.save(update_fields=["language"])
