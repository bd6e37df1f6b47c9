"""Serializers of the API resources. Related ids are looked up in the key's tenant only, so
another tenant's id is "does not exist", never a row of theirs."""

from __future__ import annotations

from rest_framework import serializers

from accounts.models import Account, Activity, ActivityKind, Contact, Segment
from csplatform.models import User
from health.models import HealthScore
from playbooks.models import Task
from renewals.models import ForecastCategory, Product, Renewal, SubscriptionLine


class TenantRelatedField(serializers.PrimaryKeyRelatedField):
    """A primary key of a row of the request's tenant."""

    def get_queryset(self):
        tenant = self.context["request"].tenant
        return super().get_queryset().filter(tenant=tenant)


class MemberField(serializers.PrimaryKeyRelatedField):
    """A user id of a member of the request's tenant."""

    def get_queryset(self):
        return User.objects.filter(memberships__tenant=self.context["request"].tenant)


class AccountSerializer(serializers.ModelSerializer):
    segment = TenantRelatedField(queryset=Segment.objects, allow_null=True, required=False)
    owner = MemberField(queryset=User.objects, allow_null=True, required=False, help_text="A member's user id.")
    owner_email = serializers.EmailField(source="owner.email", read_only=True, allow_null=True)

    class Meta:
        model = Account
        fields = [
            "id",
            "name",
            "domain",
            "external_id",
            "industry",
            "employee_count",
            "segment",
            "segment_pinned",
            "owner",
            "owner_email",
            "lifecycle_stage",
            "customer_since",
            "next_renewal_date",
            "arr",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["next_renewal_date", "arr", "created_at", "updated_at"]
        # Uniqueness of external_id is checked by the service, with the field named.
        validators = []
        extra_kwargs = {"external_id": {"validators": []}}


class ContactSerializer(serializers.ModelSerializer):
    account = TenantRelatedField(queryset=Account.objects)
    reports_to = TenantRelatedField(queryset=Contact.objects, allow_null=True, required=False)

    class Meta:
        model = Contact
        fields = [
            "id",
            "account",
            "name",
            "title",
            "email",
            "role",
            "level",
            "reports_to",
            "external_id",
            "left_on",
            "left_note",
            "created_at",
        ]
        read_only_fields = ["left_on", "left_note", "created_at"]
        validators = []
        extra_kwargs = {"external_id": {"validators": []}}


class ContactUpdateSerializer(ContactSerializer):
    class Meta(ContactSerializer.Meta):
        read_only_fields = [*ContactSerializer.Meta.read_only_fields, "account"]


class ProductSerializer(serializers.ModelSerializer):
    class Meta:
        model = Product
        fields = ["id", "name", "code"]
        validators = []  # the service names the field when the name is taken


class SubscriptionLineSerializer(serializers.ModelSerializer):
    account = TenantRelatedField(queryset=Account.objects)
    product = TenantRelatedField(queryset=Product.objects)

    class Meta:
        model = SubscriptionLine
        fields = ["id", "account", "product", "arr", "list_price_arr", "start_date", "end_date", "created_at"]
        read_only_fields = ["created_at"]
        validators = []  # end ≥ start is checked by the service, naming end_date


class ActivitySerializer(serializers.ModelSerializer):
    account = TenantRelatedField(queryset=Account.objects)
    kind = serializers.ChoiceField(choices=ActivityKind.choices)
    team = MemberField(queryset=User.objects, many=True, required=False, help_text="Our people: members' user ids.")
    contacts = TenantRelatedField(
        queryset=Contact.objects, many=True, required=False, help_text="Their people: the account's contact ids."
    )

    class Meta:
        model = Activity
        fields = [
            "id",
            "account",
            "kind",
            "occurred_at",
            "purpose",
            "summary",
            "next_step",
            "next_step_due",
            "team",
            "contacts",
            "created_by",
            "created_at",
        ]
        read_only_fields = ["created_by", "created_at"]


class HealthScoreSerializer(serializers.ModelSerializer):
    account = serializers.IntegerField(source="account_id", read_only=True)
    config_version = serializers.IntegerField(source="config.version", read_only=True)

    class Meta:
        model = HealthScore
        fields = [
            "account",
            "score",
            "band",
            "csm_score",
            "customer_score",
            "change_7d",
            "breakdown",
            "config_version",
            "as_of",
            "computed_at",
        ]
        read_only_fields = fields


class RenewalSerializer(serializers.ModelSerializer):
    class Meta:
        model = Renewal
        fields = [
            "id",
            "account",
            "renewal_date",
            "arr_up",
            "owner",
            "forecast_category",
            "forecast_arr",
            "notes",
            "outcome",
            "new_arr",
            "churn_reason",
            "closed_at",
            "created_at",
        ]
        read_only_fields = fields


class RenewalForecastSerializer(serializers.Serializer):
    forecast_category = serializers.ChoiceField(choices=ForecastCategory.choices)
    forecast_arr = serializers.DecimalField(max_digits=14, decimal_places=2)
    notes = serializers.CharField(required=False, allow_blank=True)


class TaskSerializer(serializers.ModelSerializer):
    class Meta:
        model = Task
        fields = [
            "id",
            "account",
            "title",
            "purpose",
            "guidance",
            "assignee",
            "due_on",
            "status",
            "snoozed_until",
            "created_at",
            "completed_at",
            "completed_by",
            "outcome",
            "activity",
        ]
        read_only_fields = fields


class TaskCompleteSerializer(serializers.Serializer):
    outcome = serializers.CharField(help_text="What came of it: logged on the account's timeline.")
    kind = serializers.ChoiceField(choices=ActivityKind.choices, default=ActivityKind.CALL)
