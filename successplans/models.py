"""Success plans (DOMAIN.md §4-§5): the SPICED handoff from sales to CS, the joint impact plan
it turns into (First Value and 12-month goals, milestones, the customer's measures), the
per-segment impact journeys that seed a plan, and the impact reviews (QBR / EBR) held on it."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django_scopes import ScopedManager

from accounts.models import Account, Contact, LifecycleStage, Segment
from csplatform.models import Tenant, TenantOwned

VALUE = {"max_digits": 14, "decimal_places": 2}


# --- The handoff ------------------------------------------------------------------------------


class FitAnswer(models.TextChoices):
    YES = "yes", "Yes"
    PARTLY = "partly", "Partly"
    NO = "no", "No"


class FitCategory(models.TextChoices):
    GOOD = "good", "Good fit"
    STRETCH = "stretch", "Stretch"
    BAD = "bad", "Bad fit"


class HandoffStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    SENT_BACK = "sent_back", "Sent back"
    ACCEPTED = "accepted", "Accepted"


# A handoff is for a new account: one still in these stages of its lifecycle.
NEW_ACCOUNT_STAGES = (LifecycleStage.HANDOFF, LifecycleStage.ONBOARDING)

# The fit check's five questions: the field and the question it answers.
FIT_QUESTIONS = {
    "fit_technical": "Technical: does our product work in their environment?",
    "fit_functional": "Functional: does it do what they need it to do?",
    "fit_experience": "Experience: do we know how to make customers like them succeed?",
    "fit_support": "Support: can we support them the way they expect?",
    "fit_buy_in": "Internal buy-in: do their people want this?",
}
# A "no" on either of these means the product cannot deliver the outcome at all.
FIT_BLOCKERS = ("fit_technical", "fit_functional")


def fit_category(answers: dict[str, str]) -> str:
    """The fit check's category from its five answers (``FIT_QUESTIONS`` field -> yes/partly/no):

    - **bad fit**: a "no" on technical or functional fit;
    - **stretch**: any other "no", or two or more "partly";
    - **good fit**: otherwise (at most one "partly").

    Returns "" while any answer is missing: a category from half a check would mislead.
    """
    values = [answers.get(name, "") for name in FIT_QUESTIONS]
    if any(not value for value in values):
        return ""
    if any(answers[name] == FitAnswer.NO for name in FIT_BLOCKERS):
        return FitCategory.BAD
    if FitAnswer.NO in values or values.count(FitAnswer.PARTLY) >= 2:
        return FitCategory.STRETCH
    return FitCategory.GOOD


class Handoff(TenantOwned):
    """The SPICED record sales hands to CS for a new account (one per account), with the fit
    check and the win story. Its status moves only through ``successplans.services``:
    draft -> submitted -> accepted, or submitted -> sent back -> submitted again."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="handoffs")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    status = models.CharField(max_length=12, choices=HandoffStatus.choices, default=HandoffStatus.DRAFT)
    # SPICED
    situation = models.TextField(blank=True, help_text="Facts about the customer's deployment context.")
    pain = models.TextField(blank=True, help_text="The problems that brought them to us.")
    impact = models.TextField(blank=True, help_text="How we will improve their business.")
    critical_event = models.TextField(blank=True, help_text="What must have happened, by when, and why then.")
    critical_event_date = models.DateField("critical event date", null=True, blank=True)
    decision_criteria = models.TextField(blank=True, help_text="Why they chose us over the alternatives.")
    # Fit check
    fit_technical = models.CharField("technical fit", max_length=8, choices=FitAnswer.choices, blank=True)
    fit_functional = models.CharField("functional fit", max_length=8, choices=FitAnswer.choices, blank=True)
    fit_experience = models.CharField("experience fit", max_length=8, choices=FitAnswer.choices, blank=True)
    fit_support = models.CharField("support fit", max_length=8, choices=FitAnswer.choices, blank=True)
    fit_buy_in = models.CharField("internal buy-in", max_length=8, choices=FitAnswer.choices, blank=True)
    fit_category = models.CharField(max_length=8, choices=FitCategory.choices, blank=True)
    # Win story: short, names the protagonist, no vendor name.
    win_protagonist_name = models.CharField("protagonist", max_length=150, blank=True)
    win_protagonist_title = models.CharField("protagonist's title", max_length=150, blank=True)
    win_problem = models.TextField("the problem", blank=True)
    win_decision_criteria = models.TextField("why they decided", blank=True)
    # The review
    review_comment = models.TextField(blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # A leader's acknowledgement of a bad-fit flag: who, when and what they decided.
    flag_acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    flag_acknowledged_at = models.DateTimeField("bad fit acknowledged at", null=True, blank=True)
    flag_note = models.TextField("acknowledgement note", blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)  # the first submission
    reviewed_at = models.DateTimeField(null=True, blank=True)  # the last accept or send-back
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["tenant", "account"], name="handoff_unique_tenant_account")]
        indexes = [
            models.Index(fields=["tenant", "status"], name="handoff_tenant_status"),
            models.Index(fields=["tenant", "fit_category"], name="handoff_tenant_fit"),
        ]

    def __str__(self) -> str:
        return f"Handoff of {self.account}"

    # Completeness counts these fields, the impact statements (at least one) and nothing else.
    COMPLETENESS_FIELDS = (
        "situation",
        "pain",
        "impact",
        "critical_event",
        "critical_event_date",
        "decision_criteria",
        *FIT_QUESTIONS,
        "win_protagonist_name",
        "win_protagonist_title",
        "win_problem",
        "win_decision_criteria",
    )

    def completeness_percent(self, *, impact_statement_count: int) -> int:
        """Whole percent of the handoff's 16 items filled: the SPICED texts and the critical
        event's date, at least one measurable impact statement, the five fit answers and the
        four parts of the win story."""
        filled = sum(1 for name in self.COMPLETENESS_FIELDS if getattr(self, name) not in ("", None))
        filled += 1 if impact_statement_count else 0
        return round(filled * 100 / (len(self.COMPLETENESS_FIELDS) + 1))

    def age_days(self, today: dt.date) -> int:
        """Days since the handoff was first submitted (created, for a draft) until it was
        accepted, or until ``today`` while it waits."""
        start = (self.submitted_at or self.created_at).date()
        end = self.reviewed_at.date() if self.status == HandoffStatus.ACCEPTED and self.reviewed_at else today
        return max((end - start).days, 0)

    @property
    def is_editable(self) -> bool:
        return self.status in (HandoffStatus.DRAFT, HandoffStatus.SENT_BACK)

    @property
    def is_flagged(self) -> bool:
        """Flagged to leaders: a bad fit, out of draft, that no leader has acknowledged yet."""
        return (
            self.fit_category == FitCategory.BAD
            and self.status != HandoffStatus.DRAFT
            and self.flag_acknowledged_at is None
        )


class ImpactStatement(TenantOwned):
    """One measurable part of the Impact: "cut month-end close from 10 to 4 days"."""

    handoff = models.ForeignKey(Handoff, on_delete=models.CASCADE, related_name="impact_statements")
    statement = models.CharField(max_length=300)
    measure = models.CharField(max_length=120, help_text="What is measured, e.g. days to close the month.")
    baseline = models.DecimalField(**VALUE, null=True, blank=True)
    target = models.DecimalField(**VALUE)
    unit = models.CharField(max_length=30, blank=True)

    class Meta:
        ordering = ["pk"]
        indexes = [models.Index(fields=["tenant", "handoff"], name="impactstmt_tenant_handoff")]

    def __str__(self) -> str:
        return self.statement


# --- Impact journeys (per-segment plan templates) -----------------------------------------------


class OwnerSide(models.TextChoices):
    US = "us", "Us"
    CUSTOMER = "customer", "Customer"


# DOMAIN.md §5: no more than two or three journeys; a segment may hold this many.
MAX_JOURNEYS_PER_SEGMENT = 3


class ImpactJourney(TenantOwned):
    """A segment's template for a new plan's milestones, each due some days after the plan's
    start. A segment holds at most ``MAX_JOURNEYS_PER_SEGMENT``; the first by position seeds
    a plan unless the CSM picks another when accepting the handoff."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="journeys")
    name = models.CharField(max_length=120)
    description = models.CharField(max_length=300, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["segment", "position", "name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "segment", "name"], name="journey_unique_tenant_segment_name")
        ]

    def __str__(self) -> str:
        return self.name


class JourneyStep(TenantOwned):
    journey = models.ForeignKey(ImpactJourney, on_delete=models.CASCADE, related_name="steps")
    title = models.CharField(max_length=200)
    owner_side = models.CharField(max_length=8, choices=OwnerSide.choices, default=OwnerSide.US)
    due_after_days = models.PositiveIntegerField("due after (days)", help_text="Days after the plan starts.")
    is_first_value = models.BooleanField("First Value", default=False, help_text="Done = First Value met.")

    class Meta:
        ordering = ["due_after_days", "pk"]
        indexes = [models.Index(fields=["tenant", "journey"], name="journeystep_tenant_journey")]

    def __str__(self) -> str:
        return self.title


# --- The joint impact plan ------------------------------------------------------------------


class SuccessPlan(TenantOwned):
    """The joint impact plan of one account, co-written with the customer."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="success_plans")
    handoff = models.ForeignKey(Handoff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    journey = models.ForeignKey(ImpactJourney, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    start_date = models.DateField()
    first_value_goal = models.TextField("First Value goal", blank=True)
    first_value_target_date = models.DateField("First Value by", null=True, blank=True)
    first_value_met_on = models.DateField("First Value met on", null=True, blank=True)
    twelve_month_goal = models.TextField("12-month goal", blank=True)
    next_steps = models.TextField("next steps", blank=True)
    next_review_date = models.DateField("next review", null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "account"], name="plan_unique_tenant_account")]

    def __str__(self) -> str:
        return f"Joint impact plan of {self.account}"

    @property
    def contract_start(self) -> dt.date:
        """Where TTFV counts from: the account's contract start, else the plan's start."""
        return self.account.customer_since or self.start_date

    @property
    def ttfv_days(self) -> int | None:
        """Time to First Value: days from the contract start to First Value met (None until met)."""
        if self.first_value_met_on is None:
            return None
        return (self.first_value_met_on - self.contract_start).days


class MilestoneStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"


class MilestoneQuerySet(models.QuerySet):
    def overdue(self, today: dt.date) -> MilestoneQuerySet:
        return self.exclude(status=MilestoneStatus.DONE).filter(due_date__lt=today)


class Milestone(TenantOwned):
    """A success milestone: what we do or what the customer must do (their homework), by when."""

    plan = models.ForeignKey(SuccessPlan, on_delete=models.CASCADE, related_name="milestones")
    title = models.CharField(max_length=200)
    owner_side = models.CharField("owner side", max_length=8, choices=OwnerSide.choices, default=OwnerSide.US)
    owner_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    owner_contact = models.ForeignKey(Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    due_date = models.DateField("due")
    status = models.CharField(max_length=12, choices=MilestoneStatus.choices, default=MilestoneStatus.PLANNED)
    done_on = models.DateField("done on", null=True, blank=True)
    is_first_value = models.BooleanField("First Value", default=False)

    objects = ScopedManager(tenant="tenant", _manager_class=models.Manager.from_queryset(MilestoneQuerySet))

    class Meta:
        ordering = ["due_date", "pk"]
        indexes = [
            models.Index(fields=["tenant", "plan", "due_date"], name="milestone_tenant_plan_due"),
            models.Index(fields=["tenant", "due_date"], name="milestone_tenant_due", condition=~Q(status="done")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(owner_user__isnull=True) | Q(owner_contact__isnull=True), name="milestone_one_owner"
            )
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def owner_person(self):
        return self.owner_user or self.owner_contact

    def is_overdue(self, today: dt.date) -> bool:
        return self.status != MilestoneStatus.DONE and self.due_date < today


class Measure(TenantOwned):
    """A measure the customer chose, with its baseline, target and current value."""

    plan = models.ForeignKey(SuccessPlan, on_delete=models.CASCADE, related_name="measures")
    name = models.CharField(max_length=120)
    unit = models.CharField(max_length=30, blank=True)
    baseline = models.DecimalField(**VALUE, null=True, blank=True)
    target = models.DecimalField(**VALUE)
    current = models.DecimalField(**VALUE, null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["pk"]
        indexes = [models.Index(fields=["tenant", "plan"], name="measure_tenant_plan")]

    def __str__(self) -> str:
        return self.name

    @property
    def progress_percent(self) -> int | None:
        """Whole percent of the way from baseline to target (either direction), 0-100."""
        if self.current is None or self.baseline is None or self.target == self.baseline:
            return None
        share = (self.current - self.baseline) / (self.target - self.baseline)
        return max(0, min(100, round(share * 100)))


class PlanShareLink(models.Model):
    """A revocable read-only link to a plan's customer-facing view. Looked up by its token
    before any tenant is active (the visitor is not signed in), so, like ``Membership``, it
    keeps a plain manager; the view then enters the link's tenant and loads the plan there."""

    token = models.CharField(max_length=64, unique=True)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    plan = models.ForeignKey(SuccessPlan, on_delete=models.CASCADE, related_name="share_links")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "plan"], name="sharelink_tenant_plan")]

    def __str__(self) -> str:
        return f"Share link of plan {self.plan_id}"


# --- Impact reviews ------------------------------------------------------------------------------


class ReviewKind(models.TextChoices):
    QBR = "qbr", "QBR"
    EBR = "ebr", "EBR"


class ImpactReview(TenantOwned):
    """A QBR or EBR on the plan. It keeps what it opened with (the SPICED summary and the
    goals, as they stood), the results against the measures, and the measurable objectives
    and next steps for the next review."""

    plan = models.ForeignKey(SuccessPlan, on_delete=models.CASCADE, related_name="reviews")
    kind = models.CharField(max_length=4, choices=ReviewKind.choices, default=ReviewKind.QBR)
    held_on = models.DateField("held on")
    spiced_summary = models.TextField(blank=True)
    goals_summary = models.TextField(blank=True)
    results = models.TextField(blank=True)
    objectives = models.TextField("objectives for the next review")
    next_steps = models.TextField("next steps", blank=True)
    next_review_date = models.DateField("next review")
    activity = models.ForeignKey(
        "accounts.Activity", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-held_on", "-pk"]
        indexes = [models.Index(fields=["tenant", "plan", "-held_on"], name="review_tenant_plan_held")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.held_on}"


class ReviewResult(TenantOwned):
    """A measure's value as reported at a review (and the value it had before)."""

    review = models.ForeignKey(ImpactReview, on_delete=models.CASCADE, related_name="measure_results")
    measure = models.ForeignKey(Measure, on_delete=models.CASCADE, related_name="+")
    previous = models.DecimalField(**VALUE, null=True, blank=True)
    value = models.DecimalField(**VALUE)

    class Meta:
        ordering = ["pk"]
        indexes = [models.Index(fields=["tenant", "review"], name="reviewresult_tenant_review")]


# --- Relationships -----------------------------------------------------------------------------


class RelationshipSettings(TenantOwned):
    """The admin's target for new relationships (DOMAIN.md §6: e.g. three a month at three
    levels): contacts added at a CSM's accounts in a calendar month. One row per tenant."""

    new_relationships_per_month = models.PositiveSmallIntegerField(
        "new relationships a CSM should add each month", default=3
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant"], name="relationshipsettings_unique_tenant")]
