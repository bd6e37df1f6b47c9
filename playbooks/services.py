"""Writes of the playbooks pages: working a task (complete, snooze, reassign) and configuring
triggers and playbooks. Keyword-only, typed, named ``<entity>_<verb>``.

Who may work a task (``can_work_task``): the CSM it is assigned to, the owner of its account,
and any CS leader or admin of the tenant. Account executives (sales) never work tasks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.template import Template, TemplateSyntaxError
from django.utils import timezone

from accounts.models import Account, ActivityKind, Segment
from accounts.services import activity_log, tenant_today
from csplatform.locks import deletion_lock_shared
from csplatform.models import ROLE_RANK, Membership, Role, Tenant, User

from .defaults import playbooks_create_defaults
from .engine import triggers_lock
from .models import AssigneeKind, Playbook, StepAction, Task, TaskStatus, TaskTemplate, Trigger
from .triggers import validate_params

# Health counts these kinds as a meaningful touch (health.metrics.MEANINGFUL_TOUCHES); a task
# completed as one of them is a CSM action in the score. A note or an e-mail is logged on the
# timeline but is not a touch, so the completion form starts on a call.
DEFAULT_COMPLETION_KIND = ActivityKind.CALL
CS_ROLES = tuple(ROLE_RANK)  # csm, leader, admin: the roles that work tasks


def can_work_task(membership: Membership | None, task: Task, *, account_owner_id: int | None = None) -> bool:
    """The one rule for acting on a task: a CS leader or an admin of its tenant on any task; a
    CSM on a task assigned to them or on an account they own. ``account_owner_id`` spares a
    query when the caller has it (else ``task.account`` is read)."""
    if membership is None or membership.tenant_id != task.tenant_id or not membership.has_role(Role.CSM):
        return False
    if membership.is_leader or task.assignee_id == membership.user_id:
        return True
    owner_id = account_owner_id if account_owner_id is not None else task.account.owner_id
    return owner_id == membership.user_id


def task_assignees(*, tenant: Tenant) -> list[tuple[int, str]]:
    """(user id, name) of the members a task may be given to: CSMs, leaders and admins, as
    plain rows (a large team has well over a thousand)."""
    rows = (
        Membership.objects.filter(tenant=tenant, role__in=CS_ROLES)
        .order_by("user__full_name", "user__email")
        .values_list("user_id", "user__full_name", "user__email")
    )
    return [(user_id, full_name or email) for user_id, full_name, email in rows]


def _open_task_or_refuse(task: Task) -> None:
    if task.status != TaskStatus.OPEN:
        raise ValidationError(f"This task is {task.get_status_display().lower()} already.", code="not_open")


def task_complete(*, task: Task, user: User, outcome: str, kind: str = DEFAULT_COMPLETION_KIND) -> Task:
    """Mark ``task`` done with its ``outcome`` and log it on the account's timeline as an
    activity of ``kind`` (by ``user``, who took part), linked from ``task.activity``. The
    activity's logging queues the account's health recompute after commit, so a completion as
    a meaningful touch (a call by default) counts as a CSM action in health at once.

    Claimed with a conditional update: completing twice (a double click, two tabs) raises
    ``ValidationError`` the second time and logs nothing more."""
    outcome = outcome.strip()
    if not outcome:
        raise ValidationError({"outcome": "Say what came of it: the outcome is logged on the account's timeline."})
    if kind not in ActivityKind.values:
        raise ValidationError({"kind": "Choose what kind of activity this was."})
    _open_task_or_refuse(task)
    now = timezone.now()
    with transaction.atomic():
        claimed = Task.objects.filter(tenant_id=task.tenant_id, pk=task.pk, status=TaskStatus.OPEN).update(
            status=TaskStatus.DONE, completed_at=now, completed_by=user, outcome=outcome
        )
        if not claimed:
            raise ValidationError("This task was completed or cancelled meanwhile.", code="not_open")
        account = Account.objects.get(tenant_id=task.tenant_id, pk=task.account_id)
        activity = activity_log(
            tenant=account.tenant,
            account=account,
            author=user,
            kind=kind,
            occurred_at=now,
            purpose=task.title[:300],
            summary=outcome,
            team=[user],
            contacts=[],
        )
        Task.objects.filter(tenant_id=task.tenant_id, pk=task.pk).update(activity=activity)
    task.status, task.completed_at, task.completed_by, task.outcome, task.activity = (
        TaskStatus.DONE,
        now,
        user,
        outcome,
        activity,
    )
    return task


def task_snooze(*, task: Task, until: dt.date, today: dt.date | None = None) -> Task:
    """Hide an open task from the inbox until ``until`` (a later day). Its due date stays, so
    a task snoozed past it comes back overdue and counts late."""
    _open_task_or_refuse(task)
    today = today or tenant_today(Tenant.objects.get(pk=task.tenant_id))
    if until <= today:
        raise ValidationError({"until": "Snooze until a day after today."})
    if until > today + dt.timedelta(days=365):
        raise ValidationError({"until": "Snooze for at most a year."})
    task.snoozed_until = until
    task.save(update_fields=["snoozed_until"])
    return task


def task_reassign(*, task: Task, assignee: User) -> Task:
    """Give an open task to another CSM, leader or admin of its tenant (``ValidationError``
    naming the field otherwise). A reassigned task shows at once again (no snooze)."""
    _open_task_or_refuse(task)
    with transaction.atomic():
        # The assignee link has no constraint (playbooks.models): the user must not be deleted
        # between this check and the commit.
        deletion_lock_shared()
        if not Membership.objects.filter(tenant_id=task.tenant_id, user=assignee, role__in=CS_ROLES).exists():
            raise ValidationError({"assignee": "Choose a CSM, leader or admin of your company."})
        task.assignee = assignee
        task.snoozed_until = None
        task.save(update_fields=["assignee", "snoozed_until"])
    return task


# --- Configuration (admins) ------------------------------------------------------------------


def _same_tenant(tenant: Tenant, *objects) -> None:
    if any(obj is not None and obj.tenant_id != tenant.pk for obj in objects):
        raise ValueError("An object belongs to another tenant.")


def trigger_save(
    *,
    tenant: Tenant,
    trigger: Trigger | None = None,
    name: str,
    kind: str,
    params: dict,
    playbook: Playbook,
    segments: Iterable[Segment] = (),
) -> Trigger:
    """Create (``trigger=None``) or edit a trigger. ``params`` are checked against the kind's
    spec (``playbooks.triggers.validate_params``): a bad one raises ``ValidationError`` naming
    it and nothing is written. A new trigger starts disabled, so it can be dry-run first."""
    segments = list(segments)
    _same_tenant(tenant, playbook, trigger, *segments)
    cleaned = validate_params(kind, params)
    with transaction.atomic():
        if trigger is None:
            trigger = Trigger(tenant=tenant, enabled=False)
        trigger.name, trigger.kind, trigger.params, trigger.playbook = name, kind, cleaned, playbook
        trigger.save()
        trigger.segments.set(segments)
    return trigger


def trigger_set_enabled(*, trigger: Trigger, enabled: bool) -> Trigger:
    """Enable or disable a trigger. The engine fires enabled triggers only; episodes already
    open stay open (a disabled trigger does not re-fire when enabled again mid-episode)."""
    trigger.enabled = enabled
    trigger.save(update_fields=["enabled", "updated_at"])
    return trigger


def playbook_save(*, tenant: Tenant, playbook: Playbook | None = None, name: str, description: str = "") -> Playbook:
    """Create (``playbook=None``) or rename / describe a playbook."""
    _same_tenant(tenant, playbook)
    if playbook is None:
        playbook = Playbook(tenant=tenant)
    playbook.name, playbook.description = name, description
    playbook.save()
    return playbook


def _check_step(
    *, tenant: Tenant, assignee_kind: str, assignee_user: User | None, action: str, email_subject: str, email_body: str
) -> None:
    errors: dict[str, str] = {}
    if assignee_kind == AssigneeKind.NAMED_USER:
        if assignee_user is None:
            errors["assignee_user"] = "Choose the person this task goes to."
        elif not Membership.objects.filter(tenant=tenant, user=assignee_user, role__in=CS_ROLES).exists():
            errors["assignee_user"] = "Choose a CSM, leader or admin of your company."
    if action == StepAction.EMAIL:
        if not email_subject.strip():
            errors["email_subject"] = "An automated e-mail needs a subject."
        if not email_body.strip():
            errors["email_body"] = "An automated e-mail needs a body."
        for field, text in (("email_subject", email_subject), ("email_body", email_body)):
            try:
                Template(text)
            except TemplateSyntaxError as error:
                errors.setdefault(field, f"This template does not read: {error}")
    if errors:
        raise ValidationError(errors)


def step_save(
    *,
    playbook: Playbook,
    step: TaskTemplate | None = None,
    title: str,
    purpose: str,
    due_offset_days: int,
    assignee_kind: str,
    assignee_user: User | None = None,
    guidance: str = "",
    action: str = StepAction.TASK,
    email_subject: str = "",
    email_body: str = "",
) -> TaskTemplate:
    """Add a step at the end of ``playbook`` (``step=None``) or edit one of its steps. A named
    assignee must be a CSM, leader or admin of the tenant; an automated e-mail needs a subject
    and a body that parse as Django templates (``ValidationError`` naming the field)."""
    tenant = playbook.tenant
    if step is not None and step.playbook_id != playbook.pk:
        raise ValueError("The step belongs to another playbook.")
    _check_step(
        tenant=tenant,
        assignee_kind=assignee_kind,
        assignee_user=assignee_user,
        action=action,
        email_subject=email_subject,
        email_body=email_body,
    )
    with transaction.atomic():
        if step is None:
            last = TaskTemplate.objects.filter(tenant=tenant, playbook=playbook).aggregate(last=Max("position"))["last"]
            step = TaskTemplate(tenant=tenant, playbook=playbook, position=(last or 0) + 1)
        step.title, step.purpose, step.due_offset_days = title, purpose, due_offset_days
        step.assignee_kind = assignee_kind
        step.assignee_user = assignee_user if assignee_kind == AssigneeKind.NAMED_USER else None
        step.guidance, step.action = guidance, action
        step.email_subject, step.email_body = email_subject, email_body
        step.save()
        Playbook.objects.filter(tenant=tenant, pk=playbook.pk).update(updated_at=timezone.now())
    return step


def step_delete(*, step: TaskTemplate) -> None:
    """Remove a step; tasks and e-mails made from it keep their text (their step link is
    cleared). Waits for the running evaluations of the playbook's triggers first: the link has
    no database constraint (``playbooks.models``), so an evaluation must not make tasks from
    the step between Django clearing the links and deleting the step."""
    with transaction.atomic():
        triggers_lock(
            trigger_ids=Trigger.objects.filter(tenant_id=step.tenant_id, playbook_id=step.playbook_id).values_list(
                "pk", flat=True
            )
        )
        step.delete()


def step_move(*, step: TaskTemplate, offset: int) -> None:
    """Move a step up (``offset=-1``) or down (``+1``) in its playbook: it swaps positions
    with its neighbour; at either end nothing changes."""
    steps = list(
        TaskTemplate.objects.filter(tenant_id=step.tenant_id, playbook_id=step.playbook_id).order_by("position", "pk")
    )
    index = next(i for i, candidate in enumerate(steps) if candidate.pk == step.pk)
    other = index + offset
    if not 0 <= other < len(steps):
        return
    steps[index], steps[other] = steps[other], steps[index]
    with transaction.atomic():
        for position, candidate in enumerate(steps, start=1):
            if candidate.position != position:
                TaskTemplate.objects.filter(tenant_id=step.tenant_id, pk=candidate.pk).update(position=position)


def playbooks_defaults_add(*, tenant: Tenant) -> list[Trigger]:
    """Give a tenant with no playbook yet the default playbooks and their enabled triggers
    (the renewal checkpoints at 180 and 90 days among them). Refused once the tenant has any
    playbook, so an admin's own set is never mixed with a second copy of the defaults."""
    if Playbook.objects.filter(tenant=tenant).exists():
        raise ValidationError("This company already has playbooks: add triggers and playbooks one by one.")
    with transaction.atomic():
        return playbooks_create_defaults(tenant=tenant)
