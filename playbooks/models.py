"""Playbooks (DOMAIN.md §8): a trigger watches for a condition at an account, an episode records
that the condition started holding (exactly once while it holds), and the trigger's playbook
turns each episode into tasks with a purpose and a due date, or, for tech-touch accounts, into
automated actions such as an e-mail."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.models import Account, Activity, Segment
from csplatform.models import Tenant, TenantOwned

# Episodes, tasks and automated e-mails are the high-volume rows: a first evaluation of the
# default triggers at 100,000 accounts writes about 480,000 of them at once, and each index
# and each foreign-key check costs per row (PostgreSQL checks a constraint at commit by
# looking up and locking the referenced row, once per new row: 1.9 million checks took half
# of that evaluation's time, and the last 420,000 still took a quarter).
#
# - No foreign-key *constraint* (``db_constraint=False``) on the links the engine fills in;
#   Django's collector still cascades or sets null when a parent is deleted. Each link is
#   safe for its own reason:
#   - the tenant, the account and the assignee (copied from rows the statement reads): the
#     engine, and a task's reassignment, hold the deletion lock shared (``csplatform.locks``)
#     and deleting an account, a user or a tenant (Django's admin only) holds it exclusive, so
#     a deletion never runs between such a statement and its commit;
#   - the episode of a task or e-mail: inserted moments earlier in the same transaction, its
#     id from RETURNING;
#   - the step: read in the same statement, and ``step_delete`` waits for running evaluations
#     of the playbook's triggers;
#   - the trigger of an episode: locked by its evaluation; only the admin deletes triggers.
#   Every constraint on a column empty in a new row stays (it costs no check).
# - No one-column index where a composite index starting with the tenant serves the app's
#   queries (an episode's tasks and e-mails are read among its account's), nor for rare deletes
#   (an account, a user, a trigger or a step deleted by an admin: one scan of the table per
#   batch of deleted rows). Partial indexes for the links
#   only a completed task has (completed by, activity), so creating a task touches neither.


class Playbook(TenantOwned):
    """What to do when a trigger fires: an ordered list of task templates (``steps``)."""

    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["tenant", "name"], name="playbook_tenant_name")]

    def __str__(self) -> str:
        return self.name


class AssigneeKind(models.TextChoices):
    OWNER = "owner", "Account owner"
    OWNER_LEADER = "owner_leader", "Owner's leader"
    NAMED_USER = "named_user", "Named user"


class StepAction(models.TextChoices):
    TASK = "task", "Task for a person"
    EMAIL = "email", "Automated e-mail (tech touch)"


class TaskTemplate(TenantOwned):
    """One step of a playbook. ``action`` says what it does: a *task* step becomes a task for a
    person at accounts with a CSM (high and low touch); an *e-mail* step becomes an automated
    e-mail at tech-touch accounts (no CSM), which skip task steps, as CSM-run accounts skip
    e-mail steps. ``email_subject`` and ``email_body`` are Django templates rendered with
    ``account`` and ``contact``."""

    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField(default=0)
    title = models.CharField(max_length=200)
    purpose = models.CharField(max_length=300, help_text="Why this task exists; “just checking in” is not one.")
    due_offset_days = models.PositiveIntegerField("due in (days)", default=3)
    assignee_kind = models.CharField(max_length=16, choices=AssigneeKind.choices, default=AssigneeKind.OWNER)
    assignee_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    guidance = models.TextField(blank=True)
    action = models.CharField(max_length=8, choices=StepAction.choices, default=StepAction.TASK)
    email_subject = models.CharField(max_length=200, blank=True)
    email_body = models.TextField(blank=True)

    class Meta:
        ordering = ["playbook", "position", "pk"]
        indexes = [models.Index(fields=["tenant", "playbook", "position"], name="tasktemplate_tenant_playbook")]

    def __str__(self) -> str:
        return self.title


class TriggerKind(models.TextChoices):
    BAND_ENTERED = "band_entered", "Health band entered"
    SCORE_DROPPED = "score_dropped", "Health score dropped"
    RENEWAL_DUE = "renewal_due", "Renewal coming up"
    CHAMPION_CHANGED = "champion_changed", "Champion or sponsor left or changed role"
    NPS_DETRACTOR = "nps_detractor", "NPS detractor"
    NPS_PROMOTER = "nps_promoter", "NPS promoter"
    UTILISATION_LOW = "utilisation_low", "Licence utilisation low"
    UTILISATION_HIGH = "utilisation_high", "Licence utilisation high (expansion)"
    USAGE_DOWN = "usage_down", "Usage down"
    SUPPORT_TICKETS = "support_tickets", "Support ticket spike"
    INVOICE_OVERDUE = "invoice_overdue", "Invoice overdue"
    NO_TOUCH = "no_touch", "No meaningful touch"
    MILESTONE_OVERDUE = "milestone_overdue", "Success-plan milestone overdue"
    HANDOFF_ACCEPTED = "handoff_accepted", "New account handed off (onboarding)"


class Trigger(TenantOwned):
    """A condition of ``kind`` with ``params`` (validated by ``playbooks.triggers.validate_params``)
    that fires ``playbook`` once per episode at each matching account in ``segments`` (none
    chosen = every segment). New triggers start disabled so an admin can dry-run them."""

    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=24, choices=TriggerKind.choices)
    params = models.JSONField(default=dict, blank=True)
    segments = models.ManyToManyField(Segment, blank=True, related_name="+")
    playbook = models.ForeignKey(Playbook, on_delete=models.PROTECT, related_name="triggers")
    enabled = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["tenant", "enabled"], name="trigger_tenant_enabled")]

    def __str__(self) -> str:
        return self.name


class Episode(TenantOwned):
    """A stretch of time during which a trigger's condition held at an account. At most one
    open episode (``cleared_at`` empty) per trigger and account: the partial unique constraint
    is what makes firing exactly-once even with concurrent evaluations."""

    # Constraints and indexes: see the top of the module.
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False)
    trigger = models.ForeignKey(
        Trigger, on_delete=models.CASCADE, related_name="episodes", db_constraint=False, db_index=False
    )
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    opened_at = models.DateTimeField()
    cleared_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "trigger", "account"],
                condition=Q(cleared_at__isnull=True),
                name="episode_one_open_per_trigger_account",
            ),
        ]
        indexes = [models.Index(fields=["tenant", "account", "-opened_at"], name="episode_tenant_account")]

    def __str__(self) -> str:
        return f"{self.trigger} at {self.account}"

    @property
    def is_open(self) -> bool:
        return self.cleared_at is None


class TaskStatus(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


class Task(TenantOwned):
    """Work for one person at one account, usually made by a playbook from a template."""

    # Constraints and indexes: see the top of the module. No episode index: the account card
    # reads an episode's tasks among the account's (the account index), and only deleting a
    # trigger in Django's admin looks tasks up by episode (one scan).
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False)
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="playbook_tasks", db_constraint=False, db_index=False
    )
    episode = models.ForeignKey(
        Episode,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tasks",
        db_constraint=False,
        db_index=False,
    )
    template = models.ForeignKey(
        TaskTemplate,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    title = models.CharField(max_length=200)
    purpose = models.CharField(max_length=300)
    guidance = models.TextField(blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    due_on = models.DateField()
    status = models.CharField(max_length=12, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    snoozed_until = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    outcome = models.TextField(blank=True)
    activity = models.ForeignKey(
        Activity, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )

    class Meta:
        ordering = ["due_on", "pk"]
        indexes = [
            # snoozed_until included: the navigation badge on every page counts from the index alone.
            models.Index(
                fields=["tenant", "assignee", "status", "due_on"],
                name="task_tenant_assignee_status",
                include=["snoozed_until"],
            ),
            models.Index(fields=["tenant", "account", "status"], name="task_tenant_account_status"),
            # For deleting a user or an activity (their constraints are kept). Partial: a new
            # task has neither, so creating one touches neither index.
            models.Index(fields=["completed_by"], condition=Q(completed_by__isnull=False), name="task_completed_by"),
            models.Index(fields=["activity"], condition=Q(activity__isnull=False), name="task_activity"),
        ]

    def __str__(self) -> str:
        return self.title


class AutomatedActionKind(models.TextChoices):
    EMAIL = "email", "E-mail"


class AutomatedAction(TenantOwned):
    """What a playbook did by itself at a tech-touch account (no CSM). ``sent_at`` stays empty
    when there was nobody to send to (no primary or champion contact with an e-mail)."""

    # Constraints and indexes: see the top of the module (as for a task).
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False)
    episode = models.ForeignKey(
        Episode,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="actions",
        db_constraint=False,
        db_index=False,
    )
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    template = models.ForeignKey(
        TaskTemplate,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    kind = models.CharField(max_length=8, choices=AutomatedActionKind.choices, default=AutomatedActionKind.EMAIL)
    recipient = models.EmailField(blank=True)
    subject = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "account", "-created_at"], name="automatedaction_tenant_account")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.recipient or 'nobody'}: {self.subject}"
