"""The admin site for platform staff: superusers only, across tenants (scopes disabled)."""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django_scopes import scopes_disabled


class PlatformAdminSite(admin.AdminSite):
    site_header = "csplatform platform administration"

    def has_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_superuser

    def admin_view(self, view, cacheable=False):
        inner = super().admin_view(view, cacheable)

        def scoped_view(request, *args, **kwargs):
            with scopes_disabled():
                return inner(request, *args, **kwargs)

        return scoped_view


class PlatformAdminConfig(AdminConfig):
    default_site = "csplatform.admin_site.PlatformAdminSite"
