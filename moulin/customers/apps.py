from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "moulin.customers"
    label = "customers"
    verbose_name = _("Customers")

    def ready(self) -> None:
        from moulin.core.navigation import NavEntry, register

        register(NavEntry("customers:customer_list", _("Customers"), "customers", "building",
                          order=30))
