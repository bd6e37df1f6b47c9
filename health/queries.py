"""Reads of the health pages: the Account 360 health card (two queries whatever the account
holds: current score with its version and the current pulse, 91 days of snapshots; no pandas) and
the leader view's band distribution (one grouped query per grouping)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection
from django.db.models import Count, Sum, Value
from django.db.models.functions import Coalesce

from accounts.models import Account, LifecycleStage
from csplatform.models import Tenant, User
from csplatform.rows import fetch_row, fetch_rows, instance_from_values

from . import scoring
from .models import HealthConfig, HealthScore, HealthSnapshot, Pulse

TREND_DAYS = 90
COMPARE_DAYS = (7, 30)
MOVE_THRESHOLD = 0.5  # points of score: smaller moves are rounding noise


@dataclass(frozen=True)
class MeasureMove:
    label: str
    before: float  # contribution to the score then, in points
    after: float
    delta: float
    note: str = ""  # "no data then", "no data now"


@dataclass(frozen=True)
class Comparison:
    days: int
    day: dt.date | None  # the snapshot compared with (on or before today - days); None: none that old
    score_before: int | None
    delta: int | None
    moves: list[MeasureMove] = field(default_factory=list)
    config_changed: str = ""  # "v1 -> v2" when the configuration changed in between


@dataclass(frozen=True)
class HealthCard:
    score: HealthScore | None
    measures: list[dict]
    halves: list[dict]
    missing: list[dict]
    pulled_down_most: dict | None
    trend: list[TrendPoint]
    comparisons: list[Comparison]
    pulse: Pulse | None


def compare_contributions(*, now: dict[str, float | None], then: dict[str, float | None]) -> list[MeasureMove]:
    """Which measures moved the score between two days, largest move first: each measure's
    contribution (points of score) then and now; ``None`` is "no data"."""
    moves = []
    for key in dict.fromkeys([*now, *then]):
        after, before = now.get(key), then.get(key)
        note = ""
        if key in then and before is None and after is not None:
            note = "no data then"
        elif key in now and after is None and before is not None:
            note = "no data now, left out"
        delta = round((after or 0.0) - (before or 0.0), 1)
        if abs(delta) >= MOVE_THRESHOLD or note:
            measure = scoring.MEASURES_BY_KEY.get(key)
            label = measure.label if measure else key
            moves.append(MeasureMove(label, before or 0.0, after or 0.0, delta, note))
    return sorted(moves, key=lambda move: -abs(move.delta))


@dataclass(frozen=True)
class TrendPoint:
    day: dt.date
    score: int | None
    band: str


def health_card(*, tenant: Tenant, account: Account, today: dt.date) -> HealthCard:
    """Two queries (a third only when a compared snapshot was scored by another configuration
    version) and no pandas: the current score with its version and pulse, then 91 days of
    snapshots as plain rows. The stored raw values are replayed in plain Python
    (``scoring.breakdown_parse``); a snapshot's breakdown text is parsed only for the two
    snapshots compared with."""
    score, pulse = current_score(tenant=tenant, account=account, today=today)
    rows = snapshot_rows(tenant=tenant, account=account, first=today - dt.timedelta(days=TREND_DAYS), last=today)
    trend = [TrendPoint(day, value, band) for day, value, band, _, _ in rows]
    if score is None:
        return HealthCard(None, [], [], [], None, trend, [], pulse)
    definition = score.config.definition
    measures = scoring.breakdown_parse(score.breakdown, definition)
    present = [row for row in measures if not row["missing"]]
    pulled_down_most = max(present, key=lambda row: row["lost"], default=None)
    if pulled_down_most is not None and pulled_down_most["lost"] <= 0:
        pulled_down_most = None
    halves = [
        {"label": scoring.HALF_LABELS[half], "score": getattr(score, f"{half}_score"), "weight": weight}
        for half, weight in definition["halves"].items()
    ]
    targets = [score.as_of - dt.timedelta(days=days) for days in COMPARE_DAYS]
    thens = [next((row for row in reversed(rows) if row[0] <= target), None) for target in targets]
    configs = {score.config_id: score.config}
    other_ids = {then[3] for then in thens if then is not None} - set(configs)
    if other_ids:
        configs.update(HealthConfig.objects.in_bulk(other_ids))
    now = {row["key"]: None if row["missing"] else row["contribution"] for row in measures}
    comparisons = []
    for days, then in zip(COMPARE_DAYS, thens, strict=True):
        if then is None:
            comparisons.append(Comparison(days, None, None, None))
            continue
        day, score_then, _, config_id, breakdown = then
        config = configs[config_id]
        then_contributions = scoring.breakdown_contributions(json.loads(breakdown or "{}"), config.definition)
        moves = compare_contributions(now=now, then=then_contributions)
        delta = score.score - score_then if score.score is not None and score_then is not None else None
        changed = f"v{config.version} → v{score.config.version}" if config_id != score.config_id else ""
        comparisons.append(Comparison(days, day, score_then, delta, moves, changed))
    return HealthCard(
        score=score,
        measures=measures,
        halves=halves,
        missing=[row for row in measures if row["missing"]],
        pulled_down_most=pulled_down_most,
        trend=trend,
        comparisons=comparisons,
        pulse=pulse,
    )


# The card's reads are plain statements: Django took longer to build and convert each of them
# than PostgreSQL took to answer it, and every Account 360 page runs them.
CURRENT_SCORE_SQL = """
    SELECT score.id, score.score, score.band, score.csm_score, score.customer_score, score.breakdown, score.as_of,
        config.id, config.version, config.definition,
        pulse.id, pulse.sentiment, pulse.reason, pulse.expires_on, person.id, person.full_name, person.email
    FROM {scores} score
    JOIN {configs} config ON config.id = score.config_id AND config.tenant_id = %(tenant)s
    LEFT JOIN {pulses} pulse ON pulse.id = (
        SELECT id FROM {pulses}
        WHERE tenant_id = %(tenant)s AND account_id = %(account)s AND set_on <= %(today)s AND expires_on >= %(today)s
        ORDER BY set_on DESC, created_at DESC, id DESC
        LIMIT 1
    )
    LEFT JOIN {users} person ON person.id = pulse.set_by_id
    WHERE score.tenant_id = %(tenant)s AND score.account_id = %(account)s
"""


def current_score(*, tenant: Tenant, account: Account, today: dt.date) -> tuple[HealthScore | None, Pulse | None]:
    """The account's current score with its configuration version (``score.config``) and the
    CSM pulse in force ``today`` (the card shows it beside the score, so none for an account
    not scored yet): one query scoped to ``tenant``. Model instances holding only what the card
    reads: the score but its ``computed_at`` and 7-day change; the pulse's sentiment, reason,
    end and ``set_by`` (a name and e-mail)."""
    tables = {"scores": HealthScore, "configs": HealthConfig, "pulses": Pulse, "users": User}
    sql = CURRENT_SCORE_SQL.format(**{key: model._meta.db_table for key, model in tables.items()})
    params = {"tenant": tenant.pk, "account": account.pk, "today": connection.ops.adapt_datefield_value(today)}
    row = fetch_row(sql, params)
    if row is None:
        return None, None
    (score_id, value, band, csm_score, customer_score, breakdown, as_of, config_id, version, definition) = row[:10]
    (pulse_id, sentiment, reason, expires_on, user_id, full_name, email) = row[10:]
    score = instance_from_values(
        HealthScore,
        id=score_id,
        tenant_id=tenant.pk,
        account_id=account.pk,
        score=value,
        band=band,
        csm_score=csm_score,
        customer_score=customer_score,
        breakdown=json.loads(breakdown),
        as_of=as_of,
        config_id=config_id,
    )
    score.config = instance_from_values(
        HealthConfig, id=config_id, tenant_id=tenant.pk, version=version, definition=json.loads(definition)
    )
    if pulse_id is None:
        return score, None
    pulse = instance_from_values(
        Pulse,
        id=pulse_id,
        tenant_id=tenant.pk,
        account_id=account.pk,
        set_by_id=user_id,
        sentiment=sentiment,
        reason=reason,
        expires_on=expires_on,
    )
    if user_id is not None:
        pulse.set_by = instance_from_values(User, id=user_id, full_name=full_name, email=email)
    return score, pulse


def snapshot_rows(
    *, tenant: Tenant, account: Account, first: dt.date, last: dt.date
) -> list[tuple[dt.date, int | None, str, int, str]]:
    """The account's daily snapshots from ``first`` to ``last``, oldest first, as plain rows:
    (day, score, band, configuration id, breakdown as JSON text). One query scoped to ``tenant``."""
    sql = f"""
        SELECT day, score, band, config_id, breakdown FROM {HealthSnapshot._meta.db_table}
        WHERE tenant_id = %(tenant)s AND account_id = %(account)s AND day >= %(first)s AND day <= %(last)s
        ORDER BY day
    """  # noqa: S608 (table names from the models, values as parameters)
    params = {
        "tenant": tenant.pk,
        "account": account.pk,
        "first": connection.ops.adapt_datefield_value(first),
        "last": connection.ops.adapt_datefield_value(last),
    }
    return fetch_rows(sql, params)


# --- Leader view: bands by segment and by CSM -------------------------------------------------

BAND_ORDER = ("red", "yellow", "green", "")


@dataclass(frozen=True)
class BandGroup:
    """One segment's (or CSM's) live accounts by band: counts and ARR; ``key`` is its id (None:
    no segment / unassigned). ARR in red is the ARR at risk."""

    key: int | None
    label: str
    counts: dict[str, int]
    arr: dict[str, Decimal]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def arr_total(self) -> Decimal:
        return sum(self.arr.values(), Decimal(0))

    @property
    def arr_at_risk(self) -> Decimal:
        return self.arr.get("red", Decimal(0))

    def cells(self) -> list[dict]:
        return [
            {"band": band, "count": self.counts.get(band, 0), "arr": self.arr.get(band, Decimal(0))}
            for band in BAND_ORDER
        ]


def band_distribution(*, tenant: Tenant, by: str) -> list[BandGroup]:
    """Live (not churned) accounts by ``by`` ("segment" or "owner") and band, with ARR: one
    grouped query. Groups in the order of the segments (highest ARR band first) or of the
    CSMs' names; "no score yet" is band ""."""
    if by == "segment":
        key, label, order = "segment_id", "segment__name", ("-segment__arr_min",)
    elif by == "owner":
        key, label, order = "owner_id", "owner__full_name", ("owner__full_name", "owner__email")
    else:
        raise ValueError(by)
    rows = (
        Account.objects.filter(tenant=tenant)
        .exclude(lifecycle_stage=LifecycleStage.CHURNED)
        .values(key, label, *(["owner__email"] if by == "owner" else []), band=Coalesce("health__band", Value("")))
        .annotate(count=Count("pk"), arr=Coalesce(Sum("arr"), Value(Decimal(0))))
        .order_by(*order, key)
    )
    groups: dict[int | None, BandGroup] = {}
    for row in rows:
        name = row[label] or (row.get("owner__email") if by == "owner" else None)
        group = groups.setdefault(
            row[key],
            BandGroup(row[key], name or ("Unassigned" if by == "owner" else "No segment"), {}, {}),
        )
        group.counts[row["band"]] = group.counts.get(row["band"], 0) + row["count"]
        group.arr[row["band"]] = group.arr.get(row["band"], Decimal(0)) + row["arr"]
    return list(groups.values())
