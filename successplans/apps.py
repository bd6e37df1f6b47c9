from django.apps import AppConfig


class SuccessplansConfig(AppConfig):
    name = "successplans"
