"""Products and the subscription lines that carry ARR. An account's ARR is the sum of its
active lines; keeping ARR per product lets retention be cut by product (DOMAIN.md §2)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django_scopes import ScopedManager

from accounts.models import MONEY, Account
from csplatform.models import Tenant, TenantOwned


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
    list_price_arr = models.DecimalField(
        "ARR at list price", **MONEY, null=True, blank=True, help_text="Before discount; empty when not known."
    )
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
            models.CheckConstraint(
                condition=Q(list_price_arr__isnull=True) | Q(list_price_arr__gte=F("arr")),
                name="line_list_price_not_below_arr",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product} for {self.account}: {self.arr}"

    @property
    def discount_percent(self) -> Decimal | None:
        """How far below list price the line was sold, in percent (None without a list price)."""
        if not self.list_price_arr:
            return None
        return round((1 - self.arr / self.list_price_arr) * 100, 1)

    def is_active_on(self, day: dt.date) -> bool:
        return self.start_date <= day <= self.end_date


# --- The ARR ledger --------------------------------------------------------------------------


class MovementKind(models.TextChoices):
    NEW = "new", "New business"
    EXPANSION = "expansion", "Expansion"
    CONTRACTION = "contraction", "Contraction"
    CHURN = "churn", "Churn"
    REACTIVATION = "reactivation", "Reactivation"


# The ``valid_until`` of a movement whose ARR still holds: no later movement of its pair yet.
STILL_HOLDS = dt.date(9999, 12, 1)


class ArrMovement(TenantOwned):
    """One change of an account's ARR in one product from one month end to the next: the
    auditable ledger every retention number is traced back to. Derived from the subscription
    lines by ``renewals.ledger.ledger_rebuild`` (never edited by hand); ``month`` is the first
    day of the month whose end the change is measured at (the current month: measured today).
    ``amount = arr_after - arr_before``; the ARR of an account and product at the end of a month
    is the sum of its ``amount`` up to that month.

    Each row is also the run of months its ``arr_after`` holds: from ``month`` until the pair's
    next movement (``valid_until``, exclusive; ``STILL_HOLDS`` when there is none). So the ARR of
    every pair at month end M is the rows with ``month <= M < valid_until`` and ``arr_after > 0``,
    read from one index range (``movement_runs``): the retention dashboard's positions, without a
    dense monthly snapshot. ``account_since`` is the account's first month with ARR."""

    # Both unique indexes lead with the tenant: no index of its own (one less for the COPY).
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="arr_movements")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="arr_movements")
    month = models.DateField(help_text="First day of the month the change is measured at the end of.")
    kind = models.CharField(max_length=16, choices=MovementKind.choices)
    arr_before = models.DecimalField("ARR before", **MONEY)
    arr_after = models.DecimalField("ARR after", **MONEY)
    amount = models.DecimalField(**MONEY)
    valid_until = models.DateField(
        default=STILL_HOLDS, help_text="First day of the month of the pair's next movement (exclusive end)."
    )
    account_since = models.DateField(null=True, help_text="The account's first month with ARR, in any product.")

    class Meta:
        ordering = ["month", "account_id", "product_id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "account", "product", "month"], name="movement_unique_month"),
            # Serves the positions at a month end: the runs still holding then, ARR straight from
            # the index (unique because the key holds account, product and month).
            models.UniqueConstraint(
                fields=["tenant", "valid_until", "month", "account", "product"],
                include=["arr_after", "account_since"],
                condition=Q(arr_after__gt=0),
                name="movement_runs",
            ),
        ]
        # No other index: an account's rows are a prefix of ``movement_unique_month`` and the
        # positions are read from ``movement_runs``; each index more slows the rebuild's COPY.

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.get_kind_display()} {self.account_id}/{self.product_id}: {self.amount}"


# --- Churn reasons -----------------------------------------------------------------------------


class ChurnCategory(models.TextChoices):
    """DOMAIN.md §10's taxonomy; each tenant's reasons sit under one of these."""

    POOR_ADOPTION = "poor_adoption", "Poor adoption"
    PRODUCT_FIT = "product_fit", "Product fit"
    PRODUCT_GAP = "product_gap", "Product gap"
    HARD_TO_AFFECT = "hard_to_affect", "Hard to affect"
    OTHER = "other", "Other"


DEFAULT_CHURN_REASONS = [
    ("Poor adoption", ChurnCategory.POOR_ADOPTION),
    ("Product fit", ChurnCategory.PRODUCT_FIT),
    ("Product gap", ChurnCategory.PRODUCT_GAP),
    ("Merger", ChurnCategory.HARD_TO_AFFECT),
    ("Acquisition", ChurnCategory.HARD_TO_AFFECT),
    ("Restructuring", ChurnCategory.HARD_TO_AFFECT),
    ("Bankruptcy", ChurnCategory.HARD_TO_AFFECT),
    ("Other", ChurnCategory.OTHER),
]


class ChurnReasonQuerySet(models.QuerySet):
    def in_use(self) -> ChurnReasonQuerySet:
        return self.filter(retired_on__isnull=True)


class ChurnReason(TenantOwned):
    """Why revenue was lost. Admins edit the list; a reason that a renewal used can be
    retired (no longer offered) but never deleted (the FK protects it), so history stays."""

    name = models.CharField(max_length=80)
    category = models.CharField(max_length=16, choices=ChurnCategory.choices)
    needs_note = models.BooleanField(default=False, help_text="Closing with this reason asks for a note.")
    retired_on = models.DateField(null=True, blank=True)

    objects = ScopedManager(tenant="tenant", _manager_class=models.Manager.from_queryset(ChurnReasonQuerySet))

    class Meta:
        ordering = ["category", "name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="churnreason_unique_tenant_name")]

    def __str__(self) -> str:
        return self.name if self.category != ChurnCategory.HARD_TO_AFFECT else f"Hard to affect: {self.name}"

    @property
    def note_required(self) -> bool:
        return self.needs_note or self.category == ChurnCategory.OTHER


# --- Renewals ------------------------------------------------------------------------------


class ForecastCategory(models.TextChoices):
    COMMIT = "commit", "Commit"
    LIKELY = "likely", "Likely"
    AT_RISK = "at_risk", "At risk"
    LOST = "lost", "Lost"


class RenewalOutcome(models.TextChoices):
    RENEWED = "renewed", "Renewed"
    EXPANDED = "expanded", "Expanded"
    CONTRACTED = "contracted", "Contracted"
    CHURNED = "churned", "Churned"


OUTCOMES_NEEDING_REASON = frozenset({RenewalOutcome.CONTRACTED, RenewalOutcome.CHURNED})


class RenewalQuerySet(models.QuerySet):
    def open(self) -> RenewalQuerySet:
        return self.filter(closed_at__isnull=True)

    def closed(self) -> RenewalQuerySet:
        return self.filter(closed_at__isnull=False)

    def visible_to(self, membership) -> RenewalQuerySet:
        """CSMs work their own renewals; leaders and admins see them all."""
        return self if membership.is_leader else self.filter(owner_id=membership.user_id)


class Renewal(TenantOwned):
    """One account's term coming to an end: the lines ending on ``renewal_date`` carry
    ``arr_up`` (ARR up for renewal). Open until closed with an outcome and the new ARR
    (``renewals.services.renewal_close``); lost revenue carries a churn reason."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="renewals")
    renewal_date = models.DateField(help_text="Last day of the term (the lines' end date).")
    arr_up = models.DecimalField("ARR up for renewal", **MONEY)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="renewals"
    )
    forecast_category = models.CharField(
        "forecast", max_length=8, choices=ForecastCategory.choices, default=ForecastCategory.LIKELY
    )
    forecast_arr = models.DecimalField("forecast ARR", **MONEY)
    notes = models.TextField(blank=True)
    outcome = models.CharField(max_length=12, choices=RenewalOutcome.choices, blank=True)
    new_arr = models.DecimalField("new ARR", **MONEY, null=True, blank=True)
    churn_reason = models.ForeignKey(
        ChurnReason, on_delete=models.PROTECT, null=True, blank=True, related_name="renewals"
    )
    reason_note = models.CharField(max_length=500, blank=True)
    affected_products = models.ManyToManyField(Product, through="RenewalAffectedProduct", related_name="+", blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(tenant="tenant", _manager_class=models.Manager.from_queryset(RenewalQuerySet))

    class Meta:
        ordering = ["renewal_date", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "account", "renewal_date"], name="renewal_unique_account_date"),
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True) | ~Q(outcome=""), name="renewal_closed_has_outcome"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "renewal_date"], name="renewal_tenant_date"),
            models.Index(fields=["tenant", "owner", "renewal_date"], name="renewal_tenant_owner_date"),
        ]

    def __str__(self) -> str:
        return f"{self.account} renewing {self.renewal_date}"

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    @property
    def arr_lost(self) -> Decimal:
        """ARR the close gave up (0 when it grew or is still open)."""
        if self.new_arr is None:
            return Decimal("0")
        return max(self.arr_up - self.new_arr, Decimal("0"))

    def days_to_renewal(self, today: dt.date) -> int:
        return (self.renewal_date - today).days


class RenewalAffectedProduct(TenantOwned):
    """A product that a churned or contracted renewal lost (all or part of)."""

    renewal = models.ForeignKey(Renewal, on_delete=models.CASCADE)
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "renewal", "product"], name="renewalproduct_unique"),
        ]


# --- Expansion opportunities ------------------------------------------------------------------


class ExpansionKind(models.TextChoices):
    UPSELL = "upsell", "Upsell"
    CROSS_SELL = "cross_sell", "Cross-sell"


class ExpansionStage(models.TextChoices):
    IDENTIFIED = "identified", "Identified"
    QUALIFIED = "qualified", "Qualified"
    PROPOSAL = "proposal", "Proposal"
    WON = "won", "Won"
    LOST = "lost", "Lost"


OPEN_EXPANSION_STAGES = (ExpansionStage.IDENTIFIED, ExpansionStage.QUALIFIED, ExpansionStage.PROPOSAL)


class ExpansionOpportunity(TenantOwned):
    """More spend from the same buying center (upsell) or another budget owner (cross-sell);
    both count as expansion (DOMAIN.md §2)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="expansion_opportunities")
    kind = models.CharField(max_length=12, choices=ExpansionKind.choices)
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    arr = models.DecimalField("ARR", **MONEY)
    stage = models.CharField(max_length=12, choices=ExpansionStage.choices, default=ExpansionStage.IDENTIFIED)
    expected_close = models.DateField(null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["expected_close", "pk"]
        verbose_name_plural = "expansion opportunities"
        indexes = [models.Index(fields=["tenant", "account"], name="expansion_tenant_account")]
        constraints = [models.CheckConstraint(condition=Q(arr__gte=0), name="expansion_arr_not_negative")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.product} at {self.account}"


class RetentionSettings(TenantOwned):
    """A tenant's retention targets, set by an admin."""

    nrr_target_percent = models.DecimalField(
        "NRR target (%)",
        max_digits=5,
        decimal_places=1,
        default=Decimal("110.0"),
        validators=[MinValueValidator(0), MaxValueValidator(300)],
    )
    ledger_version = models.PositiveBigIntegerField(
        default=0, editable=False, help_text="Bumped by every ledger rebuild; keys the cached retention trend."
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant"], name="retentionsettings_unique_tenant")]
        verbose_name_plural = "retention settings"
