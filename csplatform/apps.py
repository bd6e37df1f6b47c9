from django.apps import AppConfig


class CsplatformConfig(AppConfig):
    name = "csplatform"
    verbose_name = "Platform"
