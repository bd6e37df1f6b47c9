"""Leader reads across the book: relationship gaps, new relationships against the admin's
target, TTFV by segment and plans on track per CSM. Each a fixed number of grouped queries."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from accounts.models import Account, ActivityContact, Contact, ContactRole, LifecycleStage
from csplatform.models import Membership, Role, Tenant

from .models import MilestoneStatus, RelationshipSettings, SuccessPlan
from .queries import ENGAGED_WINDOW_DAYS

LIST_LIMIT = 50
TTFV_BUCKETS = ((0, 30, "0-30 days"), (31, 60, "31-60 days"), (61, 90, "61-90 days"), (91, None, "over 90 days"))


def _live_accounts(tenant: Tenant):
    return Account.objects.filter(tenant=tenant).exclude(lifecycle_stage=LifecycleStage.CHURNED)


def accounts_without_champion(*, tenant: Tenant):
    """Live accounts with no current champion, largest ARR first."""
    champion = Contact.objects.filter(
        tenant=tenant, account=OuterRef("pk"), role=ContactRole.CHAMPION, left_on__isnull=True
    )
    return _live_accounts(tenant).filter(~Exists(champion)).select_related("owner").order_by("-arr", "name")


def single_threaded_accounts(*, tenant: Tenant, today: dt.date):
    """Live, owned accounts where at most one current contact took part in an activity in the
    last ``ENGAGED_WINDOW_DAYS``: one departure away from no relationship at all."""
    since = timezone.make_aware(dt.datetime.combine(today - dt.timedelta(days=ENGAGED_WINDOW_DAYS), dt.time()))
    engaged = (
        ActivityContact.objects.filter(
            tenant=tenant, activity__account=OuterRef("pk"), activity__occurred_at__gte=since, contact__left_on=None
        )
        .order_by()
        .values("activity__account")
        .annotate(n=Count("contact", distinct=True))
        .values("n")
    )
    from django.db.models import IntegerField, Subquery, Value
    from django.db.models.functions import Coalesce

    return (
        _live_accounts(tenant)
        .filter(owner__isnull=False)
        .annotate(engaged_contacts=Coalesce(Subquery(engaged, output_field=IntegerField()), Value(0)))
        .filter(engaged_contacts__lte=1)
        .select_related("owner")
        .order_by("-arr", "name")
    )


@dataclass(frozen=True)
class CsmRelationships:
    name: str
    new_this_month: int
    target: int

    @property
    def met(self) -> bool:
        return self.new_this_month >= self.target


def relationship_target(*, tenant: Tenant) -> int:
    row = RelationshipSettings.objects.filter(tenant=tenant).first()
    return (
        row.new_relationships_per_month
        if row
        else RelationshipSettings._meta.get_field("new_relationships_per_month").default
    )


def new_relationships_by_csm(*, tenant: Tenant, today: dt.date) -> list[CsmRelationships]:
    """Contacts added this calendar month at each CSM's accounts, against the admin's target."""
    month_start = timezone.make_aware(dt.datetime.combine(today.replace(day=1), dt.time()))
    counts = dict(
        Contact.objects.filter(tenant=tenant, created_at__gte=month_start, account__owner__isnull=False)
        .order_by()
        .values_list("account__owner")
        .annotate(n=Count("pk"))
    )
    target = relationship_target(tenant=tenant)
    csms = Membership.objects.filter(tenant=tenant, role=Role.CSM).select_related("user")
    rows = [CsmRelationships(str(m.user), counts.get(m.user_id, 0), target) for m in csms]
    return sorted(rows, key=lambda row: (row.new_this_month, row.name))


@dataclass(frozen=True)
class TtfvBySegment:
    segment: str
    count: int
    median: float | None
    average: float | None
    buckets: list[tuple[str, int]]


def ttfv_by_segment(*, tenant: Tenant) -> list[TtfvBySegment]:
    """TTFV (days from contract start, else plan start, to First Value met) of every plan that
    met First Value, by the account's segment: count, median, average and a histogram."""
    rows = SuccessPlan.objects.filter(tenant=tenant, first_value_met_on__isnull=False).values_list(
        "account__segment__name", "account__customer_since", "start_date", "first_value_met_on"
    )
    by_segment: dict[str, list[int]] = defaultdict(list)
    for segment, since, start, met in rows:
        by_segment[segment or "No segment"].append((met - (since or start)).days)
    result = []
    for segment, days in sorted(by_segment.items()):
        buckets = [
            (label, sum(1 for d in days if d >= low and (high is None or d <= high)))
            for low, high, label in TTFV_BUCKETS
        ]
        result.append(
            TtfvBySegment(segment, len(days), statistics.median(days), round(statistics.fmean(days), 1), buckets)
        )
    return result


def ttfv_chart_data(rows: list[TtfvBySegment]) -> dict:
    """``ttfv_by_segment``'s histograms as Chart.js bar data: the TTFV buckets along the x axis,
    one dataset (plans per bucket) a segment."""
    return {
        "labels": [label for _, _, label in TTFV_BUCKETS],
        "datasets": [{"label": row.segment, "data": [count for _, count in row.buckets]} for row in rows],
    }


@dataclass(frozen=True)
class CsmPlans:
    name: str
    on_track: int
    at_risk: int


def plans_by_csm(*, tenant: Tenant, today: dt.date) -> list[CsmPlans]:
    """Each CSM's plans on track and at risk (a plan with an overdue milestone is at risk)."""
    plans = (
        SuccessPlan.objects.filter(tenant=tenant)
        .annotate(
            overdue=Count(
                "milestones",
                filter=Q(milestones__due_date__lt=today) & ~Q(milestones__status=MilestoneStatus.DONE),
            )
        )
        .values_list("account__owner__full_name", "account__owner__email", "overdue")
    )
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for full_name, email, overdue in plans:
        counts[full_name or email or "Unassigned"][1 if overdue else 0] += 1
    return [CsmPlans(name, on, risk) for name, (on, risk) in sorted(counts.items(), key=lambda kv: -kv[1][1])]
