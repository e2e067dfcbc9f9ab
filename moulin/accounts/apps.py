from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "moulin.accounts"
    label = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from django.contrib.auth import signals

        from moulin.accounts import sign_in_audit
        from moulin.core.navigation import NavEntry, register

        # Django's authentication hooks call the audit service (no business flow in signals).
        signals.user_logged_in.connect(sign_in_audit.on_signed_in,
                                       dispatch_uid="moulin_audit_sign_in")
        signals.user_logged_out.connect(sign_in_audit.on_signed_out,
                                        dispatch_uid="moulin_audit_sign_out")
        signals.user_login_failed.connect(sign_in_audit.on_sign_in_failed,
                                          dispatch_uid="moulin_audit_sign_in_failed")

        register(NavEntry("accounts:member_list", _("Members"), "organisation", "users",
                          section="admin", order=10))
        register(NavEntry("accounts:squad_list", _("Squads"), "organisation", "squad",
                          section="admin", order=20))
        register(NavEntry("accounts:department_list", _("Departments"), "organisation",
                          "building", section="admin", order=30))
        register(NavEntry("accounts:audit_log", _("Audit log"), "audit", "log",
                          section="admin", order=60))
