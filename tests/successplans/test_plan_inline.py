"""Editing the plan in place: a milestone's status, a measure's current value and a new
milestone, swapped in by htmx, with errors inline (422) and the same forms working without
JavaScript."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from csplatform.tenancy import tenant_scope
from successplans.models import Measure, Milestone
from tests.factories import AccountFactory

from .factories import MeasureFactory, MilestoneFactory, PlanFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def plan(tenant_a, bob):
    with scopes_disabled():
        account = AccountFactory(
            tenant=tenant_a, name="Zephyr Logistics", owner=bob, customer_since=dt.date(2026, 1, 1)
        )
        return PlanFactory(account=account, start_date=dt.date(2026, 1, 10))


@pytest.fixture
def first_value(plan, bob):
    with scopes_disabled():
        return MilestoneFactory(
            plan=plan, title="First report live", owner_user=bob, is_first_value=True, due_date=dt.date(2020, 1, 1)
        )


@pytest.fixture
def measure(plan):
    with scopes_disabled():
        return MeasureFactory(plan=plan, name="Days to close", current=Decimal("10"))


def _status_url(milestone):
    return reverse("successplans:milestone_status", kwargs={"plan_id": milestone.plan_id, "milestone_id": milestone.pk})


def _current_url(measure):
    return reverse("successplans:measure_current", kwargs={"plan_id": measure.plan_id, "measure_id": measure.pk})


def test_the_plan_page_offers_the_inline_forms_to_its_manager_only(client_for, plan, first_value, measure, bob, bea):
    html = client_for(bob).get(reverse("successplans:plan_detail", kwargs={"plan_id": plan.pk})).content.decode()
    assert f'hx-post="{_status_url(first_value)}"' in html
    assert f'hx-post="{_current_url(measure)}"' in html
    assert 'id="milestone-add"' in html
    other = client_for(bea).get(reverse("successplans:plan_detail", kwargs={"plan_id": plan.pk})).content.decode()
    assert _status_url(first_value) not in other
    assert _current_url(measure) not in other
    assert 'id="milestone-add"' not in other


def test_marking_the_first_value_milestone_done_inline_swaps_the_milestones_and_updates_ttfv(
    client_for, plan, first_value, bob
):
    response = client_for(bob).post(_status_url(first_value), {"status": "done"}, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section class="card mb-3" aria-labelledby="milestones-title" id="milestones">')
    assert "<html" not in html
    assert '<option value="done" selected>' in html
    assert "1 of 1 done" in html
    # The badge and TTFV elsewhere on the page follow, out of band.
    assert 'id="plan-status" hx-swap-oob="true">On track' in html
    with scopes_disabled():
        first_value.refresh_from_db()
        plan.refresh_from_db()
    assert first_value.status == "done"
    assert first_value.done_on is not None
    assert plan.first_value_met_on == first_value.done_on
    assert f'id="ttfv" hx-swap-oob="true">{plan.ttfv_days} day' in html


def test_a_bad_status_is_an_inline_error_422_and_changes_nothing(client_for, plan, first_value, bob):
    response = client_for(bob).post(_status_url(first_value), {"status": "finished"}, **HTMX)
    assert response.status_code == 422
    html = response.content.decode()
    assert "<html" not in html
    error = html.split(f'id="status-{first_value.pk}-error">')[1].split("</div>")[0]
    assert "Choose planned, in progress or done." in error
    with scopes_disabled():
        assert Milestone.objects.get(pk=first_value.pk).status == "planned"


def test_without_javascript_the_status_form_posts_and_returns_to_the_plan(client_for, plan, first_value, bob):
    client = client_for(bob)
    response = client.post(_status_url(first_value), {"status": "in_progress"})
    assert response.status_code == 302
    assert response["Location"] == reverse("successplans:plan_detail", kwargs={"plan_id": plan.pk})
    page = client.get(response["Location"]).content.decode()
    assert "“First report live” is in progress." in page
    bad = client.post(_status_url(first_value), {"status": ""})
    assert bad.status_code == 422
    html = bad.content.decode()
    assert "<html" in html
    assert f'id="status-{first_value.pk}-error"' in html
    with scopes_disabled():
        assert Milestone.objects.get(pk=first_value.pk).status == "in_progress"


def test_the_current_value_of_a_measure_is_set_inline(client_for, plan, measure, bob):
    response = client_for(bob).post(_current_url(measure), {"current": "6.5"}, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.startswith('<tbody id="measures">')
    assert 'value="6.50"' in html
    with scopes_disabled():
        assert Measure.objects.get(pk=measure.pk).current == Decimal("6.5")


@pytest.mark.parametrize(
    ("value", "message"), [("", "Give the current value."), ("lots", "Give the current value as a number.")]
)
def test_a_bad_current_value_is_an_inline_error_422_and_changes_nothing(client_for, plan, measure, bob, value, message):
    response = client_for(bob).post(_current_url(measure), {"current": value}, **HTMX)
    assert response.status_code == 422
    html = response.content.decode()
    assert message in html.split(f'id="current-{measure.pk}-error">')[1].split("</div>")[0]
    assert f'value="{value}"' in html  # what was typed stays for correcting
    with scopes_disabled():
        assert Measure.objects.get(pk=measure.pk).current == Decimal("10")
    plain = client_for(bob).post(_current_url(measure), {"current": value})
    assert plain.status_code == 422
    assert "<html" in plain.content.decode()


def test_a_milestone_is_added_without_a_reload_and_owned_by_the_csm_when_ours(client_for, plan, bob):
    url = reverse("successplans:milestone_add", kwargs={"plan_id": plan.pk})
    data = {"quick": "1", "add-title": "Admin training", "add-owner_side": "us", "add-due_date": "2026-03-01"}
    response = client_for(bob).post(url, data, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="milestones"' in html
    assert "Admin training" in html
    assert 'name="add-title"' in html  # a fresh form for the next one
    assert 'value="Admin training"' not in html
    with scopes_disabled():
        added = Milestone.objects.get(plan=plan, title="Admin training")
    assert (added.owner_user, added.status, added.due_date) == (bob, "planned", dt.date(2026, 3, 1))


def test_a_customer_milestone_added_inline_has_no_owner_of_ours(client_for, plan, bob):
    url = reverse("successplans:milestone_add", kwargs={"plan_id": plan.pk})
    data = {"quick": "1", "add-title": "Name the admins", "add-owner_side": "customer", "add-due_date": "2026-03-01"}
    assert client_for(bob).post(url, data).status_code == 302
    with scopes_disabled():
        added = Milestone.objects.get(plan=plan, title="Name the admins")
    assert added.owner_user is None
    assert added.owner_side == "customer"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"add-title": ""}, "title"),
        ({"add-due_date": "someday"}, "due_date"),
        ({"add-owner_side": "them"}, "owner_side"),
    ],
)
def test_bad_inline_milestone_input_names_the_field_422_and_writes_nothing(client_for, plan, bob, changes, field):
    url = reverse("successplans:milestone_add", kwargs={"plan_id": plan.pk})
    data = {
        "quick": "1",
        "add-title": "Admin training",
        "add-owner_side": "us",
        "add-due_date": "2026-03-01",
        **changes,
    }
    response = client_for(bob).post(url, data, **HTMX)
    assert response.status_code == 422
    html = response.content.decode()
    assert f'id="id_add-{field}_error"' in html
    assert "<html" not in html
    with scopes_disabled():
        assert not Milestone.objects.filter(plan=plan).exists()
    plain = client_for(bob).post(url, data)
    assert plain.status_code == 422
    assert f'id="id_add-{field}_error"' in plain.content.decode()


def test_others_cannot_change_the_plan_inline(client_for, plan, first_value, measure, bea, sam, charlie):
    add = reverse("successplans:milestone_add", kwargs={"plan_id": plan.pk})
    for user in (bea, sam):
        client = client_for(user)
        assert client.post(_status_url(first_value), {"status": "done"}, **HTMX).status_code == 403
        assert client.post(_current_url(measure), {"current": "1"}, **HTMX).status_code == 403
        quick = {"quick": "1", "add-title": "X", "add-owner_side": "us", "add-due_date": "2026-03-01"}
        assert client.post(add, quick, **HTMX).status_code == 403
    other = client_for(charlie)
    assert other.post(_status_url(first_value), {"status": "done"}).status_code == 404
    assert other.post(_current_url(measure), {"current": "1"}).status_code == 404
    with scopes_disabled():
        assert Milestone.objects.get(pk=first_value.pk).status == "planned"
        assert Measure.objects.get(pk=measure.pk).current == Decimal("10")
        assert Milestone.objects.filter(plan=plan).count() == 1


def test_a_milestone_change_queues_a_health_recompute_of_the_account(
    client_for, plan, first_value, bob, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr("health.services._account_recompute_enqueue", lambda t, a: queued.append((t, a)))
    with django_capture_on_commit_callbacks(execute=True):
        client_for(bob).post(_status_url(first_value), {"status": "done"}, **HTMX)
    assert queued == [(plan.tenant_id, plan.account_id)]


def test_milestone_slippage_lowers_the_health_score(tenant_a, plan, bob):
    """Issue 6's last point, end to end through the health app's recompute."""
    from health.models import HealthScore
    from health.services import health_recompute
    from successplans.services import milestone_status_set

    with scopes_disabled():
        MilestoneFactory(plan=plan, owner_user=bob, due_date=dt.date(2020, 1, 1), status="done")
        slipping = MilestoneFactory(plan=plan, owner_user=bob, due_date=dt.date(2020, 2, 1), status="done")
    with tenant_scope(tenant_a):
        health_recompute(tenant=tenant_a, account_ids=[plan.account_id])
        before = HealthScore.objects.get(account_id=plan.account_id)
        milestone_status_set(plan=plan, milestone=slipping, status="in_progress")
        health_recompute(tenant=tenant_a, account_ids=[plan.account_id])
        after = HealthScore.objects.get(account_id=plan.account_id)
    assert before.breakdown["milestones:raw"] == 100.0
    assert after.breakdown["milestones:raw"] == 50.0
    assert after.csm_score < before.csm_score
    assert after.score < before.score
