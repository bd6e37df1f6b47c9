"""Working a task (complete, snooze, reassign) and configuring triggers and playbooks."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django_scopes import scopes_disabled

from accounts.models import Activity, ActivityKind
from accounts.services import tenant_today
from csplatform.models import Role
from csplatform.tenancy import tenant_scope
from health.metrics import MEANINGFUL_TOUCHES
from playbooks import services
from playbooks.models import AssigneeKind, StepAction, Task, TaskStatus, TaskTemplate, Trigger, TriggerKind
from tests.conftest import _member

from ..factories import AccountFactory, SegmentFactory
from .page_factories import PlaybookFactory, TaskFactory


@pytest.fixture
def today(tenant_a):
    return tenant_today(tenant_a)


@pytest.fixture
def task(tenant_a, bob, today):
    with scopes_disabled():
        account = AccountFactory(tenant=tenant_a, owner=bob, name="Zephyr Logistics")
        return TaskFactory(account=account, assignee=bob, title="Call the champion", due_on=today)


def test_completing_a_task_logs_a_meaningful_touch_on_the_timeline_and_queues_health(
    task, bob, tenant_a, django_capture_on_commit_callbacks, monkeypatch
):
    queued = []
    monkeypatch.setattr(
        "health.services._account_recompute_enqueue", lambda tenant_id, account_id: queued.append(account_id)
    )
    with tenant_scope(tenant_a), django_capture_on_commit_callbacks(execute=True):
        services.task_complete(task=task, user=bob, outcome="Champion confirmed the rollout plan.")
    with scopes_disabled():
        task.refresh_from_db()
        activity = Activity.objects.get(account=task.account)
        assert task.status == TaskStatus.DONE
        assert task.completed_by == bob
        assert task.activity == activity
        assert activity.purpose == "Call the champion"
        assert activity.summary == "Champion confirmed the rollout plan."
        assert activity.kind in MEANINGFUL_TOUCHES  # counts as a CSM action (last meaningful touch)
        assert [user.pk for user in activity.team.all()] == [bob.pk]
    assert queued == [task.account_id]


def test_a_task_is_completed_once_and_needs_an_outcome(task, bob, tenant_a):
    with tenant_scope(tenant_a):
        with pytest.raises(ValidationError) as refused:
            services.task_complete(task=task, user=bob, outcome="   ")
        assert "outcome" in refused.value.message_dict
        services.task_complete(task=task, user=bob, outcome="Done.", kind=ActivityKind.NOTE)
        stale = Task.objects.get(pk=task.pk)
        stale.status = TaskStatus.OPEN  # a second tab that still shows it open
        with pytest.raises(ValidationError):
            services.task_complete(task=stale, user=bob, outcome="Again.")
        assert Activity.objects.filter(account=task.account).count() == 1


def test_snooze_hides_until_a_later_day_and_refuses_today(task, tenant_a, today):
    with tenant_scope(tenant_a):
        with pytest.raises(ValidationError) as refused:
            services.task_snooze(task=task, until=today, today=today)
        assert "until" in refused.value.message_dict
        services.task_snooze(task=task, until=today + dt.timedelta(days=7), today=today)
        assert Task.objects.get(pk=task.pk).snoozed_until == today + dt.timedelta(days=7)


def test_reassign_only_to_a_cs_member_of_the_tenant(task, tenant_a, bea, charlie):
    sam = _member(tenant_a, Role.SALES, "sam@acme.example", "Sam Sales")
    with tenant_scope(tenant_a):
        for stranger in (charlie, sam):
            with pytest.raises(ValidationError) as refused:
                services.task_reassign(task=task, assignee=stranger)
            assert "assignee" in refused.value.message_dict
        services.task_reassign(task=task, assignee=bea)
        assert Task.objects.get(pk=task.pk).assignee == bea


def test_who_may_work_a_task(task, tenant_a, bob, bea, lena, alice):
    from csplatform.models import Membership

    def member(user):
        return Membership.objects.get(tenant=tenant_a, user=user)

    with tenant_scope(tenant_a):
        assert services.can_work_task(member(bob), task)  # assignee and owner
        assert not services.can_work_task(member(bea), task)
        assert services.can_work_task(member(lena), task)
        assert services.can_work_task(member(alice), task)
        task.assignee = bea
        assert services.can_work_task(member(bea), task)  # now assigned to her
        assert services.can_work_task(member(bob), task)  # still owns the account


def test_a_trigger_is_saved_disabled_with_validated_params(tenant_a, tenant_b):
    with scopes_disabled():
        playbook = PlaybookFactory(tenant=tenant_a)
        segment = SegmentFactory(tenant=tenant_a)
    with tenant_scope(tenant_a):
        with pytest.raises(ValidationError):
            services.trigger_save(
                tenant=tenant_a, name="Bad", kind=TriggerKind.NO_TOUCH, params={"days": -5}, playbook=playbook
            )
        assert not Trigger.objects.exists()
        trigger = services.trigger_save(
            tenant=tenant_a,
            name="Quiet accounts",
            kind=TriggerKind.NO_TOUCH,
            params={"days": 60},
            playbook=playbook,
            segments=[segment],
        )
        assert not trigger.enabled
        assert trigger.params["days"] == 60
        assert list(trigger.segments.all()) == [segment]
        services.trigger_set_enabled(trigger=trigger, enabled=True)
        assert Trigger.objects.get(pk=trigger.pk).enabled


def test_steps_are_added_at_the_end_moved_and_checked(tenant_a, bob, charlie):
    with scopes_disabled():
        playbook = PlaybookFactory(tenant=tenant_a)
    common = {"purpose": "Why", "due_offset_days": 3, "assignee_kind": AssigneeKind.OWNER}
    with tenant_scope(tenant_a):
        first = services.step_save(playbook=playbook, title="First", **common)
        second = services.step_save(playbook=playbook, title="Second", **common)
        services.step_move(step=second, offset=-1)
        titles = list(
            TaskTemplate.objects.filter(playbook=playbook).order_by("position").values_list("title", flat=True)
        )
        assert titles == ["Second", "First"]
        services.step_move(step=second, offset=-1)  # already first: nothing changes
        with pytest.raises(ValidationError) as refused:
            services.step_save(
                playbook=playbook,
                title="Named",
                **{**common, "assignee_kind": AssigneeKind.NAMED_USER},
                assignee_user=charlie,
            )
        assert "assignee_user" in refused.value.message_dict
        with pytest.raises(ValidationError) as refused:
            services.step_save(
                playbook=playbook,
                title="Mail",
                **common,
                action=StepAction.EMAIL,
                email_subject="Hi {% if account %}",
                email_body="",
            )
        assert set(refused.value.message_dict) == {"email_subject", "email_body"}
        assert TaskTemplate.objects.filter(playbook=playbook).count() == 2
        services.step_delete(step=first)
        assert list(TaskTemplate.objects.filter(playbook=playbook).values_list("title", flat=True)) == ["Second"]


def test_a_completed_task_is_the_last_meaningful_touch_in_health(task, bob, tenant_a):
    from health.models import HealthScore
    from health.services import health_recompute

    with tenant_scope(tenant_a):
        health_recompute(tenant=tenant_a, account_ids=[task.account_id])
        before = HealthScore.objects.get(account_id=task.account_id).breakdown["last_touch:raw"]
        services.task_complete(task=task, user=bob, outcome="Call with the champion: plan agreed.")
        health_recompute(tenant=tenant_a, account_ids=[task.account_id])
        after = HealthScore.objects.get(account_id=task.account_id).breakdown["last_touch:raw"]
    assert before == 365  # never touched
    assert after == 0  # touched today, by completing the task
