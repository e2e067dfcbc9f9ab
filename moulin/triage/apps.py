from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TriageConfig(AppConfig):
    name = "moulin.triage"
    label = "triage"
    verbose_name = _("Triage intelligence")

    def ready(self) -> None:
        from moulin.accounts.audit import register_actions
        from moulin.core.navigation import NavEntry, register
        from moulin.core.policy import Action
        from moulin.feedback.hooks import register_feedback_saved, register_personal_data_erased
        from moulin.triage import tasks
        from moulin.triage.services import emerging, taxonomy, training

        # Every item intake writes is analysed in the background (at once under tests).
        register_feedback_saved(tasks.feedback_saved)
        # GDPR erasure: the copies of verbatims kept here (theme examples, cluster keywords).
        register_personal_data_erased(taxonomy.themes_scrub_personal_data)
        register_personal_data_erased(emerging.clusters_scrub_personal_data)
        register_personal_data_erased(training.models_forget_personal_data)

        register_actions(
            {"theme.created": _("Theme created"),
             "theme.updated": _("Theme changed"),
             "theme.archived": _("Theme archived"),
             "theme.restored": _("Theme restored"),
             "theme.merged": _("Themes merged"),
             "triage.settings": _("Triage settings changed"),
             "triage.retrained": _("Triage model retraining requested"),
             "triage.model_activated": _("Triage model version activated (rollback)")},
            {"theme": _("Themes"), "triage": _("Triage intelligence")},
        )
        register(NavEntry("triage:taxonomy", _("Taxonomy"), "feedback", "map", order=20))
        # Duplicates, emerging themes, insights (services/duplicates.py, services/emerging.py).
        register_actions({"feedback.unmerged": _("Feedback merge undone"),
                          "triage.clustering_requested": _("Emerging themes search started"),
                          "triage.cluster_converted": _("Emerging theme turned into a theme"),
                          "triage.cluster_assigned": _("Emerging theme added to an existing theme"),
                          "triage.cluster_dismissed": _("Emerging theme dismissed")})
        register(NavEntry("triage:emerging", _("Emerging themes"), "feedback", "sparkles",
                          order=22))
        register(NavEntry("triage:insights", _("Insights"), "feedback", "trend", order=24))
        register(NavEntry("triage:model_versions", _("Triage models"), "feedback", "chart",
                          section="admin", order=60, action=Action.CHANGE))
