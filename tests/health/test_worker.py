"""A real Celery worker on Redis against the test database: an event changes the account's
score within seconds, and the same task run twice duplicates nothing."""

from __future__ import annotations

import time

import pytest
from django_scopes import scopes_disabled

from accounts.services import tenant_today
from csplatform.tenancy import tenant_scope
from health import services
from health.models import BandChange, HealthScore, HealthSnapshot
from health.tasks import recompute_accounts
from tests.factories import AccountFactory
from tests.workers import wait_for


@pytest.mark.django_db(transaction=True)
def test_an_event_changes_the_score_through_a_real_worker_and_a_task_run_twice_duplicates_nothing(
    tenant_a, bob, worker
):
    with scopes_disabled():
        account = AccountFactory(tenant=tenant_a, owner=bob)
    today = tenant_today(tenant_a)
    with tenant_scope(tenant_a):
        services.survey_response_record(tenant=tenant_a, account=account, kind="nps", score=10, responded_on=today)
    with scopes_disabled():
        wait_for(lambda: HealthScore.objects.filter(account=account).exists(), 10)
        before = HealthScore.objects.get(account=account).breakdown["nps:raw"]

    started = time.monotonic()
    with tenant_scope(tenant_a):
        services.survey_response_record(tenant=tenant_a, account=account, kind="nps", score=0, responded_on=today)
    with scopes_disabled():
        wait_for(lambda: HealthScore.objects.get(account=account).breakdown["nps:raw"] != before, 10)
    elapsed = time.monotonic() - started
    print(f"event to new score: {elapsed:.2f} s")
    assert elapsed < 5
    with scopes_disabled():
        assert HealthScore.objects.get(account=account).breakdown["nps:raw"] == 0

        counts = (HealthScore.objects.count(), HealthSnapshot.objects.count(), BandChange.objects.count())
        succeeded = sum("succeeded" in line for line in worker)
        recompute_accounts.delay(tenant_id=tenant_a.pk, account_ids=[account.pk])
        recompute_accounts.delay(tenant_id=tenant_a.pk, account_ids=[account.pk])
        wait_for(lambda: sum("succeeded" in line for line in worker) >= succeeded + 2, 15)
        assert (HealthScore.objects.count(), HealthSnapshot.objects.count(), BandChange.objects.count()) == counts
        assert HealthSnapshot.objects.filter(account=account, day=today).count() == 1
