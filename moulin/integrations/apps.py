from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    name = "moulin.integrations"
    label = "integrations"
    verbose_name = _("Integrations")

    def ready(self) -> None:
        from moulin.core.navigation import NavEntry, register
        from moulin.core.policy import Action
        from moulin.feedback.hooks import register_personal_data_erased
        from moulin.integrations import privacy

        # GDPR erasure: the deliveries keep the vendors' requests, which name the person.
        register_personal_data_erased(privacy.deliveries_scrub_personal_data)
        register(NavEntry("integrations:integration_list", _("Integrations"), "organisation",
                          "settings", section="admin", order=40, action=Action.CHANGE))
