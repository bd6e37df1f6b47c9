from django.urls import path

from . import views

app_name = "health"

urlpatterns = [
    path("accounts/<int:account_id>/pulse/", views.set_pulse, name="pulse_set"),
    path("accounts/<int:account_id>/signals/<slug:kind>/", views.record_signal, name="signal_record"),
    path("accounts/<int:account_id>/tickets/<int:support_ticket_id>/close/", views.close_ticket, name="ticket_close"),
    path("settings/", views.health_settings, name="settings"),
    path("leader/", views.leader_view, name="leader"),
    path("leader/<slug:by>.csv", views.leader_export, name="leader_export"),
]
