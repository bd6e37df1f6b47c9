"""Tenant settings pages (admin role). Kwargs are named after the model (``segment_id``,
``membership_id``) so the cross-tenant probe test can substitute another tenant's ids."""

from django.urls import path

from . import settings_views

app_name = "settings"

urlpatterns = [
    path("", settings_views.settings_home, name="home"),
    path("segments/", settings_views.segment_list, name="segments"),
    path("segments/new/", settings_views.segment_create, name="segment_create"),
    path("segments/<int:segment_id>/edit/", settings_views.segment_edit, name="segment_edit"),
    path("segments/<int:segment_id>/delete/", settings_views.segment_delete, name="segment_delete"),
    path("members/", settings_views.member_list, name="members"),
    path("members/invite/", settings_views.member_invite, name="member_invite"),
    path("members/<int:membership_id>/role/", settings_views.member_role, name="member_role"),
    path("members/<int:membership_id>/remove/", settings_views.member_remove, name="member_remove"),
    path(
        "members/<int:membership_id>/resend-invite/",
        settings_views.member_invite_resend,
        name="member_invite_resend",
    ),
]
