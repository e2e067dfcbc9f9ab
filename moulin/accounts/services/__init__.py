"""The back-office services, one module per job; import them from here."""

from moulin.accounts.services.invitations import (
    invitation_accept,
    invitation_find,
    invitation_revoke,
    invitation_send,
)
from moulin.accounts.services.organisation import (
    DEFAULT_DEPARTMENTS,
    department_create,
    department_delete,
    department_update,
    member_create,
    member_set_active,
    member_update,
    organisation_create,
    organisation_update,
    squad_delete,
    squad_save,
)
from moulin.accounts.services.permissions import (
    permission_reset,
    permission_set,
)
from moulin.accounts.services.tokens import (
    TOKEN_TOUCH_INTERVAL,
    api_token_authenticate,
    api_token_create,
    api_token_revoke,
)
from moulin.accounts.services.users import (
    user_password_event,
    user_set_language,
)

__all__ = [
    "DEFAULT_DEPARTMENTS",
    "TOKEN_TOUCH_INTERVAL",
    "api_token_authenticate",
    "api_token_create",
    "api_token_revoke",
    "department_create",
    "department_delete",
    "department_update",
    "invitation_accept",
    "invitation_find",
    "invitation_revoke",
    "invitation_send",
    "member_create",
    "member_set_active",
    "member_update",
    "organisation_create",
    "organisation_update",
    "permission_reset",
    "permission_set",
    "squad_delete",
    "squad_save",
    "user_password_event",
    "user_set_language",
]
