"""factory_boy factories of the success-plan models. Related rows always share one tenant."""

import datetime as dt
from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from successplans.models import (
    Handoff,
    ImpactJourney,
    ImpactReview,
    ImpactStatement,
    JourneyStep,
    Measure,
    Milestone,
    SuccessPlan,
)
from tests.factories import AccountFactory, SegmentFactory


class HandoffFactory(DjangoModelFactory):
    class Meta:
        model = Handoff

    account = factory.SubFactory(AccountFactory)
    tenant = factory.SelfAttribute("account.tenant")
    situation = "Three regional finance teams on spreadsheets."
    pain = "Month-end close takes ten days."
    impact = "Close the month in four days."
    critical_event = "Audit in Q3"
    critical_event_date = dt.date(2026, 9, 30)
    decision_criteria = "Native ERP connector; SOC 2."
    fit_technical = "yes"
    fit_functional = "yes"
    fit_experience = "yes"
    fit_support = "yes"
    fit_buy_in = "yes"
    fit_category = "good"


class ImpactStatementFactory(DjangoModelFactory):
    class Meta:
        model = ImpactStatement

    handoff = factory.SubFactory(HandoffFactory)
    tenant = factory.SelfAttribute("handoff.tenant")
    statement = "Faster month-end close"
    measure = "Days to close"
    baseline = Decimal("10")
    target = Decimal("4")
    unit = "days"


class JourneyFactory(DjangoModelFactory):
    class Meta:
        model = ImpactJourney

    segment = factory.SubFactory(SegmentFactory)
    tenant = factory.SelfAttribute("segment.tenant")
    name = factory.Sequence(lambda n: f"Journey {n}")


class JourneyStepFactory(DjangoModelFactory):
    class Meta:
        model = JourneyStep

    journey = factory.SubFactory(JourneyFactory)
    tenant = factory.SelfAttribute("journey.tenant")
    title = factory.Sequence(lambda n: f"Step {n}")
    due_after_days = 14


class PlanFactory(DjangoModelFactory):
    class Meta:
        model = SuccessPlan

    account = factory.SubFactory(AccountFactory)
    tenant = factory.SelfAttribute("account.tenant")
    start_date = dt.date(2026, 1, 5)
    first_value_goal = "First board report built in the product"
    twelve_month_goal = "Every region closes in four days"


class MilestoneFactory(DjangoModelFactory):
    class Meta:
        model = Milestone

    plan = factory.SubFactory(PlanFactory)
    tenant = factory.SelfAttribute("plan.tenant")
    title = factory.Sequence(lambda n: f"Milestone {n}")
    due_date = dt.date(2026, 2, 1)


class MeasureFactory(DjangoModelFactory):
    class Meta:
        model = Measure

    plan = factory.SubFactory(PlanFactory)
    tenant = factory.SelfAttribute("plan.tenant")
    name = "Days to close"
    unit = "days"
    baseline = Decimal("10")
    target = Decimal("4")
    current = Decimal("10")


class ReviewFactory(DjangoModelFactory):
    class Meta:
        model = ImpactReview

    plan = factory.SubFactory(PlanFactory)
    tenant = factory.SelfAttribute("plan.tenant")
    held_on = dt.date(2026, 4, 1)
    objectives = "Close in six days"
    next_review_date = dt.date(2026, 7, 1)
