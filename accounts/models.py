"""Customer accounts, the people at them, and what we did with them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Count, Q, Sum, Value
from django.db.models.functions import Coalesce
from django_scopes import ScopedManager

from csplatform.models import TenantOwned

MONEY = {"max_digits": 14, "decimal_places": 2}


class TouchModel(models.TextChoices):
    HIGH = "high", "High touch"
    LOW = "low", "Low touch"
    TECH = "tech", "Tech touch"


# DOMAIN.md §9: high touch from $500K ARR with 5-15 accounts a CSM, low touch 20-50, tech
# touch is automation only. The $50K line between low and tech is our default; admins move it.
DEFAULT_SEGMENTS = [
    {
        "name": "High touch",
        "touch_model": TouchModel.HIGH,
        "arr_min": Decimal("500000"),
        "arr_max": None,
        "csm_capacity_min": 5,
        "csm_capacity_max": 15,
    },
    {
        "name": "Low touch",
        "touch_model": TouchModel.LOW,
        "arr_min": Decimal("50000"),
        "arr_max": Decimal("500000"),
        "csm_capacity_min": 20,
        "csm_capacity_max": 50,
    },
    {
        "name": "Tech touch",
        "touch_model": TouchModel.TECH,
        "arr_min": Decimal("0"),
        "arr_max": Decimal("50000"),
        "csm_capacity_min": None,
        "csm_capacity_max": None,
    },
]


class Segment(TenantOwned):
    """A band of accounts by ARR with its touch model and a CSM's capacity in it.
    The band is ``arr_min`` (inclusive) up to ``arr_max`` (exclusive; empty = no ceiling)."""

    name = models.CharField(max_length=80)
    touch_model = models.CharField(max_length=8, choices=TouchModel.choices)
    arr_min = models.DecimalField("ARR from", **MONEY, default=Decimal("0"), validators=[MinValueValidator(0)])
    arr_max = models.DecimalField("ARR below", **MONEY, null=True, blank=True, help_text="Empty means no ceiling.")
    csm_capacity_min = models.PositiveIntegerField("accounts per CSM, from", null=True, blank=True)
    csm_capacity_max = models.PositiveIntegerField("accounts per CSM, up to", null=True, blank=True)

    class Meta:
        ordering = ["-arr_min"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="segment_unique_tenant_name")]

    def __str__(self) -> str:
        return self.name

    def contains_arr(self, arr: Decimal) -> bool:
        return arr >= self.arr_min and (self.arr_max is None or arr < self.arr_max)


class LifecycleStage(models.TextChoices):
    HANDOFF = "handoff", "Handoff"
    ONBOARDING = "onboarding", "Onboarding"
    ADOPTION = "adoption", "Adoption"
    VALUE = "value", "Delivering value"
    RENEWAL = "renewal", "Renewal"
    CHURNED = "churned", "Churned"


INDUSTRIES = [
    "Financial services",
    "Healthcare",
    "Retail",
    "Manufacturing",
    "Technology",
    "Education",
    "Media",
    "Logistics",
    "Public sector",
    "Energy",
    "Telecommunications",
    "Professional services",
]
INDUSTRY_CHOICES = [(name, name) for name in INDUSTRIES]


class AccountQuerySet(models.QuerySet):
    def owned_by(self, user) -> AccountQuerySet:
        return self.filter(owner=user)

    def renewing_between(self, start: dt.date, end: dt.date) -> AccountQuerySet:
        return self.filter(next_renewal_date__gte=start, next_renewal_date__lt=end)

    def search(self, text: str) -> AccountQuerySet:
        text = text.strip()
        if not text:
            return self
        return self.filter(Q(name__icontains=text) | Q(domain__icontains=text))

    def totals(self) -> dict:
        """Number of accounts and their total ARR (``{"count", "arr"}``), in one query."""
        # COUNT(*), not COUNT(id): with (tenant, arr) that is an index-only scan.
        return self.aggregate(count=Count("*"), arr=Coalesce(Sum("arr"), Value(Decimal("0"))))


class Account(TenantOwned):
    """A customer company. ``arr`` and ``next_renewal_date`` are roll-ups of the account's
    active subscription lines, kept by ``accounts.services.account_rollups_refresh``."""

    name = models.CharField(max_length=200)
    domain = models.CharField(max_length=200, blank=True, help_text="e.g. example.com")
    external_id = models.CharField(max_length=100, blank=True, help_text="The id in your CRM.")
    industry = models.CharField(max_length=60, choices=INDUSTRY_CHOICES, blank=True)
    employee_count = models.PositiveIntegerField(null=True, blank=True)
    segment = models.ForeignKey(Segment, on_delete=models.PROTECT, null=True, blank=True, related_name="accounts")
    segment_pinned = models.BooleanField(
        default=False, help_text="Keep this segment even when the ARR moves into another band."
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="owned_accounts"
    )
    lifecycle_stage = models.CharField(max_length=16, choices=LifecycleStage.choices, default=LifecycleStage.ONBOARDING)
    customer_since = models.DateField(null=True, blank=True)
    next_renewal_date = models.DateField(null=True, blank=True)
    arr = models.DecimalField("ARR", **MONEY, default=Decimal("0"))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager(tenant="tenant", _manager_class=models.Manager.from_queryset(AccountQuerySet))

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "external_id"], condition=~Q(external_id=""), name="account_unique_tenant_external_id"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "owner", "name"], name="account_tenant_owner_name"),
            models.Index(fields=["tenant", "name"], name="account_tenant_name"),
            # With ARR: a segment's totals read the index alone, and its page by ARR walks it.
            models.Index(fields=["tenant", "segment", "arr"], name="account_tenant_segment_arr"),
            models.Index(fields=["tenant", "next_renewal_date"], name="account_tenant_renewal"),
            models.Index(fields=["tenant", "arr"], name="account_tenant_arr"),
            models.Index(fields=["tenant", "lifecycle_stage"], name="account_tenant_stage"),
        ]

    def __str__(self) -> str:
        return self.name

    def days_to_renewal(self, today: dt.date) -> int | None:
        if self.next_renewal_date is None:
            return None
        return (self.next_renewal_date - today).days


class AccountTotalsDelta(TenantOwned):
    """A change to the number of accounts and total ARR of a tenant's segment (or of its
    accounts without one), written by a PostgreSQL trigger on ``accounts_account`` (migration
    0006) for every statement that changes either:
    whatever writes the accounts (a form, an import, a bulk UPDATE, COPY, the admin), their
    totals follow. The rows only ever get inserted, so concurrent writers never wait for each
    other, and a reader sums the ones its snapshot sees: exactly the accounts it would count.
    ``accounts.services.account_totals_recount`` replaces them with one row a segment,
    counted.

    The portfolio's "All accounts", unfiltered or by segment, reads its totals here (a few
    rows) instead of counting and summing up to 100,000 accounts (10 ms of a 30 ms page).
    SQLite, the embedded run, has no such trigger and counts the accounts."""

    # No constraint: deleting a tenant deletes its accounts, whose trigger then writes rows
    # naming a tenant that is going away. Those rows add up to nothing and are left alone.
    tenant = models.ForeignKey("csplatform.Tenant", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    # No constraint either: a segment is deleted once its accounts have moved, leaving rows
    # that add up to nothing.
    segment = models.ForeignKey(Segment, on_delete=models.DO_NOTHING, db_constraint=False, null=True, related_name="+")
    accounts = models.BigIntegerField()
    arr = models.DecimalField(max_digits=18, decimal_places=2)


class ContactRole(models.TextChoices):
    CHAMPION = "champion", "Champion"
    EXECUTIVE_SPONSOR = "executive_sponsor", "Executive sponsor"
    DECISION_MAKER = "decision_maker", "Decision maker"
    FINANCIAL_DECISION_MAKER = "financial_decision_maker", "Financial decision maker"
    POWER_USER = "power_user", "Power user"
    END_USER = "end_user", "End user"


class ContactLevel(models.TextChoices):
    # Ordered from the top: pages group contacts in this order.
    EXECUTIVE = "executive", "Director / VP and above"
    MANAGER = "manager", "Manager"
    END_USER = "end_user", "End user"


class ContactQuerySet(models.QuerySet):
    def active(self) -> ContactQuerySet:
        return self.filter(left_on__isnull=True)


class Contact(TenantOwned):
    """A person at a customer account. A contact who leaves is kept, with the date, because
    champion movement is a top churn risk and the history matters."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=150)
    title = models.CharField(max_length=150, blank=True)
    email = models.EmailField("e-mail", blank=True)
    role = models.CharField(max_length=32, choices=ContactRole.choices, default=ContactRole.END_USER)
    level = models.CharField(max_length=16, choices=ContactLevel.choices, default=ContactLevel.END_USER)
    reports_to = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="reports")
    left_on = models.DateField("left on", null=True, blank=True)
    left_note = models.CharField(max_length=300, blank=True)
    external_id = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(tenant="tenant", _manager_class=models.Manager.from_queryset(ContactQuerySet))

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["tenant", "account", "name"], name="contact_tenant_account_name")]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "external_id"], condition=~Q(external_id=""), name="contact_unique_tenant_external_id"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}, {self.title}" if self.title else self.name

    @property
    def is_active(self) -> bool:
        return self.left_on is None


class ActivityKind(models.TextChoices):
    CALL = "call", "Call"
    MEETING = "meeting", "Meeting"
    EMAIL = "email", "E-mail"
    QBR = "qbr", "QBR"
    EBR = "ebr", "EBR"
    ONSITE = "onsite", "On-site"
    WEBINAR = "webinar", "Webinar"
    NOTE = "note", "Note"


class Activity(TenantOwned):
    """Something we did with a customer, with its purpose ("just checking in" is not one)
    and the next step it led to."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="activities")
    kind = models.CharField(max_length=16, choices=ActivityKind.choices)
    occurred_at = models.DateTimeField("when")
    team = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="ActivityTeamMember", related_name="activities", verbose_name="our people"
    )
    contacts = models.ManyToManyField(
        Contact, through="ActivityContact", related_name="activities", verbose_name="their contacts"
    )
    purpose = models.CharField(max_length=300)
    summary = models.TextField(blank=True)
    next_step = models.CharField(max_length=300, blank=True)
    next_step_due = models.DateField("next step due", null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at"]
        verbose_name_plural = "activities"
        indexes = [models.Index(fields=["tenant", "account", "-occurred_at"], name="activity_tenant_account_when")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} with {self.account}: {self.purpose}"


class ActivityTeamMember(TenantOwned):
    """Which of our people took part in an activity (carries the tenant like every row)."""

    activity = models.ForeignKey(Activity, on_delete=models.CASCADE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "activity", "user"], name="activityteam_unique"),
        ]
        indexes = [models.Index(fields=["tenant", "user"], name="activityteam_tenant_user")]


class ActivityContact(TenantOwned):
    """Which customer contacts took part in an activity."""

    activity = models.ForeignKey(Activity, on_delete=models.CASCADE)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "activity", "contact"], name="activitycontact_unique"),
        ]
        indexes = [models.Index(fields=["tenant", "contact"], name="activitycontact_tenant_contact")]


class ContactEventKind(models.TextChoices):
    LEFT = "left", "Left the company"
    ROLE_CHANGED = "role_changed", "Role changed"


class ContactEvent(TenantOwned):
    """A key contact's movement (DOMAIN.md §6): a champion or executive sponsor who left, or a
    contact whose role changed to or from one of those. Written by ``contact_mark_left`` and
    ``contact_save``; shown on the account and read by playbook triggers."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="contact_events")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=ContactEventKind.choices)
    previous_role = models.CharField(max_length=32, choices=ContactRole.choices)
    new_role = models.CharField(max_length=32, choices=ContactRole.choices, blank=True)
    occurred_on = models.DateField()
    note = models.CharField(max_length=300, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_on", "-pk"]
        indexes = [
            models.Index(fields=["tenant", "account", "-occurred_on"], name="contactevent_tenant_account"),
            models.Index(fields=["tenant", "-created_at"], name="contactevent_tenant_created"),
        ]

    def __str__(self) -> str:
        return f"{self.contact}: {self.get_kind_display()}"
