"""Reads of the success-plan pages: each a fixed number of queries whatever the data holds."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Prefetch, QuerySet

from csplatform.models import Tenant

from .models import Handoff, HandoffStatus, ImpactReview, Milestone, SuccessPlan


def handoffs_listed(*, tenant: Tenant, status: str = "", flagged: bool = False) -> QuerySet[Handoff]:
    """The tenant's handoffs, newest first, with what the list shows (one query)."""
    handoffs = (
        Handoff.objects.filter(tenant=tenant)
        .select_related("account", "account__owner", "author")
        .annotate(impact_count=Count("impact_statements"))
        .order_by("-created_at", "-pk")
    )
    if status:
        handoffs = handoffs.filter(status=status)
    if flagged:
        handoffs = handoffs.filter(fit_category="bad", flag_acknowledged_at__isnull=True).exclude(
            status=HandoffStatus.DRAFT
        )
    return handoffs


def plan_with_parts(*, tenant: Tenant, plan_id: int) -> QuerySet[SuccessPlan]:
    """The plan with its account, handoff, milestones (and their owners), measures and reviews
    prefetched: six queries for the plan page whatever it holds."""
    return (
        SuccessPlan.objects.filter(tenant=tenant, pk=plan_id)
        .select_related("account", "account__owner", "account__segment", "handoff", "journey")
        .prefetch_related(
            Prefetch("milestones", queryset=Milestone.objects.select_related("owner_user", "owner_contact")),
            "measures",
            Prefetch("reviews", queryset=ImpactReview.objects.select_related("created_by")),
        )
    )


@dataclass(frozen=True)
class PlanStatus:
    milestone_count: int
    done_count: int
    overdue_count: int

    @property
    def at_risk(self) -> bool:
        """A plan is at risk while any milestone is overdue."""
        return self.overdue_count > 0


def plan_status(plan: SuccessPlan, today: dt.date) -> PlanStatus:
    milestones = list(plan.milestones.all())
    return PlanStatus(
        milestone_count=len(milestones),
        done_count=sum(1 for m in milestones if m.status == "done"),
        overdue_count=sum(1 for m in milestones if m.is_overdue(today)),
    )


# --- Relationship coverage (DOMAIN.md §6) -----------------------------------------------------

ENGAGED_WINDOW_DAYS = 90
MAP_SIZE = 3  # the 3x3 map: three of our people x three of theirs


@dataclass
class Coverage:
    engaged_by_level: list[tuple[str, int]]  # (level label, contacts engaged in the window)
    has_champion: bool
    has_sponsor: bool
    our_people: list  # up to three users, most engaged first
    their_people: list  # up to three active contacts, most engaged first
    connected: set  # (user id, contact id) pairs that met in the window
    show_map: bool  # high-touch accounts get the 3x3 map

    def cell(self, user, contact) -> bool:
        return (user.pk, contact.pk) in self.connected

    @property
    def map_rows(self) -> list:
        """MAP_SIZE rows of MAP_SIZE cells: (user or None, contact or None, connected)."""
        users = self.our_people + [None] * (MAP_SIZE - len(self.our_people))
        contacts = self.their_people + [None] * (MAP_SIZE - len(self.their_people))
        return [
            (user, [(contact, bool(user and contact and self.cell(user, contact))) for contact in contacts])
            for user in users
        ]

    @property
    def map_gaps(self) -> int:
        return sum(1 for _, cells in self.map_rows for _, connected in cells if not connected)

    @property
    def engaged_total(self) -> int:
        return sum(count for _, count in self.engaged_by_level)


def account_coverage(*, tenant: Tenant, account, today: dt.date, contacts=None) -> Coverage:
    """One account's relationship coverage over the last ``ENGAGED_WINDOW_DAYS``: current
    contacts who took part in an activity, by level; champion and executive sponsor present;
    and who of ours met whom of theirs in an activity, for the 3x3 map (our people and theirs
    ranked by how many such meetings they had). Two queries, one when the caller passes the
    account's current ``contacts`` (the account page has them already)."""
    from collections import Counter

    from django.utils import timezone

    from accounts.models import ActivityContact, Contact, ContactLevel, ContactRole, TouchModel
    from csplatform.models import User

    since = timezone.make_aware(dt.datetime.combine(today - dt.timedelta(days=ENGAGED_WINDOW_DAYS), dt.time()))
    if contacts is None:
        contacts = Contact.objects.filter(tenant=tenant, account=account).active()
    contacts = {c.pk: c for c in contacts if c.left_on is None}
    # One row per (their contact, our person) who met in an activity; our person is None for
    # an activity nobody of ours was recorded on.
    rows = list(
        ActivityContact.objects.filter(
            tenant=tenant, activity__account=account, activity__occurred_at__gte=since, contact_id__in=list(contacts)
        ).values_list(
            "contact_id",
            "activity__activityteammember__user_id",
            "activity__activityteammember__user__full_name",
            "activity__activityteammember__user__email",
        )
    )
    engaged_ids = {contact_id for contact_id, *_ in rows}
    levels = Counter(contacts[pk].level for pk in engaged_ids)
    pairs = [(user_id, contact_id) for contact_id, user_id, *_ in rows if user_id is not None]
    users = {
        user_id: User(pk=user_id, full_name=name or "", email=email or "")
        for _, user_id, name, email in rows
        if user_id is not None
    }
    user_touches = Counter(user_id for user_id, _ in pairs)
    contact_touches = Counter(contact_id for _, contact_id in pairs)
    roles = {c.role for c in contacts.values()}
    return Coverage(
        engaged_by_level=[(ContactLevel(value).label, levels.get(value, 0)) for value in ContactLevel.values],
        has_champion=ContactRole.CHAMPION in roles,
        has_sponsor=ContactRole.EXECUTIVE_SPONSOR in roles,
        our_people=[users[pk] for pk, _ in user_touches.most_common(MAP_SIZE)],
        their_people=[contacts[pk] for pk, _ in contact_touches.most_common(MAP_SIZE)],
        connected=set(pairs),
        show_map=bool(account.segment_id and account.segment.touch_model == TouchModel.HIGH),
    )
