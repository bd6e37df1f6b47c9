from django.apps import AppConfig


class CsplatformConfig(AppConfig):
    name = "csplatform"
    verbose_name = "Platform"

    def ready(self) -> None:
        from .tenancy import connect_signals

        connect_signals()
