"""Task inbox, leader pages and the admin's trigger and playbook pages. Thin: a form validates,
a service acts, ``queries`` reads; an htmx request gets the partial of the same template.

Who may do what: any CSM, leader or admin works the tasks ``services.can_work_task`` allows
(their own, their accounts', a leader's or an admin's all); leaders and admins see the team
pages; only admins configure triggers and playbooks."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.formats import date_format
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.account360 import timeline_context
from accounts.services import tenant_today
from csplatform.exports import csv_stream_response
from csplatform.models import Role, User
from csplatform.rendering import htmx_partial, render_page
from csplatform.tenancy import get_for_tenant_or_404, role_required

from . import queries, services, triggers
from .forms import (
    PlaybookForm,
    StepForm,
    TaskCompleteForm,
    TaskFilterForm,
    TaskReassignForm,
    TaskSnoozeForm,
    TriggerForm,
)
from .models import Playbook, Task, TaskTemplate, Trigger

INBOX = "playbooks/inbox.html"
DRY_RUN_LIMIT = 50

# --- Tasks ----------------------------------------------------------------------------------


def _task_to_work(request: HttpRequest, task_id: int) -> Task:
    task = get_for_tenant_or_404(
        Task.objects.select_related("account", "assignee", "episode__trigger", "tenant"), request, pk=task_id
    )
    if not services.can_work_task(request.membership, task, account_owner_id=task.account.owner_id):
        raise PermissionDenied("Only the task's assignee, the account's owner, a CS leader or an admin can work it.")
    return task


@role_required(Role.CSM)
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    """The signed-in CSM's open tasks: overdue, due today, upcoming. A leader may look at a
    teammate's inbox (``?assignee=``). CSV export."""
    today = tenant_today(request.tenant)
    assignee = request.user
    form = None
    if request.membership.is_leader:
        form = TaskFilterForm(request.GET or {"assignee": request.user.pk}, tenant=request.tenant, with_overdue=False)
        chosen = form.valid_filters().get("assignee")
        if chosen and chosen != request.user.pk:
            assignee = User.objects.get(pk=chosen)
    if request.GET.get("format") == "csv":  # every open task of the inbox, snoozed ones marked
        return csv_stream_response(
            tenant=request.tenant,
            name="tasks",
            header=queries.TEAM_QUEUE_CSV_HEADER,
            rows=queries.team_queue_csv_rows(tenant=request.tenant, today=today, assignee_id=assignee.pk),
        )
    context = {
        "nav": "tasks",
        "form": form,
        "assignee": assignee,
        "mine": assignee.pk == request.user.pk,
        "inbox": queries.inbox(tenant=request.tenant, assignee=assignee, today=today),
        "today": today,
        "where": "inbox",
    }
    return render_page(request, INBOX, context, partial="results")


def _where(request: HttpRequest) -> str:
    """Where the task's row lives (the inbox or the account card): the same actions answer
    with the row's markup of that place."""
    return "card" if request.GET.get("where", request.POST.get("where")) == "card" else "inbox"


def _row(
    request: HttpRequest,
    task: Task,
    *,
    mode: str = "",
    form=None,
    message: str = "",
    status: int = 200,
    extra: dict | None = None,
) -> HttpResponse:
    context = {
        **(extra or {}),
        "task": task,
        "mode": mode,
        "action_form": form,
        "message": message,
        "today": tenant_today(request.tenant),
        "where": _where(request),
        "show_account": _where(request) == "inbox",
        "show_assignee": request.membership.is_leader,
    }
    if not htmx_partial(request):
        if status == 200 and not form:
            messages.success(request, message or "Saved.")
            if context["where"] == "card":
                return redirect("accounts:detail", account_id=task.account_id)
            return redirect("playbooks:inbox")
        context["nav"] = "tasks"
        return render_page(request, "playbooks/task_action.html", context, status=status)
    return render_page(request, "playbooks/task_action.html", context, partial="row", status=status)


@role_required(Role.CSM)
@require_http_methods(["GET", "POST"])
def task_complete(request: HttpRequest, task_id: int) -> HttpResponse:
    """Complete a task with its outcome: logged on the account's timeline (on the account page
    the timeline is swapped out of band)."""
    task = _task_to_work(request, task_id)
    if request.method == "GET":
        return _row(request, task, mode="complete", form=TaskCompleteForm(task_id=task.pk))
    form = TaskCompleteForm(request.POST, task_id=task.pk)
    if form.is_valid():
        try:
            services.task_complete(task=task, user=request.user, **form.cleaned_data)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            extra = {}
            if _where(request) == "card":
                # The account page's timeline shows the new activity at once (swapped out of band).
                extra = {"timeline": timeline_context(request, task.account)["timeline"], "account": task.account}
            return _row(request, task, message="Done: logged on the account's timeline.", extra=extra)
    return _row(request, task, mode="complete", form=form, status=422)


@role_required(Role.CSM)
@require_http_methods(["GET", "POST"])
def task_snooze(request: HttpRequest, task_id: int) -> HttpResponse:
    """Snooze a task for a day, a week or until a date: hidden from the inbox until then."""
    task = _task_to_work(request, task_id)
    today = tenant_today(request.tenant)
    if request.method == "GET":
        return _row(request, task, mode="snooze", form=TaskSnoozeForm(task_id=task.pk, today=today))
    form = TaskSnoozeForm(request.POST, task_id=task.pk, today=today)
    if form.is_valid():
        try:
            services.task_snooze(task=task, until=form.cleaned_data["until"], today=today)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            return _row(request, task, message=f"Snoozed until {date_format(task.snoozed_until, 'j M Y')}.")
    return _row(request, task, mode="snooze", form=form, status=422)


@role_required(Role.CSM)
@require_http_methods(["GET", "POST"])
def task_reassign(request: HttpRequest, task_id: int) -> HttpResponse:
    """Give a task to another CSM, leader or admin of the tenant."""
    task = _task_to_work(request, task_id)
    if request.method == "GET":
        form = TaskReassignForm(task_id=task.pk, tenant=request.tenant, initial={"assignee": task.assignee_id})
        return _row(request, task, mode="reassign", form=form)
    form = TaskReassignForm(request.POST, task_id=task.pk, tenant=request.tenant)
    if form.is_valid():
        try:
            services.task_reassign(task=task, assignee=form.cleaned_data["assignee"])
        except ValidationError as error:
            _add_errors(form, error)
        else:
            return _row(request, task, message=f"Given to {task.assignee}.")
    return _row(request, task, mode="reassign", form=form, status=422)


@role_required(Role.CSM)
@require_GET
def task_row(request: HttpRequest, task_id: int) -> HttpResponse:
    """The row as it is (the Cancel of an inline form)."""
    task = _task_to_work(request, task_id)
    if not htmx_partial(request):
        return redirect("playbooks:inbox")
    return _row(request, task)


def _add_errors(form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


# --- Leader pages ---------------------------------------------------------------------------


@role_required(Role.LEADER)
@require_GET
def team_queue(request: HttpRequest) -> HttpResponse:
    """Every open task of the team, filtered by CSM and overdue; CSV export."""
    today = tenant_today(request.tenant)
    form = TaskFilterForm(request.GET, tenant=request.tenant, everyone_label="Everyone")
    filters = form.valid_filters()
    chosen = {"assignee_id": filters.get("assignee"), "overdue_only": filters.get("overdue", False)}
    if request.GET.get("format") == "csv":
        return csv_stream_response(
            tenant=request.tenant,
            name="team-tasks",
            header=queries.TEAM_QUEUE_CSV_HEADER,
            rows=queries.team_queue_csv_rows(tenant=request.tenant, today=today, **chosen),
        )
    tasks, total = queries.team_queue(tenant=request.tenant, today=today, **chosen)
    context = {
        "nav": "team_tasks",
        "form": form,
        "filtered": bool(filters),
        "tasks": tasks,
        "total": total,
        "today": today,
        "where": "inbox",
        "show_account": True,
        "show_assignee": True,
    }
    return render_page(request, "playbooks/team_queue.html", context, partial="results")


@role_required(Role.LEADER)
@require_GET
def overdue_by_csm(request: HttpRequest) -> HttpResponse:
    """Overdue and open tasks per CSM: a bar chart with its table; CSV export."""
    today = tenant_today(request.tenant)
    rows = queries.overdue_by_assignee(tenant=request.tenant, today=today)
    if request.GET.get("format") == "csv":
        return csv_stream_response(
            tenant=request.tenant,
            name="overdue-tasks-by-csm",
            header=["CSM", "overdue", "open"],
            rows=([row.name, row.overdue, row.open] for row in rows),
        )
    chart = {"labels": [row.name for row in rows], "overdue": [row.overdue for row in rows]}
    context = {"nav": "team_tasks", "rows": rows, "chart": chart, "today": today}
    return render_page(request, "playbooks/overdue.html", context)


@role_required(Role.LEADER)
@require_GET
def effectiveness(request: HttpRequest) -> HttpResponse:
    """For each playbook: times fired, tasks completed on time, band improved within 30 days."""
    today = tenant_today(request.tenant)
    rows = queries.playbook_effectiveness(tenant=request.tenant, today=today)
    if request.GET.get("format") == "csv":
        return csv_stream_response(
            tenant=request.tenant,
            name="playbook-effectiveness",
            header=[
                "playbook",
                "times fired",
                "tasks",
                "tasks due",
                "done on time",
                "on time %",
                "episodes that could improve",
                "band improved in 30 days",
                "improved %",
            ],
            rows=(
                [
                    row.playbook.name,
                    row.fired,
                    row.tasks,
                    row.tasks_due,
                    row.on_time,
                    "" if row.on_time_percent is None else row.on_time_percent,
                    row.improvable,
                    row.improved,
                    "" if row.improved_percent is None else row.improved_percent,
                ]
                for row in rows
            ),
        )
    context = {"nav": "team_tasks", "rows": rows, "days": queries.IMPROVEMENT_DAYS}
    return render_page(request, "playbooks/effectiveness.html", context)


# --- Admin: triggers and playbooks ----------------------------------------------------------

NAV_ADMIN = "settings"


@role_required(Role.ADMIN)
@require_GET
def setup(request: HttpRequest) -> HttpResponse:
    """The tenant's triggers and playbooks."""
    triggers = Trigger.objects.filter(tenant=request.tenant).select_related("playbook").order_by("name", "pk")
    playbooks = Playbook.objects.filter(tenant=request.tenant).prefetch_related("steps").order_by("name", "pk")
    context = {"nav": NAV_ADMIN, "triggers": list(triggers), "playbooks": list(playbooks)}
    return render_page(request, "playbooks/setup.html", context)


def _trigger_form_page(request, form, trigger=None, *, status=200) -> HttpResponse:
    context = {"nav": NAV_ADMIN, "form": form, "trigger": trigger}
    return render_page(request, "playbooks/trigger_form.html", context, partial="params", status=status)


def _trigger_form_submit(request: HttpRequest, trigger: Trigger | None) -> HttpResponse:
    initial = {}
    if trigger is not None:
        initial = {
            "name": trigger.name,
            "kind": trigger.kind,
            "playbook": trigger.playbook_id,
            "segments": list(trigger.segments.values_list("pk", flat=True)),
            **{f"param_{name}": value for name, value in (trigger.params or {}).items()},
        }
    if request.method == "GET":
        kind = request.GET.get("kind") or initial.get("kind")
        form = TriggerForm(initial=initial | ({"kind": kind} if kind else {}), tenant=request.tenant, kind=kind)
        return _trigger_form_page(request, form, trigger)
    form = TriggerForm(request.POST, tenant=request.tenant)
    if form.is_valid():
        data = form.cleaned_data
        try:
            saved = services.trigger_save(
                tenant=request.tenant,
                trigger=trigger,
                name=data["name"],
                kind=data["kind"],
                params=form.params(),
                playbook=data["playbook"],
                segments=data["segments"],
            )
        except ValidationError as error:
            _add_param_errors(form, error)
        else:
            messages.success(request, f"Trigger “{saved.name}” saved. Dry-run it, then enable it.")
            return redirect("playbooks:trigger_detail", trigger_id=saved.pk)
    return _trigger_form_page(request, form, trigger, status=422)


def _add_param_errors(form: TriggerForm, error: ValidationError) -> None:
    """``validate_params`` names the parameter; show the error on its field."""
    if hasattr(error, "error_dict"):
        for name, errors in error.error_dict.items():
            field = f"param_{name}" if f"param_{name}" in form.fields else (name if name in form.fields else None)
            form.add_error(field, errors)
    else:
        form.add_error(None, error)


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def trigger_create(request: HttpRequest) -> HttpResponse:
    return _trigger_form_submit(request, None)


def _trigger_of(request: HttpRequest, trigger_id: int) -> Trigger:
    return get_for_tenant_or_404(Trigger.objects.select_related("playbook"), request, pk=trigger_id)


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def trigger_edit(request: HttpRequest, trigger_id: int) -> HttpResponse:
    return _trigger_form_submit(request, _trigger_of(request, trigger_id))


@role_required(Role.ADMIN)
@require_GET
def trigger_detail(request: HttpRequest, trigger_id: int) -> HttpResponse:
    """A trigger with its dry run: the accounts where its condition holds now (it would fire
    there once enabled), the count and the first 50."""
    trigger = _trigger_of(request, trigger_id)
    context = {
        "nav": NAV_ADMIN,
        "trigger": trigger,
        "segments": list(trigger.segments.all()),
        "dry_run": _dry_run(request, trigger) if "dry_run" in request.GET else None,
    }
    return render_page(request, "playbooks/trigger_detail.html", context, partial="dry_run")


def _dry_run(request: HttpRequest, trigger: Trigger) -> dict:
    from accounts.models import Account

    ids = triggers.matching_account_ids(tenant=request.tenant, trigger=trigger, today=tenant_today(request.tenant))
    accounts = list(
        Account.objects.filter(tenant=request.tenant, pk__in=list(ids))
        .select_related("owner", "segment")
        .order_by("name", "pk")[:DRY_RUN_LIMIT]
    )
    return {"count": len(ids), "accounts": accounts, "limit": DRY_RUN_LIMIT}


@role_required(Role.ADMIN)
@require_POST
def trigger_toggle(request: HttpRequest, trigger_id: int) -> HttpResponse:
    trigger = _trigger_of(request, trigger_id)
    enable = request.POST.get("enabled") == "1"
    services.trigger_set_enabled(trigger=trigger, enabled=enable)
    messages.success(request, f"Trigger “{trigger.name}” {'enabled' if enable else 'disabled'}.")
    if request.POST.get("next") == "setup":
        return redirect("playbooks:setup")
    return redirect("playbooks:trigger_detail", trigger_id=trigger.pk)


@role_required(Role.ADMIN)
@require_POST
def defaults_add(request: HttpRequest) -> HttpResponse:
    try:
        triggers = services.playbooks_defaults_add(tenant=request.tenant)
    except ValidationError as refused:
        messages.error(request, refused.messages[0])
    else:
        messages.success(request, f"{len(triggers)} default triggers and their playbooks added, enabled.")
    return redirect("playbooks:setup")


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def playbook_create(request: HttpRequest) -> HttpResponse:
    form = PlaybookForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        playbook = services.playbook_save(tenant=request.tenant, **form.cleaned_data)
        messages.success(request, f"Playbook “{playbook.name}” created: add its steps.")
        return redirect("playbooks:playbook_edit", playbook_id=playbook.pk)
    status = 422 if request.method == "POST" else 200
    return render_page(request, "playbooks/playbook_new.html", {"nav": NAV_ADMIN, "form": form}, status=status)


def _playbook_of(request: HttpRequest, playbook_id: int) -> Playbook:
    return get_for_tenant_or_404(Playbook.objects.all(), request, pk=playbook_id)


def _playbook_page(request, playbook, *, form=None, step_form=None, step=None, status=200, partial=None):
    steps = list(
        TaskTemplate.objects.filter(tenant=request.tenant, playbook=playbook)
        .select_related("assignee_user")
        .order_by("position", "pk")
    )
    context = {
        "nav": NAV_ADMIN,
        "playbook": playbook,
        "form": form or PlaybookForm(instance=playbook),
        "steps": steps,
        "step_form": step_form,
        "editing_step": step,
        "triggers": list(Trigger.objects.filter(tenant=request.tenant, playbook=playbook).order_by("name")),
    }
    return render_page(request, "playbooks/playbook_form.html", context, partial=partial, status=status)


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def playbook_edit(request: HttpRequest, playbook_id: int) -> HttpResponse:
    """A playbook's name and description, and its ordered steps."""
    playbook = _playbook_of(request, playbook_id)
    if request.method == "GET":
        return _playbook_page(request, playbook)
    saved_name = playbook.name
    form = PlaybookForm(request.POST, instance=playbook)
    if form.is_valid():
        services.playbook_save(tenant=request.tenant, playbook=playbook, **form.cleaned_data)
        messages.success(request, f"Playbook “{playbook.name}” saved.")
        return redirect("playbooks:playbook_edit", playbook_id=playbook.pk)
    playbook.name = saved_name
    return _playbook_page(request, playbook, form=form, status=422)


def _step_form_submit(request: HttpRequest, playbook: Playbook, step: TaskTemplate | None) -> HttpResponse:
    if request.method == "GET":
        form = StepForm(instance=step, tenant=request.tenant, prefix="step")
        return _playbook_page(request, playbook, step_form=form, step=step, partial="step_form")
    form = StepForm(request.POST, instance=step, tenant=request.tenant, prefix="step")
    if form.is_valid():
        try:
            services.step_save(playbook=playbook, step=step, **form.step_data())
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, "Step saved.")
            return redirect("playbooks:playbook_edit", playbook_id=playbook.pk)
    return _playbook_page(request, playbook, step_form=form, step=step, status=422, partial="step_form")


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def step_create(request: HttpRequest, playbook_id: int) -> HttpResponse:
    return _step_form_submit(request, _playbook_of(request, playbook_id), None)


def _step_of(request: HttpRequest, playbook: Playbook, step_id: int) -> TaskTemplate:
    return get_for_tenant_or_404(TaskTemplate.objects.all(), request, pk=step_id, playbook=playbook)


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def step_edit(request: HttpRequest, playbook_id: int, step_id: int) -> HttpResponse:
    playbook = _playbook_of(request, playbook_id)
    return _step_form_submit(request, playbook, _step_of(request, playbook, step_id))


@role_required(Role.ADMIN)
@require_POST
def step_delete(request: HttpRequest, playbook_id: int, step_id: int) -> HttpResponse:
    playbook = _playbook_of(request, playbook_id)
    step = _step_of(request, playbook, step_id)
    services.step_delete(step=step)
    messages.success(request, f"Step “{step.title}” removed.")
    return redirect("playbooks:playbook_edit", playbook_id=playbook.pk)


@role_required(Role.ADMIN)
@require_POST
def step_move(request: HttpRequest, playbook_id: int, step_id: int) -> HttpResponse:
    playbook = _playbook_of(request, playbook_id)
    step = _step_of(request, playbook, step_id)
    services.step_move(step=step, offset=-1 if request.POST.get("direction") == "up" else 1)
    if htmx_partial(request):
        return _playbook_page(request, playbook, partial="steps")
    return redirect("playbooks:playbook_edit", playbook_id=playbook.pk)
