"""The health demo rows: stories that decline and grow, snapshots for the trend, deterministic."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from django.db import transaction
from django_scopes import scopes_disabled

from csplatform import demo
from health import scoring
from health.models import HealthScore, HealthSnapshot, UsageDay

TODAY = dt.date(2026, 11, 24)
SEEDERS = ["successplans.demo.successplans_seed", "health.demo.health_seed"]
pytestmark = pytest.mark.django_db


def seeded_digest() -> tuple[str, dict]:
    """Seed an empty database, fingerprint the health rows (no ids), and roll it all back."""
    with transaction.atomic():
        demo.demo_seed(account_count=80, tenant_count=1, today=TODAY)
        with scopes_disabled():
            scores = list(HealthScore.objects.select_related("account", "config").order_by("account__name"))
            rows = [
                *UsageDay.objects.values_list("account__name", "day", "active_users", "licensed_seats", "feature_mask"),
                *HealthSnapshot.objects.values_list("account__name", "day", "score", "band"),
                *((s.account.name, s.score, s.band, s.change_7d) for s in scores),
            ]
            facts = {
                "trends": [
                    next(
                        row["raw"]
                        for row in scoring.breakdown_parse(s.breakdown, s.config.definition)
                        if row["key"] == "usage_trend"
                    )
                    for s in scores
                ],
                "snapshot_days": set(HealthSnapshot.objects.values_list("day", flat=True)),
                "scored": len(scores),
                "milestones": sum(
                    1
                    for s in scores
                    for row in scoring.breakdown_parse(s.breakdown, s.config.definition)
                    if row["key"] == "milestones" and not row["missing"]
                ),
            }
        transaction.set_rollback(True)
    return hashlib.sha256("\n".join(sorted(map(repr, rows))).encode()).hexdigest(), facts


def test_the_health_demo_has_declining_and_growing_accounts_a_trend_and_is_deterministic(monkeypatch):
    monkeypatch.setattr(demo, "APP_SEEDERS", SEEDERS)
    digest, facts = seeded_digest()

    assert facts["scored"] > 50
    trends = [raw for raw in facts["trends"] if raw is not None]
    assert any(raw <= -25 for raw in trends), "some accounts visibly decline"
    assert any(raw >= 10 for raw in trends), "some accounts grow"
    # Replayed past days: the 7- and 30-day comparisons and the 90-day chart have snapshots.
    assert {TODAY, TODAY - dt.timedelta(days=7), TODAY - dt.timedelta(days=30)} <= facts["snapshot_days"]
    # Every day of the last month, every third before it: the chart is a line, not five dots.
    assert {TODAY - dt.timedelta(days=d) for d in range(31)} <= facts["snapshot_days"]
    assert len(facts["snapshot_days"]) >= 50
    assert facts["milestones"] > 0  # success plans feed the milestones measure

    assert seeded_digest()[0] == digest


def test_a_load_test_tenant_gets_its_signals_from_sql_with_the_same_stories(monkeypatch):
    """Over ``LARGE_TENANT_ACCOUNTS`` on PostgreSQL the signals are planned by the database:
    every kind is there, some accounts decline and some grow, and the score is replayed 7 days ago."""
    from health import demo as health_demo
    from health.models import Invoice, MarketingEngagement, Pulse, SupportTicket, SurveyResponse

    monkeypatch.setattr(demo, "APP_SEEDERS", ["health.demo.health_seed"])
    monkeypatch.setattr(health_demo, "LARGE_TENANT_ACCOUNTS", 10)
    lines = []
    with transaction.atomic():
        demo.demo_seed(account_count=120, tenant_count=1, today=TODAY, log=lines.append)
        with scopes_disabled():
            assert any("health signals in SQL" in line for line in lines)
            for model in (UsageDay, SurveyResponse, SupportTicket, Invoice, MarketingEngagement, Pulse):
                assert model.objects.exists(), model.__name__
            scores = list(HealthScore.objects.select_related("config"))
            trends = [
                row["raw"]
                for s in scores
                for row in scoring.breakdown_parse(s.breakdown, s.config.definition)
                if row["key"] == "usage_trend" and row["raw"] is not None
            ]
            days = set(HealthSnapshot.objects.values_list("day", flat=True))
        transaction.set_rollback(True)
    assert len(scores) > 80
    assert any(raw <= -25 for raw in trends)
    assert any(raw >= 10 for raw in trends)
    assert days == {TODAY, TODAY - dt.timedelta(days=7)}
    assert any(s.change_7d is not None for s in scores)  # the trend arrow, against the replayed day
