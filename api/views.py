"""API v1 viewsets. Every queryset is filtered by the key's tenant explicitly (the scoped
managers are the safety net); another tenant's id is 404, also for writes. Writes go through
the domain apps' services so their side effects (roll-ups, health recompute) happen."""

from __future__ import annotations

from contextlib import ExitStack

from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.generics import GenericAPIView
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from accounts.models import Account, Activity, Contact
from accounts.services import ACCOUNT_FACTS, account_update, activity_log, contact_save
from csplatform.tenancy import tenant_scope
from health.models import HealthScore
from playbooks.models import Task
from renewals.models import Product, Renewal, SubscriptionLine
from renewals.services import renewal_forecast_update

from . import serializers as s
from . import services
from .exceptions import ErrorSerializer
from .filters import (
    AccountFilter,
    ActivityFilter,
    ContactFilter,
    HealthScoreFilter,
    ProductFilter,
    RenewalFilter,
    SubscriptionLineFilter,
    TaskFilter,
)
from .ingest import MAX_BATCH, events_ingest
from .throttling import IngestRateThrottle


class Pagination(CursorPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
    ordering = "id"


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


ERRORS_READ = {
    401: _error("No key, or an unknown or revoked key."),
    404: _error("No such object in your company (another company's ids are 404 too)."),
    429: _error("Too many requests for this key: wait for the number of seconds in `Retry-After`."),
}
ERRORS_LIST = {**ERRORS_READ, 400: _error("A filter or page parameter is invalid: the error names it.")}
ERRORS_WRITE = {
    **ERRORS_READ,
    400: _error("Invalid input: each error names its field."),
    403: _error("The key is read-only."),
}


class TenantScopedMixin:
    """Runs the request inside the key's tenant (``tenant_scope``, as the web middleware does)."""

    pagination_class = Pagination
    filter_backends = [filters.DjangoFilterBackend, OrderingFilter]
    lookup_value_regex = "[0-9]+"

    def dispatch(self, request, *args, **kwargs):
        with ExitStack() as stack:
            self._scope_stack = stack
            return super().dispatch(request, *args, **kwargs)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authentication, permissions, throttles
        self._scope_stack.enter_context(tenant_scope(request.tenant))

    @property
    def tenant(self):
        return self.request.tenant

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request, no tenant
            return self.model._base_manager.none()
        return self.tenant_queryset()


@extend_schema_view(
    list=extend_schema(summary="List accounts", responses={200: s.AccountSerializer(many=True), **ERRORS_LIST}),
    retrieve=extend_schema(summary="Get an account", responses={200: s.AccountSerializer, **ERRORS_READ}),
    create=extend_schema(summary="Create an account", responses={201: s.AccountSerializer, **ERRORS_WRITE}),
    update=extend_schema(summary="Replace an account's facts", responses={200: s.AccountSerializer, **ERRORS_WRITE}),
    partial_update=extend_schema(
        summary="Change some of an account's facts", responses={200: s.AccountSerializer, **ERRORS_WRITE}
    ),
)
class AccountViewSet(
    TenantScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
    mixins.UpdateModelMixin, viewsets.GenericViewSet,
):  # fmt: skip
    """Customer accounts. ARR and the next renewal date are roll-ups of the subscription lines."""

    serializer_class = s.AccountSerializer
    lookup_url_kwarg = "account_id"
    filterset_class = AccountFilter
    ordering_fields = ["id", "name", "arr", "next_renewal_date", "created_at", "updated_at"]

    model = Account

    def tenant_queryset(self):
        return Account.objects.filter(tenant=self.tenant).select_related("owner")

    def perform_create(self, serializer):
        serializer.instance = services.account_create(tenant=self.tenant, fields=dict(serializer.validated_data))

    def perform_update(self, serializer):
        account, data = serializer.instance, serializer.validated_data
        facts = {name: data.get(name, getattr(account, name)) for name in ACCOUNT_FACTS}
        account_update(account=account, **facts)
        if "external_id" in data:
            services.external_id_set(instance=account, external_id=data["external_id"])


@extend_schema_view(
    list=extend_schema(summary="List contacts", responses={200: s.ContactSerializer(many=True), **ERRORS_LIST}),
    retrieve=extend_schema(summary="Get a contact", responses={200: s.ContactSerializer, **ERRORS_READ}),
    create=extend_schema(summary="Add a contact", responses={201: s.ContactSerializer, **ERRORS_WRITE}),
    update=extend_schema(
        summary="Replace a contact's details",
        request=s.ContactUpdateSerializer,
        responses={200: s.ContactSerializer, **ERRORS_WRITE},
    ),
    partial_update=extend_schema(
        summary="Change some of a contact's details",
        request=s.ContactUpdateSerializer,
        responses={200: s.ContactSerializer, **ERRORS_WRITE},
    ),
)
class ContactViewSet(
    TenantScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
    mixins.UpdateModelMixin, viewsets.GenericViewSet,
):  # fmt: skip
    """People at customer accounts. A champion or sponsor's role change is recorded as a key-contact event."""

    lookup_url_kwarg = "contact_id"
    filterset_class = ContactFilter
    ordering_fields = ["id", "name", "created_at"]

    def get_serializer_class(self):
        return s.ContactUpdateSerializer if self.action in ("update", "partial_update") else s.ContactSerializer

    model = Contact

    def tenant_queryset(self):
        return Contact.objects.filter(tenant=self.tenant)

    def _save(self, serializer, contact=None):
        data = serializer.validated_data
        account = contact.account if contact else data["account"]
        current = contact or Contact()

        def value(name, default=""):
            return data.get(name, getattr(current, name) if contact else default)

        saved = contact_save(
            tenant=self.tenant,
            account=account,
            contact=contact,
            name=value("name"),
            title=value("title"),
            email=value("email"),
            role=value("role", "end_user"),
            level=value("level", "end_user"),
            reports_to=value("reports_to", None),
            by=services.api_author(self.request.user),
        )
        if "external_id" in data:
            services.external_id_set(instance=saved, external_id=data["external_id"])
        serializer.instance = saved

    def perform_create(self, serializer):
        self._save(serializer)

    def perform_update(self, serializer):
        self._save(serializer, serializer.instance)


@extend_schema_view(
    list=extend_schema(summary="List products", responses={200: s.ProductSerializer(many=True), **ERRORS_LIST}),
    retrieve=extend_schema(summary="Get a product", responses={200: s.ProductSerializer, **ERRORS_READ}),
    create=extend_schema(summary="Add a product", responses={201: s.ProductSerializer, **ERRORS_WRITE}),
    update=extend_schema(summary="Rename a product", responses={200: s.ProductSerializer, **ERRORS_WRITE}),
    partial_update=extend_schema(summary="Rename a product", responses={200: s.ProductSerializer, **ERRORS_WRITE}),
    destroy=extend_schema(summary="Delete an unused product", responses={204: None, **ERRORS_WRITE}),
)
class ProductViewSet(TenantScopedMixin, viewsets.ModelViewSet):
    """Product lines: ARR and retention are kept per product."""

    serializer_class = s.ProductSerializer
    lookup_url_kwarg = "product_id"
    ordering_fields = ["id", "name"]
    filterset_class = ProductFilter

    model = Product

    def tenant_queryset(self):
        return Product.objects.filter(tenant=self.tenant)

    def perform_create(self, serializer):
        serializer.instance = services.product_save(tenant=self.tenant, **serializer.validated_data)

    def perform_update(self, serializer):
        product, data = serializer.instance, serializer.validated_data
        serializer.instance = services.product_save(
            tenant=self.tenant,
            product=product,
            name=data.get("name", product.name),
            code=data.get("code", product.code),
        )

    def perform_destroy(self, instance):
        services.product_delete(product=instance)


@extend_schema_view(
    list=extend_schema(
        summary="List subscription lines", responses={200: s.SubscriptionLineSerializer(many=True), **ERRORS_LIST}
    ),
    retrieve=extend_schema(
        summary="Get a subscription line", responses={200: s.SubscriptionLineSerializer, **ERRORS_READ}
    ),
    create=extend_schema(
        summary="Add a subscription line", responses={201: s.SubscriptionLineSerializer, **ERRORS_WRITE}
    ),
    update=extend_schema(
        summary="Replace a subscription line", responses={200: s.SubscriptionLineSerializer, **ERRORS_WRITE}
    ),
    partial_update=extend_schema(
        summary="Change a subscription line", responses={200: s.SubscriptionLineSerializer, **ERRORS_WRITE}
    ),
    destroy=extend_schema(summary="Delete a subscription line", responses={204: None, **ERRORS_WRITE}),
)
class SubscriptionLineViewSet(TenantScopedMixin, viewsets.ModelViewSet):
    """ARR of one product at one account for one term; writes refresh the account's ARR and next renewal."""

    serializer_class = s.SubscriptionLineSerializer
    lookup_url_kwarg = "subscription_line_id"
    filterset_class = SubscriptionLineFilter
    ordering_fields = ["id", "start_date", "end_date", "arr"]

    model = SubscriptionLine

    def tenant_queryset(self):
        return SubscriptionLine.objects.filter(tenant=self.tenant)

    def _save(self, serializer, line=None):
        data = serializer.validated_data
        fields = ("account", "product", "arr", "start_date", "end_date", "list_price_arr")
        values = {name: data[name] if name in data else getattr(line, name, None) for name in fields}
        serializer.instance = services.subscription_line_save(tenant=self.tenant, line=line, **values)

    def perform_create(self, serializer):
        self._save(serializer)

    def perform_update(self, serializer):
        self._save(serializer, serializer.instance)

    def perform_destroy(self, instance):
        services.subscription_line_delete(tenant=self.tenant, line=instance)


@extend_schema_view(
    list=extend_schema(summary="List activities", responses={200: s.ActivitySerializer(many=True), **ERRORS_LIST}),
    retrieve=extend_schema(summary="Get an activity", responses={200: s.ActivitySerializer, **ERRORS_READ}),
    create=extend_schema(
        summary="Log an activity",
        description="Records a touch on the account's timeline and queues its health recompute.",
        responses={201: s.ActivitySerializer, **ERRORS_WRITE},
    ),
)
class ActivityViewSet(
    TenantScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):  # fmt: skip
    """What we did with a customer (calls, meetings, QBRs…)."""

    serializer_class = s.ActivitySerializer
    lookup_url_kwarg = "activity_id"
    filterset_class = ActivityFilter
    ordering_fields = ["id", "occurred_at", "created_at"]

    model = Activity

    def tenant_queryset(self):
        return Activity.objects.filter(tenant=self.tenant).prefetch_related("team", "contacts")

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = activity_log(
            tenant=self.tenant,
            author=services.api_author(self.request.user),
            team=data.pop("team", []),
            contacts=data.pop("contacts", []),
            **data,
        )


@extend_schema_view(
    list=extend_schema(
        summary="List health scores", responses={200: s.HealthScoreSerializer(many=True), **ERRORS_LIST}
    ),
    retrieve=extend_schema(
        summary="Get an account's health score", responses={200: s.HealthScoreSerializer, **ERRORS_READ}
    ),
)
class HealthScoreViewSet(TenantScopedMixin, viewsets.ReadOnlyModelViewSet):
    """Each account's current health score (0-100), its band and its measures' raw values."""

    serializer_class = s.HealthScoreSerializer
    lookup_field = "account_id"
    lookup_url_kwarg = "account_id"
    filterset_class = HealthScoreFilter
    ordering_fields = ["id", "score", "computed_at"]

    model = HealthScore

    def tenant_queryset(self):
        return HealthScore.objects.filter(tenant=self.tenant).select_related("config")


@extend_schema_view(
    list=extend_schema(summary="List renewals", responses={200: s.RenewalSerializer(many=True), **ERRORS_LIST}),
    retrieve=extend_schema(summary="Get a renewal", responses={200: s.RenewalSerializer, **ERRORS_READ}),
    partial_update=extend_schema(
        summary="Update a renewal's forecast",
        description="Sets the forecast category and ARR (and notes) of an open renewal.",
        request=s.RenewalForecastSerializer,
        responses={200: s.RenewalSerializer, **ERRORS_WRITE},
    ),
)
class RenewalViewSet(TenantScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Terms coming to an end, with their forecast and, once closed, their outcome."""

    serializer_class = s.RenewalSerializer
    lookup_url_kwarg = "renewal_id"
    filterset_class = RenewalFilter
    ordering_fields = ["id", "renewal_date", "arr_up", "forecast_arr"]
    http_method_names = ["get", "patch", "head", "options"]

    model = Renewal

    def tenant_queryset(self):
        return Renewal.objects.filter(tenant=self.tenant)

    def partial_update(self, request, *args, **kwargs):
        renewal = self.get_object()
        form = s.RenewalForecastSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        renewal = renewal_forecast_update(renewal=renewal, **form.validated_data)
        return Response(s.RenewalSerializer(renewal, context=self.get_serializer_context()).data)


@extend_schema_view(
    list=extend_schema(summary="List tasks", responses={200: s.TaskSerializer(many=True), **ERRORS_LIST}),
    retrieve=extend_schema(summary="Get a task", responses={200: s.TaskSerializer, **ERRORS_READ}),
    complete=extend_schema(
        summary="Complete a task",
        description=(
            "Marks an open task done and logs the outcome on the account's timeline as an activity by the "
            "admin who created the key (which queues the account's health recompute). A task done or "
            "cancelled already is a 400."
        ),
        request=s.TaskCompleteSerializer,
        responses={200: s.TaskSerializer, **ERRORS_WRITE},
    ),
)
class TaskViewSet(TenantScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Playbook tasks: what a CSM must do at an account, and why."""

    model = Task
    serializer_class = s.TaskSerializer
    lookup_url_kwarg = "task_id"
    filterset_class = TaskFilter
    ordering_fields = ["id", "due_on", "created_at"]

    def tenant_queryset(self):
        return Task.objects.filter(tenant=self.tenant)

    @action(detail=True, methods=["post"])
    def complete(self, request, *args, **kwargs):
        from playbooks.services import task_complete

        task = self.get_object()
        form = s.TaskCompleteSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        author = services.api_author(request.user)
        if author is None:
            raise ValidationError("The admin who created this key has left: create a new key to complete tasks.")
        task = task_complete(task=task, user=author, **form.validated_data)
        return Response(s.TaskSerializer(task, context=self.get_serializer_context()).data)


# --- Event ingestion -----------------------------------------------------------------------------


class EventsRequestSerializer(serializers.Serializer):
    events = serializers.ListField(
        child=serializers.DictField(),
        max_length=MAX_BATCH,
        help_text=(
            f"Up to {MAX_BATCH:,} events. Every event has `event_id` (your id: a replayed id changes nothing), "
            "`type` (usage_day, survey_response, support_ticket, invoice, marketing_engagement, notable_event) "
            "and `account_external_id`, plus its type's fields:\n\n"
            "- usage_day: `day`, `active_users`, `licensed_seats`, optional `feature_mask` (integer) or "
            "`features` (tracked feature names); one row per account and day, the latest event wins\n"
            "- survey_response: `kind` (nps 0-10, csat 1-5), `score`, `responded_on`, optional "
            "`contact_external_id`, `comment`, `external_id` (the response's own id; default: the event id)\n"
            "- support_ticket: `subject`, `opened_at`, optional `closed_at`, `priority` (low, normal, high, urgent), "
            "`external_id` (the ticket's id in your help desk; default: the event id): a later event with the same "
            "`external_id` updates the ticket, e.g. to close it\n"
            "- invoice: `number`, `amount`, `issued_on`, `due_on`, optional `paid_on`; the latest event of a "
            "number wins\n"
            "- marketing_engagement: `day`, optional `opens`, `clicks`, `bounces`, `opt_outs`\n"
            "- notable_event: `kind` (outage, merger_acquisition, key_person_change), `occurred_on`, "
            "optional `note`\n\n"
            "Dates are YYYY-MM-DD; times ISO 8601 (UTC when no offset is given)."
        ),
    )


class RejectedEventSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the event in the batch, from 0.")
    event_id = serializers.CharField(allow_null=True)
    field = serializers.CharField(allow_null=True)
    message = serializers.CharField()


class EventsResponseSerializer(serializers.Serializer):
    accepted = serializers.ListField(child=serializers.CharField(), help_text="Event ids written now.")
    duplicates = serializers.ListField(
        child=serializers.CharField(), help_text="Event ids ingested by an earlier batch: nothing changed."
    )
    rejected = RejectedEventSerializer(many=True)


class EventsView(TenantScopedMixin, GenericAPIView):
    """Bulk ingestion of customer signals."""

    throttle_classes = [IngestRateThrottle]
    serializer_class = EventsRequestSerializer
    pagination_class = None
    filter_backends = []

    @extend_schema(
        summary="Ingest a batch of customer signals",
        description=(
            "Validated event by event: the valid events are written even when others are rejected, and the "
            "response lists each rejected one with its index, event id, field and reason. Idempotent by "
            "`event_id`: replaying a batch changes nothing. The accounts whose signals changed get their "
            "health score recomputed within seconds."
        ),
        request=EventsRequestSerializer,
        responses={200: EventsResponseSerializer, **ERRORS_WRITE},
    )
    def post(self, request, *args, **kwargs):
        data = request.data
        events = data.get("events") if isinstance(data, dict) else None
        if not isinstance(events, list):
            raise ValidationError({"events": "Send a JSON object with a list of events in “events”."})
        if len(events) > MAX_BATCH:
            raise ValidationError({"events": f"At most {MAX_BATCH:,} events a batch; this one has {len(events):,}."})
        result = events_ingest(tenant=self.tenant, events=events)
        return Response({"accepted": result.accepted, "duplicates": result.duplicates, "rejected": result.rejected})
