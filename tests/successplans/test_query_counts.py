"""The success-plan pages make a fixed number of queries: the same bound holds for a small
plan and for one ten times larger, so no page queries once per row."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from accounts.models import ActivityContact, ActivityTeamMember, ContactLevel, Segment
from csplatform.tenancy import tenant_scope
from successplans.models import ReviewResult
from successplans.queries import account_coverage
from tests.conftest import _member
from tests.factories import AccountFactory, ActivityFactory, ContactFactory

from .factories import (
    HandoffFactory,
    ImpactStatementFactory,
    MeasureFactory,
    MilestoneFactory,
    PlanFactory,
    ReviewFactory,
)

pytestmark = pytest.mark.django_db

SIZES = [1, 10]


def _plan_of_size(tenant, owner, size):
    """A plan with ``size`` of everything: impact statements, milestones (both owner kinds),
    measures, reviews with results, and contacts."""
    account = AccountFactory(tenant=tenant, owner=owner, customer_since=dt.date(2026, 1, 1))
    handoff = HandoffFactory(account=account, status="accepted", author=owner)
    for _ in range(size):
        ImpactStatementFactory(handoff=handoff)
    plan = PlanFactory(account=account, handoff=handoff, next_review_date=dt.date(2026, 7, 1))
    contacts = [ContactFactory(account=account) for _ in range(size)]
    measures = [MeasureFactory(plan=plan, name=f"Measure {n}") for n in range(size)]
    for n in range(size):
        MilestoneFactory(plan=plan, owner_user=owner, due_date=dt.date(2020, 1, 1))
        MilestoneFactory(plan=plan, owner_side="customer", owner_contact=contacts[n], status="done")
    reviews = [ReviewFactory(plan=plan, created_by=owner, held_on=dt.date(2026, 1, 1 + n)) for n in range(size)]
    for measure in measures:
        ReviewResult.objects.create(tenant=tenant, review=reviews[0], measure=measure, value=Decimal("7"))
    return plan, handoff, reviews[0]


@pytest.mark.parametrize("size", SIZES)
def test_the_handoff_page_makes_a_fixed_number_of_queries(
    client_for, tenant_a, bob, size, django_assert_max_num_queries
):
    with scopes_disabled():
        _, handoff, _ = _plan_of_size(tenant_a, bob, size)
    client = client_for(bob)
    with django_assert_max_num_queries(9):
        response = client.get(reverse("successplans:handoff_detail", kwargs={"handoff_id": handoff.pk}))
    assert response.status_code == 200
    assert response.content.decode().count("Faster month-end close") == size


@pytest.mark.parametrize("size", SIZES)
def test_the_review_pages_make_a_fixed_number_of_queries(
    client_for, tenant_a, bob, size, django_assert_max_num_queries
):
    with scopes_disabled():
        plan, _, review = _plan_of_size(tenant_a, bob, size)
    client = client_for(bob)
    with django_assert_max_num_queries(9):
        response = client.get(
            reverse("successplans:review_detail", kwargs={"plan_id": plan.pk, "review_id": review.pk})
        )
    assert response.status_code == 200
    assert response.content.decode().count("Measure ") >= size
    with django_assert_max_num_queries(10):
        response = client.get(reverse("successplans:review_create", kwargs={"plan_id": plan.pk}))
    assert response.status_code == 200
    assert response.content.decode().count('name="measure_') == size


@pytest.mark.parametrize("size", SIZES)
def test_the_customer_view_makes_a_fixed_number_of_queries(
    client_for, client, tenant_a, bob, size, django_assert_max_num_queries
):
    with scopes_disabled():
        plan, _, _ = _plan_of_size(tenant_a, bob, size)
    signed_in = client_for(bob)
    with django_assert_max_num_queries(11):
        response = signed_in.get(reverse("successplans:plan_customer", kwargs={"plan_id": plan.pk}))
    assert response.status_code == 200
    assert response.content.decode().count("Measure ") >= size
    with django_assert_max_num_queries(11):
        response = signed_in.get(reverse("successplans:plan_detail", kwargs={"plan_id": plan.pk}))
    assert response.status_code == 200
    signed_in.post(reverse("successplans:plan_share", kwargs={"plan_id": plan.pk}))
    with scopes_disabled():
        token = plan.share_links.get().token
    with django_assert_max_num_queries(8):
        response = client.get(reverse("successplans:plan_shared", kwargs={"token": token}))
    assert response.status_code == 200


def test_coverage_of_a_large_account_takes_two_queries_and_ranks_the_3x3_map(
    tenant_a, bob, bea, django_assert_num_queries
):
    """Sixty contacts, five of our people and a hundred activities: still two queries, and the
    map keeps the three most-engaged people on each side."""
    with scopes_disabled():
        high = Segment.objects.get(tenant=tenant_a, name="High touch")
        account = AccountFactory(tenant=tenant_a, owner=bob, segment=high)
        team = [bob, bea, *(_member(tenant_a, "csm", f"csm{n}@acme.example", f"Csm {n}") for n in range(3))]
        levels = [ContactLevel.EXECUTIVE, ContactLevel.MANAGER, ContactLevel.END_USER]
        contacts = [ContactFactory(account=account, level=levels[n % 3]) for n in range(60)]
        ContactFactory(account=account, role="champion", level=ContactLevel.MANAGER)
        now = timezone.now()
        for n in range(100):
            activity = ActivityFactory(account=account, occurred_at=now - dt.timedelta(days=1 + n % 80))
            # bob is on every activity, bea on every other; contacts 0-2 on all, the rest in turn.
            for user in [*[bob, bea][: 1 + n % 2], team[2 + n % 3]]:
                ActivityTeamMember.objects.create(tenant=tenant_a, activity=activity, user=user)
            for contact in {contacts[0], contacts[1], contacts[2], contacts[3 + n % 57]}:
                ActivityContact.objects.create(tenant=tenant_a, activity=activity, contact=contact)
        old = ActivityFactory(account=account, occurred_at=now - dt.timedelta(days=200))
        ActivityContact.objects.create(tenant=tenant_a, activity=old, contact=ContactFactory(account=account))
    with tenant_scope(tenant_a), django_assert_num_queries(2):
        coverage = account_coverage(tenant=tenant_a, account=account, today=timezone.localdate())
    assert coverage.engaged_total == 60
    assert dict(coverage.engaged_by_level) == {"Director / VP and above": 20, "Manager": 20, "End user": 20}
    assert coverage.has_champion
    assert not coverage.has_sponsor
    assert [user.pk for user in coverage.our_people] == [bob.pk, bea.pk, coverage.our_people[2].pk]
    assert {contact.pk for contact in coverage.their_people} == {c.pk for c in contacts[:3]}
    assert coverage.show_map
    assert coverage.map_gaps == 0
