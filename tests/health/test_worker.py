"""A real Celery worker on Redis against the test database: an event changes the account's
score within seconds, and the same task run twice duplicates nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django_scopes import scopes_disabled

from accounts.services import tenant_today
from csplatform.celery import app
from csplatform.tenancy import tenant_scope
from health import services
from health.models import BandChange, HealthScore, HealthSnapshot
from health.tasks import recompute_accounts
from tests.factories import AccountFactory

ROOT = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def worker(transactional_db):
    """``celery -A csplatform worker`` in a subprocess, on the suite's Redis and test database."""
    app.control.purge()  # stale messages of earlier runs
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "csplatform.settings",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CONN_MAX_AGE": "0",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "csplatform", "worker", "--pool=solo", "-l", "INFO",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    ready = threading.Event()
    log: list[str] = []

    def read():
        for line in process.stderr:
            log.append(line)
            if " ready." in line:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    assert ready.wait(60), "the worker did not start:\n" + "".join(log)
    yield log
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_for(condition, timeout: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if condition():
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s")


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
        _wait_for(lambda: HealthScore.objects.filter(account=account).exists(), 10)
        before = HealthScore.objects.get(account=account).breakdown["nps:raw"]

    started = time.monotonic()
    with tenant_scope(tenant_a):
        services.survey_response_record(tenant=tenant_a, account=account, kind="nps", score=0, responded_on=today)
    with scopes_disabled():
        _wait_for(lambda: HealthScore.objects.get(account=account).breakdown["nps:raw"] != before, 10)
    elapsed = time.monotonic() - started
    print(f"event to new score: {elapsed:.2f} s")
    assert elapsed < 5
    with scopes_disabled():
        assert HealthScore.objects.get(account=account).breakdown["nps:raw"] == 0

        counts = (HealthScore.objects.count(), HealthSnapshot.objects.count(), BandChange.objects.count())
        succeeded = sum("succeeded" in line for line in worker)
        recompute_accounts.delay(tenant_id=tenant_a.pk, account_ids=[account.pk])
        recompute_accounts.delay(tenant_id=tenant_a.pk, account_ids=[account.pk])
        _wait_for(lambda: sum("succeeded" in line for line in worker) >= succeeded + 2, 15)
        assert (HealthScore.objects.count(), HealthSnapshot.objects.count(), BandChange.objects.count()) == counts
        assert HealthSnapshot.objects.filter(account=account, day=today).count() == 1
