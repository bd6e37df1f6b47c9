from django.contrib import admin

from csplatform.admin import LockedDeletionMixin

from .models import Account, Activity, Contact, Segment


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "touch_model", "arr_min", "arr_max"]
    list_filter = ["tenant"]


@admin.register(Account)
class AccountAdmin(LockedDeletionMixin, admin.ModelAdmin):
    list_display = ["name", "tenant", "arr", "segment", "owner", "next_renewal_date"]
    list_filter = ["tenant"]
    search_fields = ["name", "domain"]
    raw_id_fields = ["owner", "segment"]


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "account", "role", "level", "left_on"]
    list_filter = ["tenant"]
    raw_id_fields = ["account", "reports_to"]


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_display = ["account", "tenant", "kind", "occurred_at", "purpose"]
    list_filter = ["tenant"]
    raw_id_fields = ["account", "created_by"]
