from django.contrib import admin

from .models import Product, SubscriptionLine


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "code"]
    list_filter = ["tenant"]


@admin.register(SubscriptionLine)
class SubscriptionLineAdmin(admin.ModelAdmin):
    list_display = ["account", "product", "arr", "start_date", "end_date", "tenant"]
    list_filter = ["tenant"]
    raw_id_fields = ["account", "product"]
