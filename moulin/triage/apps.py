from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TriageConfig(AppConfig):
    name = "moulin.triage"
    label = "triage"
    verbose_name = _("Triage intelligence")

    def ready(self) -> None:
        # Navigation entries and audit actions are registered here (see moulin/feedback/apps.py).
        pass
