"""Demo rows of success plans: an account executive, impact journeys for the high- and
low-touch segments, handoffs of the newest accounts in every state (some bad fit), and joint
impact plans seeded from the journeys, with milestones done, on time and overdue.

Set-based: a bounded number of accounts (``HANDOFF_COUNT``, ``PLAN_COUNT``) whatever the
tenant's size, written with ``bulk_create`` / ``bulk_update``.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.utils import timezone

from accounts.models import Account, LifecycleStage, TouchModel
from csplatform.models import Membership, Role, Tenant, User

from .models import (
    FIT_QUESTIONS,
    NEW_ACCOUNT_STAGES,
    Handoff,
    HandoffStatus,
    ImpactJourney,
    ImpactStatement,
    JourneyStep,
    Measure,
    Milestone,
    MilestoneStatus,
    OwnerSide,
    SuccessPlan,
    fit_category,
)

HANDOFF_COUNT = 16
# The newest owned accounts in handoff / onboarding are left without a handoff or a plan, so an
# account executive has a new account to hand off on the demo (issue 6's walk-through).
OPEN_FOR_HANDOFF = 2
PLAN_COUNT = 40

JOURNEYS = {
    TouchModel.HIGH: (
        "Strategic onboarding",
        [
            ("Orchestration meeting: agree the joint impact plan", "us", 7, False),
            ("Technical kickoff and data access", "us", 14, False),
            ("Customer names project owner and admins", "customer", 14, False),
            ("First use case live in production", "us", 45, True),
            ("Customer trains the first team", "customer", 60, False),
            ("First impact review (QBR)", "us", 90, False),
        ],
    ),
    TouchModel.LOW: (
        "Guided onboarding",
        [
            ("Kickoff call and success criteria", "us", 5, False),
            ("Customer connects the first data source", "customer", 14, False),
            ("First dashboard shared with the team", "us", 30, True),
            ("Usage check and next use case", "us", 60, False),
        ],
    ),
}
SITUATIONS = [
    "Three regional teams report from spreadsheets stitched together by hand.",
    "A central analytics team serves 400 business users with a two-week backlog.",
    "Operations runs on a legacy tool that is out of support next year.",
]
PAINS = [
    "Month-end reporting takes ten working days.",
    "Leaders do not trust the numbers: each region computes them differently.",
    "Every new report needs an engineer.",
]
IMPACTS = [
    ("Close the month faster", "Days to close", Decimal("10"), Decimal("4"), "days"),
    ("Self-serve reports", "Reports built by business users a month", Decimal("0"), Decimal("40"), "reports"),
    ("Fewer data incidents", "Incidents a quarter", Decimal("12"), Decimal("3"), "incidents"),
]


def _sales_user(tenant: Tenant, rng: random.Random) -> User:
    email = f"sales@{tenant.slug}.demo"
    user = User.objects.filter(email=email).first()
    if user is None:
        from csplatform.demo import DEMO_PASSWORD

        user = User.objects.create(
            email=email,
            full_name=rng.choice(["Sam Rivera", "Alex Moreau", "Jo Becker"]),
            password=make_password(DEMO_PASSWORD),
        )
    Membership.objects.get_or_create(tenant=tenant, user=user, defaults={"role": Role.SALES})
    return user


def _journeys(tenant: Tenant) -> dict[int, tuple[ImpactJourney, list[JourneyStep]]]:
    from accounts.models import Segment

    by_segment = {}
    for segment in Segment.objects.filter(tenant=tenant, touch_model__in=list(JOURNEYS)):
        name, steps = JOURNEYS[segment.touch_model]
        journey = ImpactJourney.objects.create(tenant=tenant, segment=segment, name=name)
        rows = JourneyStep.objects.bulk_create(
            JourneyStep(tenant=tenant, journey=journey, title=t, owner_side=side, due_after_days=d, is_first_value=fv)
            for t, side, d, fv in steps
        )
        by_segment[segment.pk] = (journey, rows)
    return by_segment


def successplans_seed(
    *, tenant: Tenant, rng: random.Random, today: dt.date, use_copy: bool, log: Callable[[str], None]
) -> None:
    sales = _sales_user(tenant, rng)
    journeys = _journeys(tenant)
    live = Account.objects.filter(tenant=tenant, owner__isnull=False).exclude(lifecycle_stage=LifecycleStage.CHURNED)
    open_for_handoff = list(
        live.filter(customer_since__isnull=False, lifecycle_stage__in=NEW_ACCOUNT_STAGES)
        .order_by("-customer_since", "pk")
        .values_list("pk", flat=True)[:OPEN_FOR_HANDOFF]
    )
    newest = list(
        live.filter(customer_since__isnull=False)
        .exclude(pk__in=open_for_handoff)
        .order_by("-customer_since", "pk")[:HANDOFF_COUNT]
    )
    states = [HandoffStatus.DRAFT, HandoffStatus.SUBMITTED, HandoffStatus.SENT_BACK] + [HandoffStatus.ACCEPTED] * 3
    handoffs = []
    for number, account in enumerate(newest):
        answers = {name: rng.choices(["yes", "partly", "no"], weights=[75, 20, 5])[0] for name in FIT_QUESTIONS}
        if number % 7 == 3:
            answers["fit_functional"] = "no"  # a bad fit for the leader's list
        status = states[number % len(states)]
        created = timezone.make_aware(dt.datetime.combine(account.customer_since - dt.timedelta(days=3), dt.time(10)))
        handoffs.append(
            Handoff(
                tenant=tenant,
                account=account,
                author=sales,
                status=status,
                situation=rng.choice(SITUATIONS),
                pain=rng.choice(PAINS),
                impact="Faster, trusted numbers for every region.",
                critical_event="" if status == HandoffStatus.DRAFT else "Board reporting cycle",
                critical_event_date=None if status == HandoffStatus.DRAFT else today + dt.timedelta(days=90),
                decision_criteria="Native connectors, governance, time to value.",
                **answers,
                fit_category=fit_category(answers),
                win_protagonist_name="" if number % 2 else "Maya Chen",
                win_protagonist_title="" if number % 2 else "VP Finance",
                win_problem="Month-end reporting took ten days.",
                win_decision_criteria="Connectors and governance out of the box.",
                review_comment="Add the critical event's owner." if status == HandoffStatus.SENT_BACK else "",
                reviewed_by=account.owner if status in (HandoffStatus.ACCEPTED, HandoffStatus.SENT_BACK) else None,
                submitted_at=None if status == HandoffStatus.DRAFT else created + dt.timedelta(days=1),
                reviewed_at=created + dt.timedelta(days=3) if status != HandoffStatus.DRAFT else None,
                created_at=created,
            )
        )
    handoffs = Handoff.objects.bulk_create(handoffs)
    Handoff.objects.bulk_update(handoffs, ["created_at"])  # bulk_create stamped "now"
    ImpactStatement.objects.bulk_create(
        ImpactStatement(tenant=tenant, handoff=h, statement=s, measure=m, baseline=b, target=t, unit=u)
        for h in handoffs
        for s, m, b, t, u in [rng.choice(IMPACTS)]
    )

    accepted = {h.account_id: h for h in handoffs if h.status == HandoffStatus.ACCEPTED}
    handed = {h.account_id for h in handoffs}
    others = list(
        live.filter(segment_id__in=list(journeys), customer_since__isnull=False)
        .exclude(pk__in=[*handed, *open_for_handoff])
        .order_by("-customer_since", "pk")[: PLAN_COUNT - len(accepted)]
    )
    accounts = [h.account for h in accepted.values()] + others
    plans, milestones, measures = [], [], []
    for account in accounts:
        start = account.customer_since + dt.timedelta(days=rng.randint(2, 10))
        journey, steps = journeys.get(account.segment_id, (None, []))
        plan = SuccessPlan(
            tenant=tenant,
            account=account,
            handoff=accepted.get(account.pk),
            journey=journey,
            start_date=start,
            first_value_goal="The first team runs its weekly review from the product.",
            twelve_month_goal="Every region closes the month in four days.",
            next_steps="Agree the next use case with the sponsor.",
            next_review_date=today + dt.timedelta(days=rng.randint(10, 80)),
        )
        plans.append(plan)
        slipping = rng.random() < 0.3
        for step in steps:
            due = start + dt.timedelta(days=step.due_after_days)
            done = due < today and not (slipping and rng.random() < 0.5)
            done_on = min(due + dt.timedelta(days=rng.randint(-5, 12)), today) if done else None
            milestones.append(
                Milestone(
                    tenant=tenant,
                    plan=plan,
                    title=step.title,
                    owner_side=step.owner_side,
                    owner_user_id=account.owner_id if step.owner_side == OwnerSide.US else None,
                    due_date=due,
                    status=MilestoneStatus.DONE if done else MilestoneStatus.PLANNED,
                    done_on=done_on,
                    is_first_value=step.is_first_value,
                )
            )
            if step.is_first_value:
                plan.first_value_target_date = due
                plan.first_value_met_on = done_on
        _name, measure, baseline, target, unit = rng.choice(IMPACTS)
        current = baseline + (target - baseline) * Decimal(rng.randint(0, 80)) / 100
        measures.append(
            Measure(
                tenant=tenant, plan=plan, name=measure, unit=unit, baseline=baseline, target=target, current=current
            )
        )
    SuccessPlan.objects.bulk_create(plans)
    for row in milestones + measures:
        row.plan_id = row.plan.pk
    Milestone.objects.bulk_create(milestones)
    Measure.objects.bulk_create(measures)
    log(f"{tenant.name}: {len(handoffs)} handoffs, {len(plans)} plans, {len(milestones)} milestones")
