from django.urls import path

from . import views

app_name = "health"

urlpatterns = [
    path("accounts/<int:account_id>/pulse/", views.set_pulse, name="pulse_set"),
    path("settings/", views.health_settings, name="settings"),
    path("leader/", views.leader_view, name="leader"),
]
