"""Django's admin is for platform staff (superusers) only; tenant admins use the app's own
settings pages. The admin sees across tenants, so it runs with scopes disabled."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db import transaction

from .locks import deletion_lock_exclusive
from .models import Membership, Tenant, User


class LockedDeletionMixin:
    """For the models that high-volume rows name without a foreign-key constraint (accounts,
    users, tenants): a deletion waits for the running writers of such rows and holds them off
    until it commits (``csplatform.locks``), so nothing is left pointing at a deleted row."""

    def delete_model(self, request, obj) -> None:
        with transaction.atomic():
            deletion_lock_exclusive()
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset) -> None:
        with transaction.atomic():
            deletion_lock_exclusive()
            super().delete_queryset(request, queryset)


@admin.register(User)
class UserAdmin(LockedDeletionMixin, BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "full_name", "is_superuser", "is_active"]
    search_fields = ["email", "full_name"]
    fieldsets = (
        (None, {"fields": ("email", "password", "full_name")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    filter_horizontal = ()
    list_filter = ["is_superuser", "is_active"]


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Tenant)
class TenantAdmin(LockedDeletionMixin, admin.ModelAdmin):
    list_display = ["name", "slug", "currency", "time_zone"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]
