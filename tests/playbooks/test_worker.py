"""End to end through a real Celery worker on Redis: a usage drop is recorded, health recomputes
the account, the recompute chains the playbooks evaluation, and the owner has the task."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django_scopes import scopes_disabled

from accounts.services import tenant_today
from csplatform.tenancy import tenant_scope
from health import services
from playbooks.models import Episode, Task, TaskStatus, TriggerKind
from tests.factories import AccountFactory
from tests.health.factories import UsageDayFactory
from tests.workers import wait_for

from .factories import PlaybookFactory, TaskTemplateFactory, TriggerFactory


@pytest.mark.django_db(transaction=True)
def test_a_usage_drop_puts_the_task_in_the_owners_inbox_through_a_real_worker(tenant_a, bob, worker):
    today = tenant_today(tenant_a)
    with scopes_disabled():
        account = AccountFactory(tenant=tenant_a, owner=bob)
        for days_ago in range(31, 60, 2):  # the 30 days before: 80 of 100 seats active
            UsageDayFactory(account=account, day=today - dt.timedelta(days=days_ago), active_users=80)
        UsageDayFactory(account=account, day=today - dt.timedelta(days=1), active_users=80)
        playbook = PlaybookFactory(tenant=tenant_a, name="Usage drop")
        TaskTemplateFactory(playbook=playbook, title="Find out why usage dropped", due_offset_days=3)
        TriggerFactory(tenant=tenant_a, playbook=playbook, kind=TriggerKind.USAGE_DOWN, params={"percent": 30})

    started = time.monotonic()
    with tenant_scope(tenant_a):  # today nobody used it: the last 30 days average 40, half the 80 before
        services.usage_day_record(tenant=tenant_a, account=account, day=today, active_users=0, licensed_seats=100)

    with scopes_disabled():
        wait_for(lambda: Task.objects.filter(account=account).exists(), 20)
        elapsed = time.monotonic() - started
        print(f"usage drop to task in the owner's inbox: {elapsed:.2f} s")
        inbox = list(Task.objects.filter(assignee=bob, status=TaskStatus.OPEN).values_list("title", "due_on"))
        assert inbox == [("Find out why usage dropped", today + dt.timedelta(days=3))]
        assert Episode.objects.filter(account=account, cleared_at__isnull=True).count() == 1
    assert elapsed < 10
    assert any("playbooks.tasks.evaluate_accounts" in line and "succeeded" in line for line in worker)
