"""The Account 360 page's reads: ARR by product, contacts by level, the org map and the
activity timeline. Each is a fixed number of queries whatever the account holds, so the page's
query count does not grow with its contacts, activities or subscription lines."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Sum
from django.http import HttpRequest

from csplatform.models import Tenant, User
from csplatform.rendering import url_for_each
from csplatform.rows import fetch_rows, in_list

from .models import Account, Activity, ActivityContact, ActivityTeamMember, Contact, ContactLevel
from .services import can_edit_account, tenant_today

TIMELINE_PAGE_SIZE = 25
LEVEL_ORDER = {value: position for position, value in enumerate(ContactLevel.values)}


@dataclass(frozen=True)
class ProductArr:
    product_name: str
    arr: Decimal
    share_percent: int  # of the account's total, for the bar; whole percent


@dataclass(frozen=True)
class ArrByProduct:
    products: list[ProductArr]
    total: Decimal


def arr_by_product(*, tenant: Tenant, account: Account, today: dt.date) -> ArrByProduct:
    """The account's ARR per product: the sum of each product's lines active ``today``,
    largest first, in one grouped query (DOMAIN.md §2: keep ARR per product line)."""
    from renewals.models import SubscriptionLine

    rows = (
        SubscriptionLine.objects.filter(tenant=tenant, account=account)
        .active_on(today)
        .order_by()
        .values("product_id", "product__name")
        .annotate(product_arr=Sum("arr"))
        .order_by("-product_arr", "product__name")
    )
    rows = list(rows)
    total = sum((row["product_arr"] for row in rows), Decimal("0"))
    products = [
        ProductArr(
            product_name=row["product__name"],
            arr=row["product_arr"],
            share_percent=round(row["product_arr"] * 100 / total) if total else 0,
        )
        for row in rows
    ]
    return ArrByProduct(products=products, total=total)


def account_contacts(*, tenant: Tenant, account: Account) -> list[Contact]:
    """Every contact of the account, departed ones too, in one query (ordered by name)."""
    return list(Contact.objects.filter(tenant=tenant, account=account).order_by("name", "pk"))


def contacts_by_level(contacts: Iterable[Contact]) -> list[tuple[str, list[Contact]]]:
    """Active contacts grouped by level from the top (ContactLevel's order). Every level is
    listed, an empty one too, so a gap in multi-level coverage shows (DOMAIN.md §6)."""
    groups: dict[str, list[Contact]] = {value: [] for value in ContactLevel.values}
    for contact in contacts:
        if contact.is_active:
            groups.setdefault(contact.level, []).append(contact)
    return [(ContactLevel(value).label, groups[value]) for value in ContactLevel.values]


def departed_contacts(contacts: Iterable[Contact]) -> list[Contact]:
    """Contacts who left, most recent departure first."""
    return sorted((c for c in contacts if not c.is_active), key=lambda c: (c.left_on, c.pk), reverse=True)


@dataclass
class OrgNode:
    contact: Contact
    reports: list[OrgNode] = field(default_factory=list)
    departed_manager: Contact | None = None  # set on a root whose manager has left


def org_tree(contacts: Iterable[Contact]) -> list[OrgNode]:
    """The account's reporting lines as a forest, built in memory from one list of contacts.
    Departed contacts are left out; someone whose manager left becomes a root that names that
    manager. Siblings are ordered by level, then name. A loop in imported data is broken at
    an arbitrary point rather than hiding the people in it."""
    everyone = {contact.pk: contact for contact in contacts}
    active = sorted(
        (c for c in everyone.values() if c.is_active), key=lambda c: (LEVEL_ORDER.get(c.level, 99), c.name, c.pk)
    )
    active_ids = {contact.pk for contact in active}
    reports_of: dict[int | None, list[Contact]] = defaultdict(list)
    for contact in active:
        reports_of[contact.reports_to_id if contact.reports_to_id in active_ids else None].append(contact)

    placed: set[int] = set()

    def build(contact: Contact) -> OrgNode:
        placed.add(contact.pk)
        node = OrgNode(contact=contact)
        node.reports = [build(report) for report in reports_of[contact.pk] if report.pk not in placed]
        return node

    roots = []
    for contact in reports_of[None]:
        root = build(contact)
        root.departed_manager = everyone.get(contact.reports_to_id)
        roots.append(root)
    roots.extend(build(contact) for contact in active if contact.pk not in placed)
    return roots


@dataclass(frozen=True)
class TimelineWindow:
    activities: list[Activity]
    offset: int
    next_offset: int | None  # None when there is nothing older


def timeline_window(
    *, tenant: Tenant, account: Account, offset: int = 0, limit: int = TIMELINE_PAGE_SIZE
) -> TimelineWindow:
    """``limit`` of the account's activities, newest first, from ``offset``, with our people
    and their contacts: two queries whatever the window holds."""
    activities = list(
        Activity.objects.filter(tenant=tenant, account=account)
        .only("kind", "occurred_at", "purpose", "summary", "next_step", "next_step_due")
        .order_by("-occurred_at", "-pk")[offset : offset + limit + 1]
    )
    has_more = len(activities) > limit
    activities = activities[:limit]
    team_names, contact_names = activity_people(tenant=tenant, activity_ids=[activity.pk for activity in activities])
    for activity in activities:
        activity.team_names = team_names.get(activity.pk, [])
        activity.contact_names = contact_names.get(activity.pk, [])
    return TimelineWindow(activities=activities, offset=offset, next_offset=offset + limit if has_more else None)


# By name, as User's and Contact's default orderings had them (users then by e-mail). A plain
# statement: built with the ORM (two annotated querysets and their union) it cost the page more
# than all the rest of the timeline.
ACTIVITY_PEOPLE_SQL = """
    SELECT member.activity_id, 1 AS ours, person.full_name AS name, person.email AS email
    FROM {members} member JOIN {users} person ON person.id = member.user_id
    WHERE member.tenant_id = %(tenant)s AND member.activity_id IN ({ids})
    UNION ALL
    SELECT taking_part.activity_id, 0, contact.name, ''
    FROM {taking_part} taking_part JOIN {contacts} contact ON contact.id = taking_part.contact_id
    WHERE taking_part.tenant_id = %(tenant)s AND contact.tenant_id = %(tenant)s AND taking_part.activity_id IN ({ids})
    ORDER BY name, email
"""


def activity_people(*, tenant: Tenant, activity_ids: list[int]) -> tuple[dict[int, list[str]], dict[int, list[str]]]:
    """The names of our people and of their contacts on each of ``activity_ids`` (a window of
    the timeline), by activity id: one query of plain rows."""
    team_names: dict[int, list[str]] = defaultdict(list)
    contact_names: dict[int, list[str]] = defaultdict(list)
    if not activity_ids:
        return team_names, contact_names
    ids, id_params = in_list("id", (int(pk) for pk in activity_ids))
    sql = ACTIVITY_PEOPLE_SQL.format(
        members=ActivityTeamMember._meta.db_table,
        users=User._meta.db_table,
        taking_part=ActivityContact._meta.db_table,
        contacts=Contact._meta.db_table,
        ids=ids,
    )
    for activity_id, ours, name, email in fetch_rows(sql, {"tenant": tenant.pk, **id_params}):
        (team_names if ours else contact_names)[activity_id].append(name or email)
    return team_names, contact_names


# --- What each piece of the page needs ---------------------------------------------------


def header_context(request: HttpRequest, account: Account) -> dict:
    today = tenant_today(request.tenant)
    return {
        "account": account,
        "today": today,
        "days_to_renewal": account.days_to_renewal(today),
        "can_edit": can_edit_account(request.membership, account),
    }


def contacts_context(request: HttpRequest, account: Account) -> dict:
    """Contacts by level, departed contacts and the org map, from one query."""
    contacts = account_contacts(tenant=request.tenant, account=account)
    can_edit = can_edit_account(request.membership, account)
    if can_edit:
        edit_url = url_for_each("accounts:contact_edit", "contact_id", account_id=account.pk)
        left_url = url_for_each("accounts:contact_left", "contact_id", account_id=account.pk)
        for contact in contacts:
            contact.edit_url, contact.left_url = edit_url(contact.pk), left_url(contact.pk)
    return {
        "account": account,
        "can_edit": can_edit,
        "contact_groups": contacts_by_level(contacts),
        "departed_contacts": departed_contacts(contacts),
        "org_tree": org_tree(contacts),
    }


def timeline_context(request: HttpRequest, account: Account, *, offset: int = 0) -> dict:
    return {"account": account, "timeline": timeline_window(tenant=request.tenant, account=account, offset=offset)}


def account_page_context(request: HttpRequest, account: Account, *, activity_form, offset: int = 0) -> dict:
    """Everything the whole Account 360 page needs: a fixed number of queries."""
    header = header_context(request, account)
    return {
        **header,
        **contacts_context(request, account),
        **timeline_context(request, account, offset=offset),
        "arr_by_product": arr_by_product(tenant=request.tenant, account=account, today=header["today"]),
        "activity_form": activity_form,
    }
