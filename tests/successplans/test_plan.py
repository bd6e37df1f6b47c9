"""The joint impact plan: milestones, TTFV, the customer-facing view and its share link,
impact reviews, and the milestones-on-track measure for the health score."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from accounts.models import Activity, ActivityKind
from csplatform.tenancy import tenant_scope
from successplans.models import ImpactReview, Measure, Milestone, PlanShareLink, ReviewResult
from successplans.services import milestone_save, milestones_on_track_by_account, plan_share_link_create
from tests.factories import AccountFactory, ContactFactory

from .factories import HandoffFactory, MeasureFactory, MilestoneFactory, PlanFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan(tenant_a, bob):
    with scopes_disabled():
        account = AccountFactory(
            tenant=tenant_a, name="Zephyr Logistics", owner=bob, customer_since=dt.date(2026, 1, 1)
        )
        return PlanFactory(account=account, start_date=dt.date(2026, 1, 10), handoff=HandoffFactory(account=account))


def test_ttfv_counts_from_the_contract_start_else_the_plan_start(plan):
    assert plan.ttfv_days is None
    plan.first_value_met_on = dt.date(2026, 2, 15)
    assert plan.ttfv_days == 45
    plan.account.customer_since = None
    assert plan.ttfv_days == 36


def test_completing_the_first_value_milestone_records_first_value_met(plan, bob):
    with scopes_disabled():
        milestone = MilestoneFactory(plan=plan, is_first_value=True, owner_user=bob)
    with tenant_scope(plan.tenant):
        milestone_save(
            plan=plan, milestone=milestone, title=milestone.title, owner_side="us", owner_user=bob,
            due_date=milestone.due_date, status="done", done_on=dt.date(2026, 2, 20), is_first_value=True,
        )  # fmt: skip
        plan.refresh_from_db()
    assert plan.first_value_met_on == dt.date(2026, 2, 20)
    assert plan.ttfv_days == 50


def test_the_owner_csm_edits_a_milestone_and_marks_it_done(client_for, plan, bob):
    with scopes_disabled():
        milestone = MilestoneFactory(plan=plan, title="Kickoff", due_date=dt.date(2026, 1, 20))
    url = reverse("successplans:milestone_edit", kwargs={"plan_id": plan.pk, "milestone_id": milestone.pk})
    data = {
        "title": "Kickoff held",
        "owner_side": "us",
        "owner_user": bob.pk,
        "due_date": "2026-01-20",
        "status": "done",
    }
    assert client_for(bob).post(url, data).status_code == 302
    with scopes_disabled():
        milestone.refresh_from_db()
    assert (milestone.title, milestone.status, milestone.owner_user_id) == ("Kickoff held", "done", bob.pk)
    assert milestone.done_on is not None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": ""}, "title"),
        ({"due_date": "soon"}, "due_date"),
        ({"owner_side": "customer"}, "owner_user"),  # our person owning the customer's homework
        ({"status": "finished"}, "status"),
    ],
)
def test_bad_milestone_input_names_the_field_and_writes_nothing(client_for, plan, bob, changes, field):
    data = {"title": "Kickoff", "owner_side": "us", "owner_user": bob.pk, "due_date": "2026-01-20", "status": "planned"}
    response = client_for(bob).post(
        reverse("successplans:milestone_add", kwargs={"plan_id": plan.pk}), {**data, **changes}
    )
    assert response.status_code == 422
    assert f'id="id_{field}_error"' in response.content.decode()
    with scopes_disabled():
        assert not Milestone.objects.exists()


def test_a_milestone_owner_contact_must_be_of_the_plans_account(client_for, tenant_a, plan, bob):
    with scopes_disabled():
        stranger = ContactFactory(account=AccountFactory(tenant=tenant_a))
    data = {"title": "Invite users", "owner_side": "customer", "owner_contact": stranger.pk, "due_date": "2026-02-01"}
    response = client_for(bob).post(
        reverse("successplans:milestone_add", kwargs={"plan_id": plan.pk}), {**data, "status": "planned"}
    )
    assert response.status_code == 422
    assert 'id="id_owner_contact_error"' in response.content.decode()


def test_bad_measure_input_names_the_field(client_for, plan, bob):
    response = client_for(bob).post(
        reverse("successplans:measure_add", kwargs={"plan_id": plan.pk}), {"name": "Days", "target": "four"}
    )
    assert response.status_code == 422
    assert 'id="id_target_error"' in response.content.decode()
    with scopes_disabled():
        assert not Measure.objects.exists()


def test_another_csm_and_sales_may_read_the_plan_but_not_change_it(client_for, plan, bea, sam):
    for user in (bea, sam):
        client = client_for(user)
        assert client.get(reverse("successplans:plan_detail", kwargs={"plan_id": plan.pk})).status_code == 200
        assert client.get(reverse("successplans:plan_edit", kwargs={"plan_id": plan.pk})).status_code == 403
        assert client.post(reverse("successplans:plan_share", kwargs={"plan_id": plan.pk})).status_code == 403
        assert client.get(reverse("successplans:review_create", kwargs={"plan_id": plan.pk})).status_code == 403


def test_the_plan_page_flags_overdue_milestones_with_bounded_queries(
    client_for, plan, bob, django_assert_max_num_queries
):
    with scopes_disabled():
        late = MilestoneFactory(plan=plan, due_date=dt.date(2020, 1, 1))
        MilestoneFactory(plan=plan, due_date=dt.date(2020, 1, 1), status="done", done_on=dt.date(2020, 1, 1))
        for _ in range(5):
            MilestoneFactory(plan=plan, due_date=dt.date(2099, 1, 1), owner_user=bob)
            MeasureFactory(plan=plan)
    client = client_for(bob)
    with django_assert_max_num_queries(14):
        response = client.get(reverse("successplans:plan_detail", kwargs={"plan_id": plan.pk}))
    html = response.content.decode()
    assert html.count("milestone-overdue") == 1
    assert f'id="milestone-{late.pk}" class="table-danger milestone-overdue"' in html
    assert "At risk: 1 overdue" in html


def test_the_share_link_shows_only_that_plan_and_is_404_once_revoked(client, client_for, tenant_a, plan, bob):
    with scopes_disabled():
        MilestoneFactory(plan=plan, title="Connect the ERP")
        other = PlanFactory(account=AccountFactory(tenant=tenant_a, name="Secret Other Account"))
        MilestoneFactory(plan=other, title="Other plan's milestone")
    assert client_for(bob).post(reverse("successplans:plan_share", kwargs={"plan_id": plan.pk})).status_code == 302
    with scopes_disabled():
        link = PlanShareLink.objects.get(plan=plan, revoked_at__isnull=True)
    url = reverse("successplans:plan_shared", kwargs={"token": link.token})
    response = client.get(url)  # signed out
    html = response.content.decode()
    assert response.status_code == 200
    assert "Zephyr Logistics" in html
    assert "Connect the ERP" in html
    assert "Secret Other Account" not in html
    assert "Other plan" not in html
    assert "All accounts" not in html  # no navigation into the tenant
    assert response["X-Robots-Tag"] == "noindex"

    assert client.get(reverse("successplans:plan_shared", kwargs={"token": link.token + "x"})).status_code == 404
    client_for(bob).post(reverse("successplans:plan_share_revoke", kwargs={"plan_id": plan.pk}))
    assert client.get(url).status_code == 404


def test_a_new_share_link_retires_the_old_one(client, plan, bob):
    with tenant_scope(plan.tenant):
        first = plan_share_link_create(plan=plan, by=bob)
        second = plan_share_link_create(plan=plan, by=bob)
    assert client.get(reverse("successplans:plan_shared", kwargs={"token": first.token})).status_code == 404
    assert client.get(reverse("successplans:plan_shared", kwargs={"token": second.token})).status_code == 200


def test_a_signed_in_user_of_another_tenant_sees_a_shared_plan_and_nothing_more(client_for, plan, bob, charlie):
    with tenant_scope(plan.tenant):
        link = plan_share_link_create(plan=plan, by=bob)
    response = client_for(charlie).get(reverse("successplans:plan_shared", kwargs={"token": link.token}))
    assert response.status_code == 200
    assert "Zephyr Logistics" in response.content.decode()
    # and the plan's own page stays closed to them
    assert client_for(charlie).get(reverse("successplans:plan_detail", kwargs={"plan_id": plan.pk})).status_code == 404


def test_the_customer_view_is_print_friendly(client_for, plan, bob):
    response = client_for(bob).get(reverse("successplans:plan_customer", kwargs={"plan_id": plan.pk}))
    html = response.content.decode()
    assert "@media print" in html
    assert "First board report built in the product" in html


def test_an_impact_review_opens_with_spiced_updates_measures_and_logs_a_qbr(client_for, plan, bob):
    with scopes_disabled():
        measure = MeasureFactory(plan=plan, current=Decimal("10"))
    url = reverse("successplans:review_create", kwargs={"plan_id": plan.pk})
    page = client_for(bob).get(url).content.decode()
    assert "Month-end close takes ten days." in page  # the SPICED pain
    assert "First board report built in the product" in page  # the First Value goal
    data = {
        "kind": "qbr",
        "held_on": "2026-04-01",
        "results": "Close down to 7 days",
        "objectives": "Close in 5 days by July",
        "next_steps": "Roll out to EMEA",
        "next_review_date": "2026-07-01",
        f"measure_{measure.pk}": "7",
    }
    assert client_for(bob).post(url, data).status_code == 302
    with scopes_disabled():
        review = ImpactReview.objects.get(plan=plan)
        measure.refresh_from_db()
        plan.refresh_from_db()
        activity = Activity.objects.get(account=plan.account)
        result = ReviewResult.objects.get(review=review)
    assert "Pain: Month-end close takes ten days." in review.spiced_summary
    assert measure.current == Decimal("7")
    assert (result.previous, result.value) == (Decimal("10"), Decimal("7"))
    assert plan.next_review_date == dt.date(2026, 7, 1)
    assert plan.next_steps == "Roll out to EMEA"
    assert activity.kind == ActivityKind.QBR
    assert review.activity_id == activity.pk
    assert list(activity.team.all()) == [bob]


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"objectives": ""}, "objectives"), ({"next_review_date": "2026-03-01"}, "next_review_date")],
)
def test_bad_review_input_names_the_field_and_writes_nothing(client_for, plan, bob, changes, field):
    data = {"kind": "ebr", "held_on": "2026-04-01", "objectives": "x", "next_review_date": "2026-07-01", **changes}
    response = client_for(bob).post(reverse("successplans:review_create", kwargs={"plan_id": plan.pk}), data)
    assert response.status_code == 422
    assert f'id="id_{field}_error"' in response.content.decode()
    with scopes_disabled():
        assert not ImpactReview.objects.exists()
        assert not Activity.objects.exists()


def test_milestones_on_track_by_account(tenant_a, tenant_b, django_assert_max_num_queries):
    today = dt.date(2026, 6, 1)
    with scopes_disabled():
        slipping = PlanFactory(account=AccountFactory(tenant=tenant_a))
        MilestoneFactory(plan=slipping, due_date=dt.date(2026, 5, 1), status="done", done_on=dt.date(2026, 5, 3))
        MilestoneFactory(plan=slipping, due_date=dt.date(2026, 5, 1))
        MilestoneFactory(plan=slipping, due_date=dt.date(2026, 5, 20), status="in_progress")
        MilestoneFactory(plan=slipping, due_date=dt.date(2026, 6, 1))  # due today: not yet slipped
        fresh = PlanFactory(account=AccountFactory(tenant=tenant_a))
        MilestoneFactory(plan=fresh, due_date=dt.date(2026, 9, 1))
        no_plan = AccountFactory(tenant=tenant_a)
        PlanFactory(account=AccountFactory(tenant=tenant_b))
    with tenant_scope(tenant_a), django_assert_max_num_queries(1):
        result = milestones_on_track_by_account(tenant=tenant_a, today=today)
    assert result == {slipping.account_id: pytest.approx(1 / 3), fresh.account_id: 1.0}
    with tenant_scope(tenant_a):
        narrowed = milestones_on_track_by_account(
            tenant=tenant_a, account_ids=[fresh.account_id, no_plan.pk], today=today
        )
    assert narrowed == {fresh.account_id: 1.0}
