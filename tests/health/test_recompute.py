"""health_recompute: set-based, idempotent, atomic, versioned, with band changes as events."""

from __future__ import annotations

import copy
import datetime as dt
from unittest import mock

import pandas as pd
import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django_scopes import scopes_disabled

from accounts.models import Segment, TouchModel
from csplatform.tenancy import tenant_scope
from health import scoring, services
from health.models import BandChange, HealthConfig, HealthScore, HealthSnapshot, UsageDay
from health.scoring import DEFAULT_DEFINITION
from tests.factories import AccountFactory, ActivityFactory
from tests.workers import waits_for_commit

from .factories import SurveyResponseFactory, TrackedFeatureFactory, UsageDayFactory

TODAY = dt.date(2026, 11, 24)
NOW = dt.datetime(2026, 11, 24, 15, tzinfo=dt.UTC)
pytestmark = pytest.mark.django_db


def usage(account, *, recent_active: int, prior_active: int = 80, seats: int = 100):
    """60 days of usage: ``prior_active`` users a day, then ``recent_active`` for the last 30."""
    UsageDay.objects.bulk_create(
        UsageDayFactory.build(
            account=account,
            day=TODAY - dt.timedelta(days=offset),
            active_users=recent_active if offset < 30 else prior_active,
            licensed_seats=seats,
        )
        for offset in range(60)
    )


@pytest.fixture
def accounts(tenant_a, bob):
    """Three low-touch accounts: a healthy one, a declining one, and one with nothing recorded."""
    with scopes_disabled():
        low = Segment.objects.get(tenant=tenant_a, touch_model=TouchModel.LOW)
        TrackedFeatureFactory(tenant=tenant_a, bit=0)
        TrackedFeatureFactory(tenant=tenant_a, bit=1)
        healthy = AccountFactory(tenant=tenant_a, segment=low, owner=bob, name="Healthy")
        declining = AccountFactory(tenant=tenant_a, segment=low, owner=bob, name="Declining")
        silent = AccountFactory(tenant=tenant_a, segment=low, owner=bob, name="Silent")
        usage(healthy, recent_active=90)
        usage(declining, recent_active=20)
        SurveyResponseFactory(account=healthy, score=10, responded_on=TODAY - dt.timedelta(days=10))
        SurveyResponseFactory(account=declining, score=2, responded_on=TODAY - dt.timedelta(days=10))
        ActivityFactory(account=healthy, kind="qbr", occurred_at=NOW - dt.timedelta(days=3))
    return {"healthy": healthy, "declining": declining, "silent": silent}


def recompute(tenant, **kwargs):
    with tenant_scope(tenant):
        return services.health_recompute(tenant=tenant, as_of=kwargs.pop("as_of", TODAY), now=NOW, **kwargs)


def scores(tenant) -> dict[str, tuple]:
    with scopes_disabled():
        return {
            row.account.name: (row.score, row.band)
            for row in HealthScore.objects.filter(tenant=tenant).select_related("account")
        }


def test_a_full_recompute_scores_every_account_with_its_breakdown_and_version(tenant_a, accounts):
    result = recompute(tenant_a)

    assert result.accounts == 3
    assert result.config_version == 1
    by_name = scores(tenant_a)
    assert by_name["Healthy"][0] > by_name["Declining"][0]
    with scopes_disabled():
        declining = HealthScore.objects.get(account=accounts["declining"])
        assert declining.config.version == 1
        assert declining.breakdown["usage_trend:raw"] == -75  # 20 users a day against 80
        assert declining.breakdown["pulse:raw"] is None  # no pulse: left out, not guessed
        pulse = next(
            row
            for row in scoring.breakdown_parse(declining.breakdown, declining.config.definition)
            if row["key"] == "pulse"
        )
        assert (pulse["missing"], pulse["weight"]) == (True, 0)
        assert declining.as_of == TODAY
        assert HealthSnapshot.objects.filter(tenant=tenant_a, day=TODAY).count() == 3


def test_rerunning_with_the_same_data_and_version_changes_no_row(tenant_a, accounts):
    recompute(tenant_a)
    with scopes_disabled():
        before = list(HealthScore.objects.order_by("pk").values())
        snapshots = list(HealthSnapshot.objects.order_by("pk").values())

    with tenant_scope(tenant_a):
        services.health_recompute(tenant=tenant_a, as_of=TODAY, now=NOW + dt.timedelta(hours=1))

    with scopes_disabled():
        assert list(HealthScore.objects.order_by("pk").values()) == before  # computed_at unchanged too
        assert list(HealthSnapshot.objects.order_by("pk").values()) == snapshots
        assert not BandChange.objects.exists()


def test_a_band_change_is_recorded_once_as_an_event(tenant_a, accounts):
    recompute(tenant_a)
    healthy = accounts["healthy"]
    assert scores(tenant_a)["Healthy"][1] == "green"
    with scopes_disabled():
        UsageDay.objects.filter(account=healthy, day__gt=TODAY - dt.timedelta(days=30)).update(active_users=1)
        SurveyResponseFactory(account=healthy, score=0, responded_on=TODAY)

    recompute(tenant_a)
    recompute(tenant_a)

    with scopes_disabled():
        change = BandChange.objects.get()
    assert (change.account_id, change.from_band, change.day) == (healthy.pk, "green", TODAY)
    assert change.to_band == scores(tenant_a)["Healthy"][1] != "green"
    assert change.handled_at is None


def test_the_snapshot_of_each_day_is_kept_so_trends_can_be_drawn(tenant_a, accounts):
    recompute(tenant_a, as_of=TODAY - dt.timedelta(days=7))
    recompute(tenant_a)
    with scopes_disabled():
        days = set(HealthSnapshot.objects.filter(account=accounts["healthy"]).values_list("day", flat=True))
        assert days == {TODAY - dt.timedelta(days=7), TODAY}
        # Replaying an older day never rolls the current score back.
        recompute(tenant_a, as_of=TODAY - dt.timedelta(days=30))
        assert set(HealthScore.objects.values_list("as_of", flat=True)) == {TODAY}


def test_a_per_account_recompute_touches_only_those_accounts(tenant_a, accounts):
    result = recompute(tenant_a, account_ids=[accounts["declining"].pk])
    assert result.accounts == 1
    assert set(scores(tenant_a)) == {"Declining"}


def test_the_full_recompute_query_count_does_not_grow_with_accounts(tenant_a, accounts, django_assert_num_queries):
    recompute(tenant_a)  # creates the default configuration version

    with connection.execute_wrapper(counter := QueryCounter()):
        recompute(tenant_a)
    few = counter.count
    with scopes_disabled():
        for _ in range(20):
            account = AccountFactory(tenant=tenant_a, segment=accounts["healthy"].segment)
            usage(account, recent_active=50)
    with connection.execute_wrapper(counter := QueryCounter()):
        recompute(tenant_a)
    assert counter.count == few
    assert few <= 30  # 13 reads, the lock and config, COPY, ANALYZE, 5 writes, temp table


class QueryCounter:
    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def test_a_failure_while_writing_leaves_the_previous_scores(tenant_a, accounts):
    recompute(tenant_a)
    before = scores(tenant_a)
    with scopes_disabled():
        UsageDay.objects.filter(account=accounts["healthy"]).update(active_users=0)

    with (
        mock.patch("health.services.scoring.breakdown_json", side_effect=RuntimeError("worker killed")),
        pytest.raises(RuntimeError),
    ):
        recompute(tenant_a)
    assert scores(tenant_a) == before


@pytest.mark.django_db(transaction=True)
def test_a_second_recompute_of_the_same_tenant_is_skipped_while_one_runs(tenant_a, accounts):
    import threading

    from django.db import connections, transaction

    locked, release = threading.Event(), threading.Event()

    def hold_lock():
        with transaction.atomic():
            with connections["default"].cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [services.RECOMPUTE_LOCK_CLASS, tenant_a.pk])
            locked.set()
            release.wait(10)
        connections["default"].close()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    locked.wait(10)
    try:
        result = recompute(tenant_a)
    finally:
        release.set()
        holder.join()
    assert result.skipped
    assert scores(tenant_a) == {}


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_big_scans_run_on_a_second_connection_and_score_the_same(tenant_a, accounts):
    from health import metrics

    with tenant_scope(tenant_a):
        definition = services.health_config_active(tenant=tenant_a).definition
        one_connection = metrics.health_inputs(tenant=tenant_a, as_of=TODAY, definition=definition)
        two_connections = metrics.health_inputs(
            tenant=tenant_a, as_of=TODAY, definition=definition, concurrent_reads=True
        )
    pd.testing.assert_frame_equal(two_connections, one_connection)

    # The scheduled recompute (no transaction around it) takes that path, and its usage
    # measures come from what the second connection read.
    with mock.patch.object(metrics, "_frame_read_aside", wraps=metrics._frame_read_aside) as aside:
        recompute(tenant_a)
    aside.assert_called_once()
    with scopes_disabled():
        assert HealthScore.objects.get(account=accounts["declining"]).breakdown["usage_trend:raw"] == -75


def test_publishing_a_configuration_makes_a_new_version_and_keeps_the_old_one(tenant_a, alice, accounts):
    recompute(tenant_a)
    definition = copy.deepcopy(DEFAULT_DEFINITION)
    definition["halves"] = {"csm": 20, "customer": 80}
    with tenant_scope(tenant_a), mock.patch("health.tasks.recompute_tenant.delay"):
        config = services.health_config_publish(tenant=tenant_a, definition=definition, author=alice)
    assert config.version == 2
    recompute(tenant_a)
    with scopes_disabled():
        assert set(HealthScore.objects.values_list("config__version", flat=True)) == {2}
        assert HealthConfig.objects.get(tenant=tenant_a, version=1).definition["halves"] == {"csm": 60, "customer": 40}


def test_an_invalid_configuration_names_the_field_and_writes_nothing(tenant_a, alice):
    definition = copy.deepcopy(DEFAULT_DEFINITION)
    definition["halves"] = {"csm": 50, "customer": 40}
    with tenant_scope(tenant_a), pytest.raises(ValidationError) as error:
        services.health_config_publish(tenant=tenant_a, definition=definition, author=alice)
    assert "halves" in error.value.message_dict
    with scopes_disabled():
        assert not HealthConfig.objects.exists()


def test_preview_counts_the_accounts_that_would_move_between_bands(tenant_a, accounts):
    recompute(tenant_a)
    strict = copy.deepcopy(DEFAULT_DEFINITION)
    strict["bands"] = {"green": 100, "yellow": 99, "by_segment": {}}
    with tenant_scope(tenant_a):
        preview = services.health_preview(tenant=tenant_a, definition=strict, as_of=TODAY)
    moved = sum(preview["moves"].values())
    assert moved == sum(1 for score, band in scores(tenant_a).values() if score < 100 and band != "red")
    assert moved >= 1
    assert all(to == "red" for (_, to) in preview["moves"])


def test_a_churned_account_loses_its_live_score_and_the_exit_is_recorded(tenant_a, accounts, client_for, lena):
    from django.urls import reverse

    from accounts.models import LifecycleStage
    from health.queries import band_distribution

    recompute(tenant_a)
    declining = accounts["declining"]
    band = scores(tenant_a)["Declining"][1]
    with scopes_disabled():
        type(declining).objects.filter(pk=declining.pk).update(lifecycle_stage=LifecycleStage.CHURNED)

    recompute(tenant_a, account_ids=[declining.pk])  # the account's own event, or the hourly run
    recompute(tenant_a)  # nothing left to clear: no second record

    assert "Declining" not in scores(tenant_a)
    with scopes_disabled():
        change = BandChange.objects.get(account=declining)
        assert (change.from_band, change.to_band, change.to_score) == (band, "", None)
        assert HealthSnapshot.objects.filter(account=declining).exists()  # history is kept
    with tenant_scope(tenant_a):
        counted = sum(group.total for group in band_distribution(tenant=tenant_a, by="owner"))
    assert counted == 2
    page = client_for(lena).get(reverse("accounts:detail", kwargs={"account_id": declining.pk}))
    assert 'id="health-not-scored"' in page.content.decode()


def test_a_history_only_replay_writes_the_days_snapshots_and_no_current_score(tenant_a, accounts):
    week_ago = TODAY - dt.timedelta(days=7)
    recompute(tenant_a, as_of=week_ago, history_only=True)
    assert scores(tenant_a) == {}
    with scopes_disabled():
        assert HealthSnapshot.objects.filter(day=week_ago).count() == 3
    recompute(tenant_a)
    with scopes_disabled():
        assert HealthScore.objects.filter(change_7d__isnull=False).count() == 3  # against the replayed day
        assert not BandChange.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_deleting_an_account_waits_for_a_running_recompute_and_leaves_no_score_of_it(tenant_a, accounts):
    """Scores and snapshots name their account without a database constraint (health.models):
    an admin's deletion of the account must wait for a recompute that is writing them, then
    cascade to them, instead of leaving a score of an account that no longer exists."""
    from django.contrib import admin

    from accounts.models import Account

    doomed = accounts["declining"]

    def delete() -> None:
        with scopes_disabled():
            admin.site._registry[Account].delete_model(None, doomed)

    # The recompute writes the account's score and snapshot, not committed yet.
    waited, deleted_after = waits_for_commit(lambda: recompute(tenant_a), delete)

    assert waited
    assert deleted_after
    assert set(scores(tenant_a)) == {"Healthy", "Silent"}
    with scopes_disabled():
        assert not HealthSnapshot.objects.filter(account_id=doomed.pk).exists()
