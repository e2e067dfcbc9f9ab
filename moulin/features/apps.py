from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FeaturesConfig(AppConfig):
    name = "moulin.features"
    label = "features"
    verbose_name = _("Features")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        post_migrate.connect(_restore_sqlite_triggers, sender=self,
                             dispatch_uid="moulin_features_sqlite_triggers")
        from moulin.accounts.audit import register_actions

        register_actions(
            {"feature.deleted": _("Feature deleted"),
             "framework.standard_changed": _("Standard scoring framework changed"),
             "framework.changed": _("Standard scoring formula changed"),
             "framework.deleted": _("Scoring framework deleted"),
             "currency.rate_set": _("Currency rate set"),
             "currency.rate_deleted": _("Currency rate removed"),
             "export.features": _("Prioritised features exported")},
            {"feature": _("Features"), "framework": _("Scoring frameworks"),
             "currency": _("Currency rates")},
        )
        # Navigation entries of the pages (views/tree.py, views/board.py).
        from moulin.core.navigation import NavEntry, register

        register(NavEntry("features:feature_list", _("Features"), "features", "map", order=30))
        register(NavEntry("features:board", _("Prioritisation"), "features", "chart",
                          order=31))


def _restore_sqlite_triggers(sender, using="default", **kwargs) -> None:
    """SQLite drops a table's triggers when a migration rebuilds it: put them back."""
    from django.db import connections

    from moulin.features.database_triggers import ensure_sqlite_triggers

    ensure_sqlite_triggers(connections[using])
