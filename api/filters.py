"""Query-string filters of the list endpoints. Only plain-value filters (numbers, text, dates):
a filter with a model choice would build its queryset at import, outside any tenant."""

import datetime as dt

from django import forms
from django_filters import rest_framework as filters
from django_filters.fields import IsoDateTimeField

from accounts.models import ActivityKind, ContactLevel, ContactRole, LifecycleStage
from health.models import Band
from playbooks.models import TaskStatus
from renewals.models import ForecastCategory


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date and time, sent to the database in UTC: PostgreSQL refuses offsets
    beyond ±15:59, which the text may still carry."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return value.astimezone(dt.UTC)
        except OverflowError:
            raise forms.ValidationError("This date and time is out of range.", code="overflow") from None


class DateTimeFilter(filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class AccountFilter(filters.FilterSet):
    external_id = filters.CharFilter()
    domain = filters.CharFilter()
    search = filters.CharFilter(method="filter_search", help_text="Part of the name or domain.")
    lifecycle_stage = filters.ChoiceFilter(choices=LifecycleStage.choices)
    segment = filters.NumberFilter(field_name="segment_id")
    owner = filters.NumberFilter(field_name="owner_id", help_text="The owner's user id.")
    arr_min = filters.NumberFilter(field_name="arr", lookup_expr="gte")
    arr_max = filters.NumberFilter(field_name="arr", lookup_expr="lte")
    renewal_before = filters.DateFilter(field_name="next_renewal_date", lookup_expr="lt")
    updated_since = DateTimeFilter(field_name="updated_at", lookup_expr="gte")

    def filter_search(self, queryset, name, value):
        return queryset.search(value)


class ContactFilter(filters.FilterSet):
    account = filters.NumberFilter(field_name="account_id")
    external_id = filters.CharFilter()
    email = filters.CharFilter(lookup_expr="iexact")
    role = filters.ChoiceFilter(choices=ContactRole.choices)
    level = filters.ChoiceFilter(choices=ContactLevel.choices)
    active = filters.BooleanFilter(field_name="left_on", lookup_expr="isnull", help_text="Still at the customer.")


class ProductFilter(filters.FilterSet):
    name = filters.CharFilter()
    code = filters.CharFilter()


class SubscriptionLineFilter(filters.FilterSet):
    account = filters.NumberFilter(field_name="account_id")
    product = filters.NumberFilter(field_name="product_id")
    active_on = filters.DateFilter(method="filter_active_on", help_text="Lines whose term covers this day.")
    ends_before = filters.DateFilter(field_name="end_date", lookup_expr="lt")

    def filter_active_on(self, queryset, name, value):
        return queryset.active_on(value)


class ActivityFilter(filters.FilterSet):
    account = filters.NumberFilter(field_name="account_id")
    kind = filters.ChoiceFilter(choices=ActivityKind.choices)
    occurred_after = DateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    occurred_before = DateTimeFilter(field_name="occurred_at", lookup_expr="lt")


class HealthScoreFilter(filters.FilterSet):
    account = filters.NumberFilter(field_name="account_id")
    band = filters.ChoiceFilter(choices=Band.choices)
    score_min = filters.NumberFilter(field_name="score", lookup_expr="gte")
    score_max = filters.NumberFilter(field_name="score", lookup_expr="lte")


class RenewalFilter(filters.FilterSet):
    account = filters.NumberFilter(field_name="account_id")
    owner = filters.NumberFilter(field_name="owner_id")
    forecast_category = filters.ChoiceFilter(choices=ForecastCategory.choices)
    is_open = filters.BooleanFilter(field_name="closed_at", lookup_expr="isnull", label="Open (not closed)")
    renewal_after = filters.DateFilter(field_name="renewal_date", lookup_expr="gte")
    renewal_before = filters.DateFilter(field_name="renewal_date", lookup_expr="lt")


class TaskFilter(filters.FilterSet):
    account = filters.NumberFilter(field_name="account_id")
    assignee = filters.NumberFilter(field_name="assignee_id", help_text="The assignee's user id.")
    status = filters.ChoiceFilter(choices=TaskStatus.choices)
    due_before = filters.DateFilter(field_name="due_on", lookup_expr="lt")
