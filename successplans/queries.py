"""Reads of the success-plan pages: each a fixed number of queries whatever the data holds."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from django.db import connection
from django.db.models import Count, Prefetch, QuerySet
from django.utils import timezone

from accounts.models import (
    Account,
    Activity,
    ActivityContact,
    ActivityTeamMember,
    Contact,
    ContactEvent,
    ContactEventKind,
    ContactLevel,
    ContactRole,
    TouchModel,
)
from csplatform.models import Tenant, User
from csplatform.rows import fetch_row, fetch_rows, instance_from_values

from .models import Handoff, HandoffStatus, ImpactReview, Milestone, MilestoneStatus, SuccessPlan


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
    ranked by how many such meetings they had, then by who was met last). Two queries, one
    when the caller passes the account's current ``contacts`` (the account page has them)."""
    since = timezone.make_aware(dt.datetime.combine(today - dt.timedelta(days=ENGAGED_WINDOW_DAYS), dt.time()))
    if contacts is None:
        contacts = Contact.objects.filter(tenant=tenant, account=account).active()
    contacts = {c.pk: c for c in contacts if c.left_on is None}
    rows = [row for row in account_meetings(tenant=tenant, account=account, since=since) if row[0] in contacts]
    engaged_ids = {contact_id for contact_id, *_ in rows}
    levels = Counter(contacts[pk].level for pk in engaged_ids)
    pairs = [(user_id, contact_id) for contact_id, user_id, *_ in rows if user_id is not None]
    names = {user_id: (name, email) for _, user_id, name, email in rows if user_id is not None}
    user_touches = Counter(user_id for user_id, _ in pairs)
    contact_touches = Counter(contact_id for _, contact_id in pairs)
    roles = {c.role for c in contacts.values()}
    return Coverage(
        engaged_by_level=[(ContactLevel(value).label, levels.get(value, 0)) for value in ContactLevel.values],
        has_champion=ContactRole.CHAMPION in roles,
        has_sponsor=ContactRole.EXECUTIVE_SPONSOR in roles,
        our_people=[
            User(pk=pk, full_name=names[pk][0] or "", email=names[pk][1] or "")
            for pk, _ in user_touches.most_common(MAP_SIZE)
        ],
        their_people=[contacts[pk] for pk, _ in contact_touches.most_common(MAP_SIZE)],
        connected=set(pairs),
        show_map=bool(account.segment_id and account.segment.touch_model == TouchModel.HIGH),
    )


def account_meetings(*, tenant: Tenant, account, since: dt.datetime) -> list[tuple[int, int | None, str, str]]:
    """One row per (their contact, our person) who met in an activity of the account since
    ``since``: (contact id, user id, the user's full name, e-mail); the user columns are None
    for an activity nobody of ours was recorded on. Latest activity first, so that people met
    as often are ranked by who was met last. One query, scoped to ``tenant``; departed contacts
    are in it too (the caller knows who is current)."""
    # A plain statement: the ORM took longer to build it than PostgreSQL to answer it.
    sql = f"""
        SELECT taking_part.contact_id, member.user_id, person.full_name, person.email
        FROM {ActivityContact._meta.db_table} taking_part
        JOIN {Activity._meta.db_table} activity ON activity.id = taking_part.activity_id
        LEFT JOIN {ActivityTeamMember._meta.db_table} member
            ON member.activity_id = activity.id AND member.tenant_id = %(tenant)s
        LEFT JOIN {User._meta.db_table} person ON person.id = member.user_id
        WHERE taking_part.tenant_id = %(tenant)s AND activity.tenant_id = %(tenant)s
            AND activity.account_id = %(account)s AND activity.occurred_at >= %(since)s
        ORDER BY activity.occurred_at DESC, activity.id DESC, member.id, taking_part.id
    """  # noqa: S608 (table names from the models, values as parameters)
    params = {"tenant": tenant.pk, "account": account.pk, "since": connection.ops.adapt_datetimefield_value(since)}
    return fetch_rows(sql, params)


# --- The success-plan card of Account 360 -----------------------------------------------------


@dataclass(frozen=True)
class PlanCard:
    """The account's plan with its milestones' status, or else (no plan yet) its handoff."""

    plan: SuccessPlan | None
    status: PlanStatus | None
    handoff: Handoff | None


def account_plan_card(*, tenant: Tenant, account, today: dt.date) -> PlanCard:
    """The account's plan (what the card prints: its start, First Value goal and date, and
    its milestones counted: all, done, overdue ``today``) or, without a plan, its handoff's
    status and fit: one query scoped to ``tenant``, a row whatever the account has. The plan
    and handoff are model instances holding only those columns; the plan's account is
    ``account`` (TTFV counts from its contract start)."""
    milestones = (
        f"SELECT COUNT(*) FROM {Milestone._meta.db_table} milestone"  # noqa: S608
        " WHERE milestone.tenant_id = %(tenant)s AND milestone.plan_id = plan.id"
    )
    sql = f"""
        SELECT plan.id, plan.start_date, plan.first_value_goal, plan.first_value_met_on,
            ({milestones}),
            ({milestones} AND milestone.status = %(done)s),
            ({milestones} AND milestone.status <> %(done)s AND milestone.due_date < %(today)s),
            handoff.id, handoff.status, handoff.fit_category
        FROM {Account._meta.db_table} account
        LEFT JOIN {SuccessPlan._meta.db_table} plan ON plan.account_id = account.id AND plan.tenant_id = %(tenant)s
        LEFT JOIN {Handoff._meta.db_table} handoff
            ON handoff.account_id = account.id AND handoff.tenant_id = %(tenant)s
        WHERE account.tenant_id = %(tenant)s AND account.id = %(account)s
    """  # noqa: S608 (table names from the models, values as parameters)
    params = {
        "tenant": tenant.pk,
        "account": account.pk,
        "done": MilestoneStatus.DONE,
        "today": connection.ops.adapt_datefield_value(today),
    }
    row = fetch_row(sql, params)
    if row is None:  # the account is not the tenant's
        return PlanCard(None, None, None)
    plan_id, start_date, first_value_goal, first_value_met_on, milestone_count, done, overdue, *handoff = row
    if plan_id is not None:
        plan = instance_from_values(
            SuccessPlan,
            id=plan_id,
            tenant_id=tenant.pk,
            account_id=account.pk,
            start_date=start_date,
            first_value_goal=first_value_goal,
            first_value_met_on=first_value_met_on,
        )
        plan.account = account
        return PlanCard(plan, PlanStatus(milestone_count, done, overdue), None)
    handoff_id, status, fit_category = handoff
    if handoff_id is not None:
        handoff = instance_from_values(
            Handoff, id=handoff_id, tenant_id=tenant.pk, account_id=account.pk, status=status, fit_category=fit_category
        )
        return PlanCard(None, None, handoff)
    return PlanCard(None, None, None)


@dataclass(frozen=True)
class KeyContactChange:
    occurred_on: dt.date
    contact_name: str
    left: bool  # else the contact's role changed
    previous_role: str  # labels, as the card prints them
    new_role: str
    note: str


def key_contact_changes(*, tenant: Tenant, account, limit: int = 5) -> list[KeyContactChange]:
    """The account's latest ``limit`` key-contact events (a champion or sponsor who left, a
    role that changed), most recent first: one query scoped to ``tenant``."""
    sql = f"""
        SELECT contact_event.occurred_on, contact.name, contact_event.kind, contact_event.previous_role,
            contact_event.new_role, contact_event.note
        FROM {ContactEvent._meta.db_table} contact_event
        JOIN {Contact._meta.db_table} contact ON contact.id = contact_event.contact_id
        WHERE contact_event.tenant_id = %(tenant)s AND contact_event.account_id = %(account)s
            AND contact.tenant_id = %(tenant)s
        ORDER BY contact_event.occurred_on DESC, contact_event.id DESC
        LIMIT %(limit)s
    """  # noqa: S608 (table names from the models, values as parameters)
    rows = fetch_rows(sql, {"tenant": tenant.pk, "account": account.pk, "limit": limit})
    roles = dict(ContactRole.choices)
    return [
        KeyContactChange(
            occurred_on=occurred_on,
            contact_name=name,
            left=kind == ContactEventKind.LEFT,
            previous_role=roles.get(previous_role, previous_role),
            new_role=roles.get(new_role, new_role),
            note=note,
        )
        for occurred_on, name, kind, previous_role, new_role, note in rows
    ]
