"""Demo data: believable tenants for the local run, screenshots and load benchmarks.

``demo_seed`` builds each tenant from ``random.Random(f"{seed}:{slug}")`` and a fixed
reference day, so the same seed and day give the same rows (ids aside) on any database. The
story follows DOMAIN.md: a log-normal spread of ARR over the three segments, two to three
years of annual terms with upsells, cross-sells, contractions and churn, contact org charts
with departures, and activities that each have a purpose and a next step.

Speed: rows are planned as plain values a chunk of accounts at a time and written in bulk,
never one ``save()`` a row. Ids are reserved up front (on PostgreSQL from each table's identity
sequence), so a child row knows its parent's id without a round trip. PostgreSQL gets the rows
through COPY (100,000 accounts in about a minute); other databases (SQLite) through batched
INSERTs of the very same values. Not ``bulk_create``: it would overwrite the back-dated
``created_at`` (auto_now_add), which recap speed (within 30 minutes of a call) and new
relationships a month are measured from.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import math
import random
import time
import unicodedata
import zoneinfo
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from statistics import NormalDist

from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from accounts.models import (
    INDUSTRIES,
    Account,
    Activity,
    ActivityContact,
    ActivityKind,
    ActivityTeamMember,
    Contact,
    ContactLevel,
    ContactRole,
    LifecycleStage,
    Segment,
    TouchModel,
)
from accounts.services import segments_create_defaults, tenant_today
from renewals.models import Product, SubscriptionLine

from . import bulk
from .demo_words import (
    DETAILS,
    EXECUTIVE_TITLE_STARTS,
    EXTRA_ROLES,
    FINANCE_TITLES,
    FIRST_NAMES,
    INDUSTRY_SUFFIXES,
    INDUSTRY_WEIGHTS,
    LAST_NAMES,
    LEFT_NOTES,
    NAME_HEADS,
    NAME_TAILS,
    NEXT_STEPS,
    OUTCOMES,
    PURPOSES,
    ROLE_LEVELS,
    TITLES,
    words,
)
from .models import Membership, Role, Tenant, User
from .tenancy import tenant_scope

DEMO_PASSWORD = "demo-password-2026"  # noqa: S105 (printed for the demo logins on purpose)
DEFAULT_ACCOUNT_COUNT = 300
# Above this size a tenant is a load-test tenant: a quarter of the activities, so 100,000
# accounts build in about a minute; every kind of row is still there.
LARGE_TENANT_ACCOUNTS = 5_000
LARGE_TENANT_ACTIVITY_SHARE = 0.25
CHUNK_ACCOUNTS = 2_000


@dataclass(frozen=True)
class DemoTenantSpec:
    name: str
    slug: str
    currency: str
    time_zone: str
    products: tuple[str, ...]  # the first is the core product every customer lands with
    persona: str  # whose titles its buyers have: "data" or "cloud"
    top_level_domain: str


DEMO_TENANTS = (
    DemoTenantSpec(
        "Acme Analytics",
        "acme",
        "USD",
        "America/New_York",
        words("Analytics Core|Data Pipelines|AI Assistant|Governance|Premium Support", "|"),
        "data",
        "com",
    ),
    DemoTenantSpec(
        "Northwind Cloud",
        "northwind",
        "EUR",
        "Europe/Berlin",
        words("Cloud Platform|Managed Kubernetes|Backup & Recovery|Security Suite", "|"),
        "cloud",
        "de",
    ),
    DemoTenantSpec(
        "Umbrella Data",
        "umbrella",
        "GBP",
        "Europe/London",
        words("Insight Platform|Data Quality|Embedded Analytics|Premium Support", "|"),
        "data",
        "co.uk",
    ),
)


def demo_email(slug: str, who: str) -> str:
    """The demo login of ``who`` ("admin", "leader", "csm3") at the tenant ``slug``."""
    return f"{who}@{slug}.demo"


# How a tenant's accounts behave, by touch model.
KIND_WEIGHTS = {
    TouchModel.HIGH: {"call": 24, "meeting": 24, "email": 18, "qbr": 9, "ebr": 3, "onsite": 4, "note": 10},
    TouchModel.LOW: {"call": 34, "meeting": 12, "email": 32, "qbr": 6, "webinar": 6, "note": 8},
    TouchModel.TECH: {"webinar": 55, "email": 45},
}
ACTIVITIES_PER_YEAR = {TouchModel.HIGH: (30, 48), TouchModel.LOW: (8, 16), TouchModel.TECH: (1, 4)}
CONTACTS_PER_ACCOUNT = {TouchModel.HIGH: (6, 8), TouchModel.LOW: (4, 7), TouchModel.TECH: (3, 5)}
CHURN_PER_RENEWAL = {TouchModel.HIGH: 0.03, TouchModel.LOW: 0.08, TouchModel.TECH: 0.13}
# Sizing the CSM team: the expected share of accounts in a segment and a book's size there.
SHARE_OF_ACCOUNTS = {TouchModel.HIGH: 0.035, TouchModel.LOW: 0.45}
BOOK_SIZE = {TouchModel.HIGH: 10, TouchModel.LOW: 35}


# --- The plan of a tenant, as plain values ---------------------------------------------------


@dataclass(slots=True)
class _Line:
    product: int  # index into the tenant's products
    arr: int
    start: dt.date
    end: dt.date
    booked_on: dt.date  # when the order was entered: renewals a few weeks before they start


@dataclass(slots=True)
class _Contact:
    name: str
    title: str
    email: str
    role: str
    level: str
    joined: dt.date
    reports_to: int | None = None  # index into the account's contacts
    left_on: dt.date | None = None
    left_note: str = ""


@dataclass(slots=True)
class _Activity:
    kind: str
    occurred_at: dt.datetime
    purpose: str
    summary: str
    next_step: str
    next_step_due: dt.date | None
    created_by: int | None  # index into the tenant's users
    created_at: dt.datetime
    team: list[int]  # indexes into the tenant's users
    contacts: list[int]  # indexes into the account's contacts


@dataclass(slots=True)
class _Account:
    name: str
    domain: str
    external_id: str
    industry: str
    employee_count: int
    customer_since: dt.date
    created_at: dt.datetime
    lines: list[_Line] = field(default_factory=list)
    churned_on: dt.date | None = None
    touch: str = TouchModel.TECH  # by today's ARR (by the last ARR if churned)
    stage: str = LifecycleStage.ONBOARDING
    owner: int | None = None  # index into the tenant's users
    # What the roll-up (accounts.services.account_rollups_refresh) would compute, known here.
    arr: int = 0
    next_renewal: dt.date | None = None
    segment: int | None = None  # the segment's id
    contacts: list[_Contact] = field(default_factory=list)
    activities: list[_Activity] = field(default_factory=list)


@dataclass(slots=True)
class _Tenant:
    spec: DemoTenantSpec
    rng: random.Random
    today: dt.date
    zone: zoneinfo.ZoneInfo
    segments: list[Segment]  # highest band first
    leader: int  # index into users
    csms: list[int]  # indexes into users
    activity_share: float
    books: list[tuple[int, int]] = field(default_factory=list)  # heap of (ARR in the book, CSM)
    used_names: set[str] = field(default_factory=set)
    used_domains: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class DemoLogin:
    tenant: str
    role: str
    email: str
    full_name: str


# --- Public entry points ---------------------------------------------------------------------


# The other apps' demo rows ("app.demo.app_seed"), written after the accounts, lines, contacts
# and activities exist, inside the tenant's transaction and scope. Each is called as
# ``seed(tenant=, rng=, today=, use_copy=, log=)`` and must be set-based (csplatform.bulk).
APP_SEEDERS: list[str] = [
    "successplans.demo.successplans_seed",
    "health.demo.health_seed",
    "renewals.demo.renewals_seed",
    "playbooks.demo.playbooks_seed",
]


def demo_seed(
    *,
    account_count: int = DEFAULT_ACCOUNT_COUNT,
    tenant_count: int = 2,
    seed: int = 42,
    today: dt.date | None = None,
    use_copy: bool | None = None,
    log: Callable[[str], None] = lambda message: None,
) -> list[Tenant]:
    """Create ``tenant_count`` demo tenants. The first gets ``account_count`` accounts, the
    others ``min(account_count, 300)``: a load-test run keeps a small tenant beside the big one.

    ``today`` is the reference day (default: each tenant's own today). ``use_copy`` picks the
    PostgreSQL COPY path (default) or batched INSERTs. Each tenant is one transaction, ending
    with the ARR / renewal / segment roll-up. Refuses (``ValueError``) when one exists already.
    """
    if not 1 <= tenant_count <= len(DEMO_TENANTS):
        raise ValueError(f"There are {len(DEMO_TENANTS)} demo tenants: ask for 1 to {len(DEMO_TENANTS)}.")
    if use_copy is None:
        use_copy = connection.vendor == "postgresql"
    if use_copy and connection.vendor != "postgresql":
        raise ValueError("COPY needs PostgreSQL.")
    specs = DEMO_TENANTS[:tenant_count]
    existing = list(Tenant.objects.filter(slug__in=[spec.slug for spec in specs]).values_list("name", flat=True))
    if existing:
        raise ValueError(f"Demo data exists already ({', '.join(existing)}): start from an empty database.")
    password_hash = make_password(DEMO_PASSWORD)  # once: hashing it for each user would take seconds
    return [
        _tenant_seed(
            spec=spec,
            account_count=account_count if position == 0 else min(account_count, DEFAULT_ACCOUNT_COUNT),
            seed=seed,
            today=today,
            use_copy=use_copy,
            password_hash=password_hash,
            log=log,
        )
        for position, spec in enumerate(specs)
    ]


def demo_logins() -> list[DemoLogin]:
    """The demo logins that exist: by tenant, then admin, leader and the CSMs in number order."""
    memberships = Membership.objects.filter(tenant__slug__in=[spec.slug for spec in DEMO_TENANTS]).select_related(
        "tenant", "user"
    )
    rank = {Role.ADMIN: 0, Role.LEADER: 1, Role.SALES: 2, Role.CSM: 3}

    def order(membership: Membership) -> tuple:
        local_part = membership.user.email.split("@")[0]
        number = int(local_part[3:]) if local_part[3:].isdigit() else 0
        return (membership.tenant.name, rank[membership.role], number, membership.user.email)

    return [
        DemoLogin(m.tenant.name, m.get_role_display(), m.user.email, m.user.full_name)
        for m in sorted(memberships, key=order)
        if m.user.email.endswith(f"@{m.tenant.slug}.demo")
    ]


# --- A tenant --------------------------------------------------------------------------------


def _tenant_seed(
    *,
    spec: DemoTenantSpec,
    account_count: int,
    seed: int,
    today: dt.date | None,
    use_copy: bool,
    password_hash: str,
    log: Callable[[str], None],
) -> Tenant:
    rng = random.Random(f"{seed}:{spec.slug}")
    now = timezone.now()
    with transaction.atomic():
        tenant = Tenant.objects.create(name=spec.name, slug=spec.slug, currency=spec.currency, time_zone=spec.time_zone)
        with tenant_scope(tenant):
            segments = segments_create_defaults(tenant=tenant)
            products = Product.objects.bulk_create(
                Product(tenant=tenant, name=name, code=_slugify(name)) for name in spec.products
            )
            users, roles = _team_create(
                tenant=tenant, rng=rng, account_count=account_count, password_hash=password_hash
            )
            plan = _Tenant(
                spec=spec,
                rng=rng,
                today=today or tenant_today(tenant),
                zone=zoneinfo.ZoneInfo(spec.time_zone),
                segments=sorted(segments, key=lambda segment: segment.arr_min, reverse=True),
                leader=roles.index(Role.LEADER),
                csms=[index for index, role in enumerate(roles) if role == Role.CSM],
                activity_share=LARGE_TENANT_ACTIVITY_SHARE if account_count > LARGE_TENANT_ACCOUNTS else 1.0,
            )
            plan.books = [(0, csm) for csm in plan.csms]
            ids = _Ids(tenant=tenant.pk, users=[user.pk for user in users], products=[p.pk for p in products])
            counts: dict[str, int] = {}
            arr_quantiles = _stratified_normals(rng, account_count)
            planning = writing = 0.0
            core_tables = (Account, SubscriptionLine, Contact, Activity, ActivityTeamMember, ActivityContact)
            with _indexes_deferred(core_tables, enabled=use_copy and account_count > LARGE_TENANT_ACCOUNTS):
                for first in range(0, account_count, CHUNK_ACCOUNTS):
                    started = time.monotonic()
                    accounts = [
                        _account_plan(plan, number=number, arr_quantile=arr_quantiles[number])
                        for number in range(first, min(first + CHUNK_ACCOUNTS, account_count))
                    ]
                    planned = time.monotonic()
                    for table, written in _chunk_write(accounts, ids=ids, now=now, use_copy=use_copy).items():
                        counts[table] = counts.get(table, 0) + written
                    planning, writing = planning + planned - started, writing + time.monotonic() - planned
                started = time.monotonic()
            indexing = time.monotonic() - started
            started = time.monotonic()
            if connection.vendor == "postgresql":
                # Fresh statistics, or the planner takes the tables for empty in the apps' seeders.
                with connection.cursor() as cursor:
                    cursor.execute("ANALYZE " + ", ".join(model._meta.db_table for model in core_tables))
            log(
                f"{spec.name}: core rows planned in {planning:.1f} s, written in {writing:.1f} s, "
                f"indexed in {indexing:.1f} s; statistics in {time.monotonic() - started:.1f} s"
            )
            for seeder_path in APP_SEEDERS:
                started = time.monotonic()
                # Each app's own random stream: adding an app never changes another's data.
                import_string(seeder_path)(
                    tenant=tenant,
                    rng=random.Random(f"{seed}:{spec.slug}:{seeder_path}"),
                    today=plan.today,
                    use_copy=use_copy,
                    log=log,
                )
                log(f"{spec.name}: {seeder_path.split('.')[0]} demo data in {time.monotonic() - started:.1f} s")
    log(
        f"{spec.name}: {len(users):,} users, {len(products)} products, "
        + ", ".join(f"{count:,} {table}" for table, count in counts.items())
    )
    return tenant


def _team_create(
    *, tenant: Tenant, rng: random.Random, account_count: int, password_hash: str
) -> tuple[list[User], list[str]]:
    """An admin, a leader and enough CSMs for books within capacity (6-8 for a few hundred
    accounts; a 100,000-account tenant needs well over a thousand)."""
    needed = sum(math.ceil(account_count * SHARE_OF_ACCOUNTS[touch] / BOOK_SIZE[touch]) for touch in BOOK_SIZE)
    csm_count = max(rng.randint(6, 8), needed)
    logins = ["admin", "leader", *(f"csm{number}" for number in range(1, csm_count + 1))]
    roles = [Role.ADMIN, Role.LEADER, *[Role.CSM] * csm_count]
    names: dict[str, None] = {}  # unique, in drawing order
    while len(names) < len(logins):
        names[f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"] = None
    users = User.objects.bulk_create(
        User(email=demo_email(tenant.slug, login), full_name=name, password=password_hash)
        for login, name in zip(logins, names, strict=True)
    )
    Membership.objects.bulk_create(
        Membership(tenant=tenant, user=user, role=role) for user, role in zip(users, roles, strict=True)
    )
    return users, roles


def _stratified_normals(rng: random.Random, count: int) -> list[float]:
    """Standard normal quantiles, one from each of ``count`` equal strata, shuffled: even a
    40-account tenant gets its share of the log-normal tail (the high-touch accounts)."""
    normal = NormalDist()
    values = [normal.inv_cdf(min(max((stratum + rng.random()) / count, 1e-6), 1 - 1e-6)) for stratum in range(count)]
    rng.shuffle(values)
    return values


# --- An account ------------------------------------------------------------------------------


def _account_plan(plan: _Tenant, *, number: int, arr_quantile: float) -> _Account:
    rng, today = plan.rng, plan.today
    industry = rng.choices(INDUSTRIES, weights=INDUSTRY_WEIGHTS)[0]
    name, domain = _company_name(plan, industry)
    # Landing ARR is log-normal (median 42K, sigma 1.25): with the renewals since, about 3-4% of
    # the accounts are high touch (>= 500K), 40% low touch, 45% tech touch and 12% churned.
    land_arr = min(max(42_000 * math.exp(1.25 * arr_quantile), 5_000), 4_000_000)
    new_customer = rng.random() < 0.12  # landed in the last months
    customer_since = today - dt.timedelta(days=rng.randint(5, 180) if new_customer else rng.randint(181, 1155))
    employees = int(land_arr / rng.uniform(15, 120) * rng.uniform(0.7, 1.4))
    account = _Account(
        name=name,
        domain=domain,
        external_id=f"CRM-{number + 1:06d}",
        industry=industry,
        employee_count=_round_significant(max(employees, 12)),
        customer_since=customer_since,
        created_at=_at(plan, customer_since - dt.timedelta(days=rng.randint(0, 14)), 9, 30),
    )
    _subscription_history(plan, account, land_arr=land_arr)
    active = [line for line in account.lines if line.start <= today <= line.end]
    arr = sum(line.arr for line in active)
    last_arr = arr or sum(line.arr for line in account.lines if line.end == account.churned_on)
    account.touch = _touch_of(plan, last_arr)
    account.stage = _stage(account, active, today)
    account.arr = arr
    account.next_renewal = min((line.end for line in active), default=None)
    account.segment = _segment_of(plan, arr)
    if account.churned_on is None and account.touch != TouchModel.TECH:
        book_arr, csm = heapq.heappop(plan.books)  # the CSM with the smallest book by ARR
        account.owner = csm
        heapq.heappush(plan.books, (book_arr + arr, csm))
    account.contacts = _contacts(plan, account)
    account.activities = _activities(plan, account)
    return account


def _subscription_history(plan: _Tenant, account: _Account, *, land_arr: float) -> None:
    """Annual terms from ``customer_since`` up to today. At each renewal a line renews flat, up
    (upsell), down (contraction) or not at all (product churn); now and then a product is added
    at renewal or co-termed mid-term (cross-sell); sometimes the whole account churns."""
    rng, today = plan.rng, plan.today
    product_count = len(plan.spec.products)
    held = {0: _round_arr(land_arr)}
    if rng.random() < 0.3:
        share = rng.uniform(0.15, 0.35)
        held = {0: _round_arr(land_arr * (1 - share)), rng.randrange(1, product_count): _round_arr(land_arr * share)}
    ever_held = set(held)
    churn_chance = CHURN_PER_RENEWAL[_touch_of(plan, land_arr)]
    start = account.customer_since
    while True:
        end = _add_years(start, 1) - dt.timedelta(days=1)
        booked_on = start if start == account.customer_since else start - dt.timedelta(days=rng.randint(0, 30))
        account.lines.extend(_Line(product, arr, start, end, booked_on) for product, arr in held.items())
        spare = [product for product in range(product_count) if product not in ever_held]
        added_on = start + dt.timedelta(days=rng.randint(60, 300))
        if spare and rng.random() < 0.12 and added_on <= min(end, today):
            product, arr = rng.choice(spare), _round_arr(max(held.values()) * rng.uniform(0.15, 0.5))
            account.lines.append(_Line(product, arr, added_on, end, added_on))  # co-termed with the term
            held[product] = arr
            ever_held.add(product)
        start = end + dt.timedelta(days=1)
        if start > today:
            return
        if rng.random() < churn_chance:
            account.churned_on = end
            return
        renewed: dict[int, int] = {}
        for position, (product, arr) in enumerate(held.items()):
            roll = rng.random()
            if roll < 0.07 and (renewed or position < len(held) - 1):
                continue  # this product churns; something else renews
            if roll < 0.2:
                arr *= rng.uniform(0.7, 0.95)  # contraction
            elif roll < 0.5:
                arr *= rng.uniform(1.1, 1.6)  # upsell
            else:
                arr *= rng.uniform(1.0, 1.06)  # flat, with a price uplift
            renewed[product] = _round_arr(arr)
        spare = [product for product in range(product_count) if product not in ever_held]
        if spare and rng.random() < 0.15:
            product = rng.choice(spare)
            renewed[product] = _round_arr(max(renewed.values()) * rng.uniform(0.15, 0.45))
            ever_held.add(product)
        held = renewed


def _stage(account: _Account, active: list[_Line], today: dt.date) -> str:
    if account.churned_on is not None:
        return LifecycleStage.CHURNED
    age = (today - account.customer_since).days
    if age < 21:
        return LifecycleStage.HANDOFF
    if age < 90:
        return LifecycleStage.ONBOARDING
    if age < 180:
        return LifecycleStage.ADOPTION
    if (min(line.end for line in active) - today).days <= 90:
        return LifecycleStage.RENEWAL
    return LifecycleStage.VALUE


def _contacts(plan: _Tenant, account: _Account) -> list[_Contact]:
    """A sponsor at the top, the finance and decision makers beside and below, a champion and
    the users who report to the champion. Some have left, with why; a champion who left before
    today has a successor."""
    rng = plan.rng
    low, high = CONTACTS_PER_ACCOUNT[account.touch]
    roles = [ContactRole.EXECUTIVE_SPONSOR, ContactRole.CHAMPION, ContactRole.POWER_USER]
    roles += EXTRA_ROLES[: rng.randint(low, high) - len(roles)]
    titles = TITLES[plan.spec.persona]
    last_day = account.churned_on or plan.today
    contacts: list[_Contact] = []
    for role in roles:
        if role == ContactRole.FINANCIAL_DECISION_MAKER:
            title = rng.choice(FINANCE_TITLES)
        elif role == ContactRole.CHAMPION and rng.random() < 0.2:
            title = rng.choice(titles[ContactRole.DECISION_MAKER])  # some champions are directors
        else:
            title = rng.choice(titles[role])
        joined = account.customer_since - dt.timedelta(days=rng.randint(0, 45))
        if role != ContactRole.EXECUTIVE_SPONSOR and rng.random() < 0.2:
            joined = _day_between(rng, account.customer_since, last_day)  # a newer relationship
        contacts.append(_person(rng, account, contacts, role=role, title=title, joined=joined))
    sponsor, champion = 0, 1
    decision_maker = next((i for i, c in enumerate(contacts) if c.role == ContactRole.DECISION_MAKER), sponsor)
    for contact in contacts:
        contact.reports_to = {
            ContactRole.CHAMPION: decision_maker,
            ContactRole.DECISION_MAKER: sponsor,
            ContactRole.POWER_USER: champion,
            ContactRole.END_USER: champion,
        }.get(contact.role)
    # Departures: likelier for the champion of an account that later churned (a top risk).
    for index, contact in enumerate(contacts[: len(roles)]):
        earliest = contact.joined + dt.timedelta(days=90)
        chance = 0.35 if account.churned_on and index == champion else 0.08
        if rng.random() >= chance or earliest >= last_day:
            continue
        contact.left_on = _day_between(rng, earliest, last_day - dt.timedelta(days=1))
        contact.left_note = rng.choice(LEFT_NOTES)
        if index == champion and account.churned_on is None and len(contacts) < 8:
            joined = min(contact.left_on + dt.timedelta(days=rng.randint(10, 60)), plan.today)
            title = rng.choice(titles[ContactRole.CHAMPION])
            successor = _person(rng, account, contacts, role=ContactRole.CHAMPION, title=title, joined=joined)
            successor.reports_to = contact.reports_to
            contacts.append(successor)
    return contacts


def _person(
    rng: random.Random, account: _Account, colleagues: list[_Contact], *, role: str, title: str, joined: dt.date
) -> _Contact:
    taken = {colleague.name for colleague in colleagues}
    while True:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        if f"{first} {last}" not in taken:
            break
    level = ContactLevel.EXECUTIVE if title.startswith(EXECUTIVE_TITLE_STARTS) else ROLE_LEVELS[role]
    email = f"{_ascii(first)}.{_ascii(last)}@{account.domain}".lower()
    return _Contact(f"{first} {last}", title, email, role, level, joined)


def _activities(plan: _Tenant, account: _Account) -> list[_Activity]:
    """The past year's touches, more for bigger accounts; each names our people and theirs."""
    rng, today = plan.rng, plan.today
    first_day = max(today - dt.timedelta(days=365), account.customer_since)
    last_day = min(account.churned_on or today, today - dt.timedelta(days=1))
    if last_day < first_day:
        return []
    low, high = ACTIVITIES_PER_YEAR[account.touch]
    expected = rng.uniform(low, high) * ((last_day - first_day).days + 1) / 365 * plan.activity_share
    weights = KIND_WEIGHTS[account.touch]
    kinds = rng.choices(list(weights), weights=list(weights.values()), k=int(expected) + (rng.random() < expected % 1))
    # The account's CSM then: a churned account has no owner now but had one.
    csm = account.owner if account.owner is not None else rng.choice(plan.csms)
    held_products = sorted({line.product for line in account.lines})
    activities = []
    for kind in kinds:
        day = _weekday(_day_between(rng, first_day, last_day))
        occurred_at = _at(plan, day, rng.randint(8, 16), rng.choice((0, 15, 30, 45)))
        present = [
            index
            for index, contact in enumerate(account.contacts)
            if contact.joined <= day and (contact.left_on is None or contact.left_on > day)
        ]
        automated = account.touch == TouchModel.TECH and kind == ActivityKind.EMAIL
        if kind == ActivityKind.WEBINAR:
            author = rng.choice(plan.csms)  # the host
            team = [author]
        elif automated:
            author, team = None, []  # a tech-touch e-mail sent by automation
        else:
            author, team = csm, [csm]
            if kind in (ActivityKind.QBR, ActivityKind.EBR, ActivityKind.ONSITE) and rng.random() < 0.5:
                team.append(plan.leader)
        contacts = rng.sample(present, min(len(present), rng.randint(1, 3)))
        if kind == ActivityKind.EBR and 0 in present and 0 not in contacts:
            contacts.append(0)  # the sponsor comes to every EBR
        if kind in (ActivityKind.EMAIL, ActivityKind.WEBINAR, ActivityKind.NOTE):
            recap_minutes = rng.randint(1, 5)
        elif rng.random() < 0.8 or day >= today - dt.timedelta(days=2):
            recap_minutes = rng.randint(5, 30)  # most recaps land within 30 minutes of the call
        else:
            recap_minutes = rng.randint(60, 2_880)
        purpose = rng.choice(PURPOSES[kind])
        if "{product}" in purpose:
            purpose = purpose.format(product=plan.spec.products[rng.choice(held_products)])
        has_next_step = kind not in (ActivityKind.WEBINAR, ActivityKind.NOTE) and not automated
        activities.append(
            _Activity(
                kind=kind,
                occurred_at=occurred_at,
                purpose=purpose,
                summary=f"{rng.choice(OUTCOMES)} {rng.choice(DETAILS)}".strip(),
                next_step=rng.choice(NEXT_STEPS) if has_next_step else "",
                next_step_due=day + dt.timedelta(days=rng.randint(3, 21)) if has_next_step else None,
                created_by=author,
                created_at=occurred_at + dt.timedelta(minutes=recap_minutes),
                team=team,
                contacts=contacts,
            )
        )
    activities.sort(key=lambda activity: activity.occurred_at)
    return activities


# --- Small helpers ---------------------------------------------------------------------------


def _company_name(plan: _Tenant, industry: str) -> tuple[str, str]:
    """A name unique in the tenant ("Harbor Point Logistics") and a domain unique with it."""
    rng = plan.rng
    for attempt in itertools.count():
        head, tail, suffix = rng.choice(NAME_HEADS), rng.choice(NAME_TAILS), rng.choice(INDUSTRY_SUFFIXES[industry])
        style = rng.random()
        if style < 0.45:
            name = f"{head}{tail.lower()} {suffix}"
        elif style < 0.8:
            name = f"{head} {tail} {suffix}"
        else:
            name = f"{rng.choice(LAST_NAMES)} & {rng.choice(LAST_NAMES)} {suffix}"
        if attempt >= 20:
            name = f"{name} {rng.choice(NAME_HEADS)}"  # a crowded namespace (load-test tenants)
        stem = _slugify(name).replace("-", "")
        domain = f"{stem}.{plan.spec.top_level_domain}"
        if domain in plan.used_domains:
            domain = f"{stem}-group.{plan.spec.top_level_domain}"
        if name not in plan.used_names and domain not in plan.used_domains:
            plan.used_names.add(name)
            plan.used_domains.add(domain)
            return name, domain
    raise AssertionError("unreachable")


def _segment_of(plan: _Tenant, arr: int) -> int | None:
    """The segment whose ARR band holds ``arr``, as ``accounts.services.segments_assign`` picks it."""
    for segment in plan.segments:  # highest band first
        if arr >= segment.arr_min and (segment.arr_max is None or arr < segment.arr_max):
            return segment.pk
    return None


def _touch_of(plan: _Tenant, arr: float) -> str:
    return next((segment.touch_model for segment in plan.segments if arr >= segment.arr_min), TouchModel.TECH)


def _round_arr(value: float) -> int:
    """Round like a price list would, and no line below 1,200 a year (100 a month)."""
    step = 100 if value < 10_000 else 500 if value < 100_000 else 1_000
    return max(round(value / step) * step, 1_200)


def _round_significant(value: int, digits: int = 2) -> int:
    scale = 10 ** max(len(str(value)) - digits, 0)
    return value // scale * scale


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _day_between(rng: random.Random, first: dt.date, last: dt.date) -> dt.date:
    return first + dt.timedelta(days=rng.randint(0, max((last - first).days, 0)))


def _weekday(day: dt.date) -> dt.date:
    """A weekend day moves back to the Friday: nobody books a QBR on a Sunday."""
    return day - dt.timedelta(days=max(day.weekday() - 4, 0))


def _at(plan: _Tenant, day: dt.date, hour: int, minute: int) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=plan.zone)


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().replace("'", "")


def _slugify(text: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in _ascii(text).lower()).split())


# --- Writing ---------------------------------------------------------------------------------

ACCOUNT_COLUMNS = words(
    "id tenant_id name domain external_id industry employee_count segment_id segment_pinned owner_id "
    "lifecycle_stage customer_since next_renewal_date arr created_at updated_at"
)
LINE_COLUMNS = words("tenant_id account_id product_id arr start_date end_date created_at")
CONTACT_COLUMNS = words(
    "id tenant_id account_id name title email role level reports_to_id left_on left_note external_id created_at"
)
ACTIVITY_COLUMNS = words(
    "id tenant_id account_id kind occurred_at purpose summary next_step next_step_due created_by_id created_at"
)
TEAM_COLUMNS = words("tenant_id activity_id user_id")
ATTENDEE_COLUMNS = words("tenant_id activity_id contact_id")


@dataclass(frozen=True)
class _Ids:
    tenant: int
    users: list[int]
    products: list[int]


def _chunk_write(plans: list[_Account], *, ids: _Ids, now: dt.datetime, use_copy: bool) -> dict[str, int]:
    """Write planned accounts and everything under them. The ids of the accounts, contacts and
    activities are reserved first, so every child row knows its parent's id before any is sent.
    ARR, next renewal and segment are written as the roll-up would compute them from the lines
    (a test checks that): two UPDATEs of every row of a 100,000-account tenant and its twelve
    indexes took most of a minute."""
    tenant, users, products = ids.tenant, ids.users, ids.products
    account_id = bulk.ids_reserve(Account, len(plans))
    contact_id = bulk.ids_reserve(Contact, sum(len(plan.contacts) for plan in plans))
    activity_id = bulk.ids_reserve(Activity, sum(len(plan.activities) for plan in plans))
    accounts, lines, contacts, activities, team, attendees = [], [], [], [], [], []
    for plan in plans:
        owner = users[plan.owner] if plan.owner is not None else None
        accounts.append(
            (
                account_id,
                tenant,
                plan.name,
                plan.domain,
                plan.external_id,
                plan.industry,
                plan.employee_count,
                plan.segment,
                False,
                owner,
                plan.stage,
                plan.customer_since,
                plan.next_renewal,
                Decimal(plan.arr),
                plan.created_at,
                now,
            )
        )
        for line in plan.lines:
            booked_at = _noon(line.booked_on, not_before=plan.created_at)
            lines.append(
                (tenant, account_id, products[line.product], Decimal(line.arr), line.start, line.end, booked_at)
            )
        first_contact_id = contact_id
        for contact in plan.contacts:
            manager = None if contact.reports_to is None else first_contact_id + contact.reports_to
            contacts.append(
                (
                    contact_id,
                    tenant,
                    account_id,
                    contact.name,
                    contact.title,
                    contact.email,
                    contact.role,
                    contact.level,
                    manager,
                    contact.left_on,
                    contact.left_note,
                    "",
                    _noon(contact.joined, not_before=plan.created_at),
                )
            )
            contact_id += 1
        for activity in plan.activities:
            author = users[activity.created_by] if activity.created_by is not None else None
            activities.append(
                (
                    activity_id,
                    tenant,
                    account_id,
                    activity.kind,
                    activity.occurred_at,
                    activity.purpose,
                    activity.summary,
                    activity.next_step,
                    activity.next_step_due,
                    author,
                    activity.created_at,
                )
            )
            team.extend((tenant, activity_id, users[user]) for user in activity.team)
            attendees.extend((tenant, activity_id, first_contact_id + contact) for contact in activity.contacts)
            activity_id += 1
        account_id += 1
    write = bulk.rows_copy if use_copy else bulk.rows_insert
    tables = {
        "accounts": (Account, ACCOUNT_COLUMNS, accounts),
        "subscription lines": (SubscriptionLine, LINE_COLUMNS, lines),
        "contacts": (Contact, CONTACT_COLUMNS, contacts),
        "activities": (Activity, ACTIVITY_COLUMNS, activities),
        "activity team rows": (ActivityTeamMember, TEAM_COLUMNS, team),
        "activity contact rows": (ActivityContact, ATTENDEE_COLUMNS, attendees),
    }
    for model, columns, rows in tables.values():
        write(model, columns, rows)
    return {name: len(rows) for name, (_, _, rows) in tables.items()}


@contextmanager
def _indexes_deferred(models, *, enabled: bool) -> Iterator[None]:
    """On PostgreSQL, drop the tables' foreign keys and plain indexes (not those behind a
    primary key or unique constraint) while a large tenant's rows are copied in, and add them
    again afterwards, as PostgreSQL's "Populating a Database" advises: one sort per index
    instead of scattered inserts (the accounts' trigram indexes above all), and one join per
    foreign key to validate it instead of a trigger call per row (about 5 million for 100,000
    accounts). The definitions come from the catalog, so they come back exactly as the
    migrations made them; inside the tenant's transaction a failure rolls the drop back with
    everything else, and a row breaking a foreign key fails the whole seed as before."""
    if not enabled or connection.vendor != "postgresql":
        yield
        return
    tables = [model._meta.db_table for model in models]
    with connection.cursor() as cursor:
        # PostgreSQL alters no table with deferred foreign-key checks pending: run them now
        # (they would run at commit anyway).
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(
            "SELECT c.conrelid::regclass::text, quote_ident(c.conname), pg_get_constraintdef(c.oid) "
            "FROM pg_constraint c WHERE c.contype = 'f' AND c.conrelid = ANY(%s::regclass[]) ORDER BY 1, 2",
            [tables],
        )
        foreign_keys = cursor.fetchall()
        cursor.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "WHERE i.indrelid = ANY(%s::regclass[]) "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) "
            "ORDER BY 1",
            [tables],
        )
        indexes = cursor.fetchall()
        for table, name, _ in foreign_keys:
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
        for name, _ in indexes:
            cursor.execute(f"DROP INDEX {name}")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    yield
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for _, definition in indexes:
            cursor.execute(definition)
        for table, name, definition in foreign_keys:
            cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def _noon(day: dt.date, *, not_before: dt.datetime) -> dt.datetime:
    """Noon UTC of ``day``, but not before the account was created."""
    return max(dt.datetime(day.year, day.month, day.day, 12, tzinfo=dt.UTC), not_before)
