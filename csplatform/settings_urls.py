"""Tenant settings pages (admin role). Filled in by the settings views."""

from django.urls import path

from . import settings_views

app_name = "settings"

urlpatterns = [
    path("", settings_views.settings_home, name="home"),
]
