"""The success-plan milestones measure: due milestones done / due, from successplans."""

from __future__ import annotations

import datetime as dt

import pytest
from django_scopes import scopes_disabled

from accounts.models import Segment, TouchModel
from csplatform.tenancy import tenant_scope
from health import scoring, services
from health.models import HealthScore
from tests.factories import AccountFactory
from tests.successplans.factories import MilestoneFactory, PlanFactory

TODAY = dt.date(2026, 11, 24)
pytestmark = pytest.mark.django_db


@pytest.fixture
def planned(tenant_a, bob):
    """Two low-touch accounts with plans whose two due milestones are done, one without a plan."""
    with scopes_disabled():
        low = Segment.objects.get(tenant=tenant_a, touch_model=TouchModel.LOW)
        accounts = {
            name: AccountFactory(tenant=tenant_a, segment=low, owner=bob, name=name)
            for name in ("On track", "Slipping", "No plan")
        }
        for name in ("On track", "Slipping"):
            plan = PlanFactory(account=accounts[name])
            for days in (20, 10):
                MilestoneFactory(plan=plan, due_date=TODAY - dt.timedelta(days=days), status="done", done_on=TODAY)
            MilestoneFactory(plan=plan, due_date=TODAY + dt.timedelta(days=30), status="planned")
    return accounts


def measure_rows(tenant) -> dict[str, dict]:
    with scopes_disabled():
        scores = HealthScore.objects.filter(tenant=tenant).select_related("account", "config")
        return {
            score.account.name: {
                "score": score.score,
                **next(
                    row
                    for row in scoring.breakdown_parse(score.breakdown, score.config.definition)
                    if row["key"] == "milestones"
                ),
            }
            for score in scores
        }


def recompute(tenant):
    with tenant_scope(tenant):
        services.health_recompute(tenant=tenant, as_of=TODAY)


def test_milestones_on_track_score_full_points_and_a_missing_plan_leaves_the_measure_out(tenant_a, planned):
    recompute(tenant_a)
    rows = measure_rows(tenant_a)
    assert (rows["On track"]["raw"], rows["On track"]["points"], rows["On track"]["missing"]) == (100, 100, False)
    assert rows["On track"]["weight"] > 0
    assert rows["No plan"]["missing"]
    assert rows["No plan"]["weight"] == 0
    # Left out, not faked: the other measures' weights are renormalised to fill 100.
    with scopes_disabled():
        no_plan = HealthScore.objects.get(account=planned["No plan"])
        weights = [row["weight"] for row in scoring.breakdown_parse(no_plan.breakdown, no_plan.config.definition)]
    assert sum(weights) == pytest.approx(100, abs=0.5)


def test_slipping_milestones_lower_the_score(tenant_a, planned):
    with scopes_disabled():
        MilestoneFactory(
            plan=planned["Slipping"].success_plans.get(),
            due_date=TODAY - dt.timedelta(days=5),
            status="in_progress",
        )
        MilestoneFactory(
            plan=planned["Slipping"].success_plans.get(),
            due_date=TODAY - dt.timedelta(days=3),
            status="planned",
        )
    recompute(tenant_a)
    rows = measure_rows(tenant_a)
    assert rows["Slipping"]["raw"] == 50  # two of four due milestones done
    assert rows["Slipping"]["points"] < rows["On track"]["points"]
    assert rows["Slipping"]["score"] < rows["On track"]["score"]
    assert rows["Slipping"]["label"] == "Success-plan milestones on track"


def test_the_milestone_thresholds_are_part_of_the_editable_definition():
    spec = scoring.DEFAULT_DEFINITION["measures"]["milestones"]
    broken = {**scoring.DEFAULT_DEFINITION, "measures": {**scoring.DEFAULT_DEFINITION["measures"]}}
    broken["measures"]["milestones"] = {**spec, "thresholds": [[50, 40], [90, 100]]}
    assert "milestones.thresholds" in scoring.definition_errors(broken)
