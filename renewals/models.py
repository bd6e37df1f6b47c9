"""Products and the subscription lines that carry ARR. An account's ARR is the sum of its
active lines; keeping ARR per product lets retention be cut by product (DOMAIN.md §2)."""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.db.models import F, Q
from django_scopes import ScopedManager

from accounts.models import MONEY, Account
from csplatform.models import TenantOwned


class Product(TenantOwned):
    name = models.CharField(max_length=120)
    code = models.SlugField(max_length=40, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="product_unique_tenant_name")]

    def __str__(self) -> str:
        return self.name


class SubscriptionLineQuerySet(models.QuerySet):
    def active_on(self, day: dt.date) -> SubscriptionLineQuerySet:
        """Lines whose term covers ``day`` (both ends inclusive)."""
        return self.filter(start_date__lte=day, end_date__gte=day)


class SubscriptionLine(TenantOwned):
    """ARR of one product at one account for one term. ``end_date`` is the last day of the
    term, which is the renewal date a CSM works towards."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="subscription_lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="subscription_lines")
    arr = models.DecimalField("ARR", **MONEY)
    start_date = models.DateField()
    end_date = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(tenant="tenant", _manager_class=models.Manager.from_queryset(SubscriptionLineQuerySet))

    class Meta:
        ordering = ["-start_date"]
        indexes = [
            models.Index(fields=["tenant", "account", "start_date"], name="line_tenant_account_start"),
            models.Index(fields=["tenant", "end_date"], name="line_tenant_end"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(end_date__gte=F("start_date")), name="line_end_after_start"),
            models.CheckConstraint(condition=Q(arr__gte=0), name="line_arr_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.product} for {self.account}: {self.arr}"

    def is_active_on(self, day: dt.date) -> bool:
        return self.start_date <= day <= self.end_date
