from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FeedbackConfig(AppConfig):
    name = "moulin.feedback"
    label = "feedback"
    verbose_name = _("Feedback")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        post_migrate.connect(_restore_sqlite_triggers, sender=self,
                             dispatch_uid="moulin_feedback_sqlite_triggers")
        from moulin.accounts.audit import register_actions
        from moulin.core.navigation import NavEntry, register
        from moulin.core.policy import Action

        register_actions(
            {"contact.erased": _("Contact erased (GDPR)"),
             "export.feedback": _("Feedback exported"),
             "export.customers": _("Customers exported"),
             "import.started": _("Import started"),
             "integration.created": _("Integration created"),
             "integration.updated": _("Integration changed"),
             "feedback.merged": _("Feedback merged")},
            {"contact": _("Contacts"), "import": _("Imports"),
             "integration": _("Integrations"), "feedback": _("Feedback")},
        )

        register(NavEntry("feedback:inbox", _("Feedback inbox"), "feedback", "inbox", order=10))
        register(NavEntry("feedback:submit", _("Submit feedback"), "feedback", "message-plus",
                          order=5, action=Action.CREATE))
        register(NavEntry("feedback:import_list", _("Imports"), "feedback", "upload",
                          order=15, action=Action.CREATE))


def _restore_sqlite_triggers(sender, using="default", **kwargs) -> None:
    """SQLite drops a table's triggers when a migration rebuilds it: put them back."""
    from django.db import connections

    from moulin.feedback.database_triggers import ensure_sqlite_triggers

    ensure_sqlite_triggers(connections[using])
