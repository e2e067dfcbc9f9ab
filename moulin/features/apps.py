from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FeaturesConfig(AppConfig):
    name = "moulin.features"
    label = "features"
    verbose_name = _("Features")

    def ready(self) -> None:
        # Navigation entries and audit actions are registered here (see moulin/feedback/apps.py).
        pass
