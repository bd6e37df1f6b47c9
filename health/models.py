"""Customer signals, the versioned health configuration, and the scores computed from them.

Signals are what customers do (usage, surveys, tickets, invoices, marketing, notable events)
plus the CSM's own pulse. The score is computed by ``health.scoring`` from those signals and
one immutable ``HealthConfig`` version; ``HealthScore`` holds each account's current score,
``HealthSnapshot`` one row per account per day (the trend), and ``BandChange`` each crossing of a
band threshold (the playbooks consume it).
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from accounts.models import MONEY, Account, Contact
from csplatform.models import Tenant, TenantOwned


class Band(models.TextChoices):
    RED = "red", "Red"
    YELLOW = "yellow", "Yellow"
    GREEN = "green", "Green"


# --- Signals: what customers do -------------------------------------------------------------


class TrackedFeature(TenantOwned):
    """A product feature whose use is tracked. ``bit`` is its position in
    ``UsageDay.feature_mask``: a day's feature use is one integer, so "features used in 30
    days" is one ``BIT_OR`` per account, not a row per feature per day."""

    name = models.CharField(max_length=120)
    bit = models.PositiveSmallIntegerField(validators=[MaxValueValidator(62)])

    class Meta:
        ordering = ["bit"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "bit"], name="trackedfeature_unique_tenant_bit"),
            models.UniqueConstraint(fields=["tenant", "name"], name="trackedfeature_unique_tenant_name"),
        ]

    def __str__(self) -> str:
        return self.name


class UsageDay(TenantOwned):
    """One account's product usage on one day: a narrow row (about 60 bytes) so 100,000
    accounts x 90 days aggregate in a second or two. The tenant has no index of its own: the
    unique (tenant, account, day) and (tenant, day) indexes start with it."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    active_users = models.PositiveIntegerField()
    licensed_seats = models.PositiveIntegerField()
    feature_mask = models.BigIntegerField(default=0, help_text="Bit n set: the feature with bit n was used.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "account", "day"], name="usageday_unique")]
        indexes = [models.Index(fields=["tenant", "day"], name="usageday_tenant_day")]


class SurveyKind(models.TextChoices):
    NPS = "nps", "NPS"
    CSAT = "csat", "CSAT"


class SurveyResponse(TenantOwned):
    """An NPS (0-10) or CSAT (1-5) answer from a contact."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    kind = models.CharField(max_length=8, choices=SurveyKind.choices)
    score = models.PositiveSmallIntegerField(validators=[MaxValueValidator(10)])
    responded_on = models.DateField()
    comment = models.TextField(blank=True)
    # The survey tool's response id (or the ingestion event id): what a re-import matches on.
    # Blank for rows without one (unique only when set); the DB default lets SQL writers omit it.
    external_id = models.CharField(max_length=100, blank=True, default="", db_default="")

    class Meta:
        indexes = [models.Index(fields=["tenant", "account", "kind", "responded_on"], name="survey_tenant_account")]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="nps", score__lte=10) | Q(kind="csat", score__gte=1, score__lte=5),
                name="survey_score_in_range",
            ),
            models.UniqueConstraint(
                fields=["tenant", "external_id"], condition=~Q(external_id=""), name="survey_unique_tenant_external_id"
            ),
        ]


class TicketPriority(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


class SupportTicket(TenantOwned):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    subject = models.CharField(max_length=200)
    priority = models.CharField(max_length=8, choices=TicketPriority.choices, default=TicketPriority.NORMAL)
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    # The help desk's ticket id (or the ingestion event id): what a re-import matches on.
    # Blank for rows without one (unique only when set); the DB default lets SQL writers omit it.
    external_id = models.CharField(max_length=100, blank=True, default="", db_default="")

    class Meta:
        indexes = [models.Index(fields=["tenant", "opened_at"], name="ticket_tenant_opened")]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "external_id"], condition=~Q(external_id=""), name="ticket_unique_tenant_external_id"
            )
        ]


class Invoice(TenantOwned):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    number = models.CharField(max_length=40)
    amount = models.DecimalField(**MONEY, validators=[MinValueValidator(0)])
    issued_on = models.DateField()
    due_on = models.DateField()
    paid_on = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "number"], name="invoice_unique_tenant_number"),
            models.CheckConstraint(condition=Q(due_on__gte=F("issued_on")), name="invoice_due_after_issue"),
        ]
        indexes = [models.Index(fields=["tenant", "account", "due_on"], name="invoice_tenant_account_due")]


class MarketingEngagement(TenantOwned):
    """One account's marketing e-mail engagement on one day (or one week, for bulk feeds). The
    tenant has no index of its own: the unique and (tenant, day) indexes start with it."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    opens = models.PositiveIntegerField(default=0)
    clicks = models.PositiveIntegerField(default=0)
    bounces = models.PositiveIntegerField(default=0)
    opt_outs = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "account", "day"], name="marketing_unique")]
        indexes = [models.Index(fields=["tenant", "day"], name="marketing_tenant_day")]


class NotableEventKind(models.TextChoices):
    OUTAGE = "outage", "Service outage"
    MERGER_ACQUISITION = "merger_acquisition", "Merger or acquisition"
    KEY_PERSON_CHANGE = "key_person_change", "Key person change"


class NotableEvent(TenantOwned):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=24, choices=NotableEventKind.choices)
    occurred_on = models.DateField()
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-occurred_on"]
        indexes = [models.Index(fields=["tenant", "account", "occurred_on"], name="notable_tenant_account_day")]


class Sentiment(models.TextChoices):
    POSITIVE = "positive", "Positive"
    NEUTRAL = "neutral", "Neutral"
    NEGATIVE = "negative", "Negative"


SENTIMENT_VALUE = {Sentiment.POSITIVE: 1, Sentiment.NEUTRAL: 0, Sentiment.NEGATIVE: -1}


class PulseReason(models.TextChoices):
    RELATIONSHIP = "relationship", "Relationship"
    ADOPTION = "adoption", "Adoption"
    PRODUCT_FIT = "product_fit", "Product fit"
    SUPPORT = "support", "Support experience"
    BUDGET = "budget", "Budget"
    ORGANISATION = "organisation", "Organisational change"
    EXPANSION = "expansion", "Expansion interest"


class Pulse(TenantOwned):
    """The CSM's sentiment about an account: a scored CSM-actions measure (never an override)
    that lapses after ``expires_on``. The latest unexpired one counts."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    sentiment = models.CharField(max_length=8, choices=Sentiment.choices)
    reason = models.CharField(max_length=16, choices=PulseReason.choices)
    note = models.CharField(max_length=300, blank=True)
    set_on = models.DateField()
    expires_on = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "account", "set_on"], name="pulse_tenant_account_set")]
        constraints = [models.CheckConstraint(condition=Q(expires_on__gte=F("set_on")), name="pulse_expires_after_set")]


# --- Configuration and scores ----------------------------------------------------------------


class HealthConfig(TenantOwned):
    """One immutable version of a tenant's health configuration. ``definition`` is the JSON of
    ``health.scoring.HealthDefinition`` (halves' weights, measures' weights and thresholds,
    bands). Changing the configuration publishes a new version; no version is ever edited."""

    version = models.PositiveIntegerField()
    definition = models.JSONField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]
        constraints = [models.UniqueConstraint(fields=["tenant", "version"], name="healthconfig_unique_version")]

    def __str__(self) -> str:
        return f"Health configuration v{self.version}"


class ActiveHealthConfig(TenantOwned):
    """Which version scores the tenant's accounts now (one row per tenant)."""

    config = models.ForeignKey(HealthConfig, on_delete=models.PROTECT, related_name="+")
    activated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant"], name="activehealthconfig_unique_tenant")]


class HealthScore(TenantOwned):
    """An account's current score. ``breakdown`` holds the account's ``touch_model`` and, for
    each measure key, ``key:raw`` (null: no data, left out); each measure's points, weight and
    contribution follow from those and ``config`` (``health.scoring.breakdown_parse`` replays
    them), so 100,000 rows do not store them. Written by ``health_recompute`` only."""

    # Rewritten for every account on each full recompute, so each index costs. An update can be
    # "HOT" (no index touched, the new row version on the same page) when no indexed column
    # changed and the page has room: hence the table's fillfactor of 60 (migration 0005) and
    # no index on the score, which moves at almost every recompute (sorting by health reads
    # every score of the tenant anyway). The band rarely moves, and its (tenant, band) index
    # serves the band filter and stands for the tenant index; config versions are never
    # deleted, so the config needs none; the one-to-one on account is the unique key.
    # No foreign-key constraints (``db_constraint=False``): PostgreSQL would check each
    # written row's tenant, account and configuration at commit (a tenth of a full recompute
    # after a new version). The recompute copies them from rows it reads and holds the
    # deletion lock shared (``csplatform.locks``), so no tenant or account is deleted under it;
    # configuration versions are never deleted; Django's collector still cascades.
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False)
    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="health", db_constraint=False)
    score = models.PositiveSmallIntegerField(null=True)
    band = models.CharField(max_length=8, choices=Band.choices, blank=True)
    csm_score = models.PositiveSmallIntegerField(null=True)
    customer_score = models.PositiveSmallIntegerField(null=True)
    change_7d = models.SmallIntegerField(
        null=True, help_text="Score change since the latest snapshot at least 7 days older (the trend arrow)."
    )
    breakdown = models.JSONField()
    config = models.ForeignKey(
        HealthConfig, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    as_of = models.DateField()
    computed_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "band"], name="healthscore_tenant_band"),
        ]


class HealthSnapshot(TenantOwned):
    """An account's score on one day (the last recompute of that day wins): the trend chart
    and "why it changed" read these. ``breakdown`` has the form of ``HealthScore.breakdown``
    (``health.scoring.breakdown_contributions`` gives each measure's points of score); rows
    written before that form map each measure key to its contribution."""

    # One row per account per day, written for every account each day, so each index costs:
    # the unique (tenant, account, day) key serves the account's reads; (tenant, day) with the
    # account and score included serves the "score dropped" trigger, which reads a window of
    # days across the tenant from that index alone. A scan of the table instead reads every
    # day's breakdowns too: at 100,000 accounts and 90 days of history the table is gigabytes
    # and the index a tenth of it. New days append at the index's right edge. Config versions
    # are never deleted; accounts are never deleted by the app (only by platform staff in
    # Django's admin, where the cascade may scan). No foreign-key constraints, as for the
    # current scores.
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False)
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    day = models.DateField()
    score = models.PositiveSmallIntegerField(null=True)
    band = models.CharField(max_length=8, choices=Band.choices, blank=True)
    breakdown = models.JSONField()
    config = models.ForeignKey(
        HealthConfig, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "account", "day"], name="healthsnapshot_unique_day")]
        indexes = [
            models.Index(fields=["tenant", "day"], include=["account", "score"], name="healthsnapshot_tenant_day")
        ]


class BandChange(TenantOwned):
    """An account crossed a band threshold: an event the playbooks issue consumes (claim it by
    setting ``handled_at`` with a conditional update)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    from_band = models.CharField(max_length=8, choices=Band.choices, blank=True)
    to_band = models.CharField(max_length=8, choices=Band.choices, blank=True)
    from_score = models.PositiveSmallIntegerField(null=True)
    to_score = models.PositiveSmallIntegerField(null=True)
    config = models.ForeignKey(HealthConfig, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["tenant", "account", "day"], name="bandchange_tenant_account_day"),
            models.Index(fields=["tenant", "handled_at"], name="bandchange_tenant_handled"),
        ]
