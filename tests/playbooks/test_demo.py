"""The playbooks demo: a default playbook and enabled trigger for every kind, and an inbox with
work in it (some overdue, some done), which a second evaluation does not duplicate."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import F
from django.utils import timezone
from django_scopes import scopes_disabled

from csplatform import demo
from csplatform.models import Membership, Role
from csplatform.tenancy import tenant_scope
from playbooks.defaults import RENEWAL_CHECKPOINT
from playbooks.engine import playbooks_evaluate
from playbooks.models import AutomatedAction, Episode, Task, TaskStatus, Trigger, TriggerKind

TODAY = dt.date(2026, 11, 24)
pytestmark = pytest.mark.django_db


def test_the_demo_has_every_trigger_kind_enabled_and_tasks_some_overdue_some_done(monkeypatch):
    monkeypatch.setattr(
        demo,
        "APP_SEEDERS",
        [
            "successplans.demo.successplans_seed",
            "health.demo.health_seed",
            "playbooks.demo.playbooks_seed",
        ],
    )
    (tenant,) = demo.demo_seed(account_count=120, tenant_count=1, today=TODAY)

    with scopes_disabled():
        triggers = list(Trigger.objects.filter(tenant=tenant))
        tasks = Task.objects.filter(tenant=tenant)
        assert {t.kind for t in triggers} == set(TriggerKind.values)
        assert all(t.enabled for t in triggers)
        assert tasks.filter(status=TaskStatus.OPEN, due_on__lt=TODAY).exists()
        assert tasks.filter(status=TaskStatus.OPEN, due_on__gte=TODAY).exists()
        done = tasks.filter(status=TaskStatus.DONE)
        assert done.exists()
        assert not done.filter(outcome="").exists()
        assert tasks.filter(title=RENEWAL_CHECKPOINT).exists()
        assert not tasks.filter(assignee__isnull=True).exists()
        assert AutomatedAction.objects.filter(tenant=tenant, sent_at__isnull=False).exists()
        # a small tenant's e-mails are rendered (a worker renders real ones just before sending)
        assert not AutomatedAction.objects.filter(tenant=tenant, body="").exists()
        assert not AutomatedAction.objects.filter(tenant=tenant, subject__contains="{{").exists()
        assert not done.filter(completed_at__isnull=True).exists()
        assert not done.exclude(completed_by=F("assignee")).exists()
        assert Episode.objects.filter(tenant=tenant, opened_at__lt=timezone.now() - dt.timedelta(days=20)).exists()
        csms = Membership.objects.filter(tenant=tenant, role=Role.CSM)
        assert csms.exists()
        assert not csms.filter(leader__isnull=True).exists()
        count = tasks.count()

    with tenant_scope(tenant):
        again = playbooks_evaluate(tenant=tenant, today=TODAY, send_emails=False)
    assert again.tasks == 0
    with scopes_disabled():
        assert Task.objects.filter(tenant=tenant).count() == count
