from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "moulin.core"
    label = "core"
