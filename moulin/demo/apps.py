from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "moulin.demo"
    label = "demo"
