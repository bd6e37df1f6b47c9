"""Retention numbers of a large tenant, read from the ARR ledger's runs in the database.

A period needs each account's and product's ARR at two points only (the end of the month before
it and of its last month). Every ledger row carries the run of months its ARR holds
(``ArrMovement.month`` up to ``valid_until``), so the ARR of every pair at a month end is one index
range read (``movement_runs``: the runs still holding then, ARR included in the index).

- ``positions_frame`` returns those positions as the frame ``metrics.arr_positions`` builds from
  the ledger (same columns, same rows), for the drill-downs that list accounts.
- ``summary_frame`` computes ``metrics.retention_summary`` of account retention (sliced by
  segment, CSM or industry) or product wallet retention (by product) inside the database and
  returns a handful of rows: the statuses and sums are ``metrics._classify`` and
  ``metrics.retention_summary`` written in SQL, and the ratios come from the same pure
  ``metrics.summary_ratios``. ``tests/renewals/test_retention.py`` holds the two paths equal.
- ``trend_frame`` is ``metrics.retention_trend`` from the same reads, each period cached
  against the tenant's ledger version (bumped by every ledger rebuild), so it is never stale.
  The dashboard reads ``trend_frame_or_last``: after a rebuild it shows the last trend while a
  Celery task, enqueued on commit by the rebuild, warms the new one.

Plain SQL that PostgreSQL and SQLite both run (``FILTER`` needs SQLite 3.30, ``FULL JOIN`` 3.39).
The statements are assembled from this module's constant fragments; every value is a parameter.
"""

# ruff: noqa: S608

from __future__ import annotations

import hashlib

import pandas as pd
from django.core.cache import cache
from django.db import connection, transaction

from accounts.models import Account, Segment
from csplatform.models import Tenant, User

from . import metrics
from .ledger import month_start
from .models import ArrMovement, Product, RetentionSettings

SUM_COLUMNS = metrics.SUM_COLUMNS
SLICES = (None, "segment", "owner", "industry", "product")

# The ARR of every pair at the end of a month: the ledger rows whose run holds then.
_HELD_AT = """
        SELECT account_id, product_id, arr_after AS arr, account_since FROM renewals_arrmovement
        WHERE tenant_id = %(tenant)s AND valid_until > {point} AND month <= {point} AND arr_after > 0"""

# The two positions joined, as floats from here on (as in ``metrics``): summing numerics row by
# row is what a large tenant would wait for.
_PAIRS = f"""
pairs AS (
    SELECT COALESCE(s.account_id, e.account_id) AS account_id, COALESCE(s.product_id, e.product_id) AS product_id,
        CAST(COALESCE(s.arr, 0) AS DOUBLE PRECISION) AS arr_start,
        CAST(COALESCE(e.arr, 0) AS DOUBLE PRECISION) AS arr_end,
        COALESCE(s.account_since, e.account_since) AS account_since
    FROM ({_HELD_AT.format(point="%(opening)s")}) s
    FULL JOIN ({_HELD_AT.format(point="%(last)s")}) e ON e.account_id = s.account_id AND e.product_id = s.product_id
),
accounts AS (
    SELECT account_id, SUM(arr_start) AS arr_start, SUM(arr_end) AS arr_end, MIN(account_since) AS account_since
    FROM pairs GROUP BY account_id
)"""

# metrics._classify, row by row; ``{seen}`` says whether the row had ARR before the start.
_STATUS = """CASE
    WHEN {row}.arr_start > 0 AND {row}.arr_end <= 0 THEN 'churned'
    WHEN {row}.arr_start > 0 AND {row}.arr_end < {row}.arr_start THEN 'contracted'
    WHEN {row}.arr_start > 0 AND {row}.arr_end > {row}.arr_start THEN 'expanded'
    WHEN {row}.arr_start > 0 THEN 'retained'
    WHEN {seen} THEN 'reactivated'
    ELSE 'new' END"""

# metrics.retention_summary's sums, per slice.
_SUMS = """
    COUNT(*) FILTER (WHERE c.arr_start > 0) AS accounts_start,
    COUNT(*) FILTER (WHERE c.status = 'churned') AS accounts_churned,
    COUNT(*) FILTER (WHERE c.status = 'expanded') AS accounts_expanded,
    COALESCE(SUM(c.arr_start), 0) AS arr_start,
    COALESCE(SUM(c.arr_start) FILTER (WHERE c.status = 'churned'), 0) AS churn,
    COALESCE(SUM(c.arr_start - c.arr_end) FILTER (WHERE c.status = 'contracted'), 0) AS contraction,
    COALESCE(SUM(c.arr_end - c.arr_start) FILTER (WHERE c.status = 'expanded'), 0) AS expansion,
    COALESCE(SUM(c.arr_end) FILTER (WHERE c.arr_start > 0), 0) AS arr_end,
    COALESCE(SUM(c.arr_end) FILTER (WHERE c.status = 'new'), 0) AS new,
    COALESCE(SUM(c.arr_end) FILTER (WHERE c.status = 'reactivated'), 0) AS reactivation"""

# The account's slice values (``metrics.with_slices``; the segment is added per tenant).
_ACCOUNT_KEYS = {
    "owner": "CAST(a.owner_id AS TEXT)",
    "industry": "COALESCE(NULLIF(a.industry, ''), '—')",
}


def _fetch(sql: str, params: dict, *, nested_loops: bool = False) -> list[tuple]:
    """Run one read. On PostgreSQL: with room to hash a large tenant's accounts in memory, and
    without nested loops, which the planner picks for joins to a CTE (it guesses 200 rows) and
    which cost 100,000 index probes of the accounts table (the trend's join of its few periods to
    the ledger runs' index needs them, and says so)."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            nested = "on" if nested_loops else "off"
            # No JIT: compiling the expressions costs more (about 70 ms) than the whole read saves.
            cursor.execute(
                "SELECT set_config('work_mem', '64MB', true), set_config('enable_nestloop', %s, true), "
                "set_config('jit', 'off', true)",
                [nested],
            )
        cursor.execute(sql, params)
        return cursor.fetchall()


def _params(tenant: Tenant, period: metrics.Period) -> dict:
    return {"tenant": tenant.pk, "opening": month_start(period.opening), "last": month_start(period.last)}


def _segment_expression(params: dict, tenant: Tenant) -> str:
    """``metrics.with_slices``' segment: the pinned one, else the band (highest ``arr_min`` first,
    as ``segment_by_band`` lets it win) of the account's ARR at the start, or at the end when it
    came in during the period."""
    basis = "(CASE WHEN c.arr_start > 0 THEN c.arr_start ELSE c.arr_end END)"
    cases = ["WHEN a.segment_pinned AND seg.name IS NOT NULL THEN seg.name"]
    bands = Segment.objects.filter(tenant=tenant).order_by("-arr_min", "pk").values_list("name", "arr_min", "arr_max")
    for number, (name, arr_min, arr_max) in enumerate(bands):
        # Floats, not Decimals: SQLite would compare a Decimal, sent as text, as text.
        params |= {
            f"band_{number}": name,
            f"band_{number}_min": float(arr_min),
            f"band_{number}_max": None if arr_max is None else float(arr_max),
        }
        ceiling = f" AND {basis} < %(band_{number}_max)s" if arr_max is not None else ""
        cases.append(f"WHEN {basis} >= %(band_{number}_min)s{ceiling} THEN %(band_{number})s")
    return f"COALESCE(CASE {' '.join(cases)} END, '—')"


def summaries(
    *, tenant: Tenant, period: metrics.Period, slices: tuple[str, ...] = ()
) -> dict[str | None, pd.DataFrame]:
    """``metrics.retention_summary`` of the period in total (key None) and by each of ``slices``
    (segment, owner, industry: account retention; product: product wallet retention), all from
    one query (plus one for the segment bands, the CSM or the product names when asked)."""
    unknown = set(slices) - set(SLICES)
    if unknown:
        raise ValueError(f"Unknown slice(s) {sorted(unknown)}.")
    params = _params(tenant, period)
    account_slices = [by for by in slices if by != "product"]
    keys = {by: _ACCOUNT_KEYS.get(by) or _segment_expression(params, tenant) for by in account_slices}
    joins = (
        "JOIN accounts_account a ON a.id = c.account_id AND a.tenant_id = %(tenant)s "
        "LEFT JOIN accounts_segment seg ON seg.id = a.segment_id"
        if account_slices
        else ""
    )
    key_columns = "".join(f", {expression} AS key_{by}" for by, expression in keys.items())
    seen = "c.account_since <= %(opening)s"
    ctes = [
        _PAIRS,
        f"account_rows AS MATERIALIZED (SELECT c.*, {_STATUS.format(row='c', seen=seen)} AS status{key_columns} "
        f"FROM accounts c {joins})",
    ]
    selects = [f"SELECT 'total' AS slice_by, 'All' AS slice, {_SUMS} FROM account_rows c"]
    selects += [f"SELECT '{by}', c.key_{by}, {_SUMS} FROM account_rows c GROUP BY c.key_{by}" for by in account_slices]
    if "product" in slices:
        ctes.append(f"pair_rows AS (SELECT c.*, {_STATUS.format(row='c', seen='1 = 0')} AS status FROM pairs c)")
        selects.append(f"SELECT 'product', CAST(c.product_id AS TEXT), {_SUMS} FROM pair_rows c GROUP BY c.product_id")
    sql = f"WITH {', '.join(ctes)} {' UNION ALL '.join(selects)}"
    frame = pd.DataFrame(_fetch(sql, params), columns=["slice_by", "slice", *SUM_COLUMNS])
    frame[SUM_COLUMNS] = (
        frame[SUM_COLUMNS]
        .astype(float)
        .astype({"accounts_start": int, "accounts_churned": int, "accounts_expanded": int})
    )
    names: dict[str, dict] = {}
    if "owner" in slices:
        members = User.objects.filter(memberships__tenant=tenant)
        names["owner"] = {str(user.pk): str(user) for user in members}
    if "product" in slices:
        names["product"] = {
            str(pk): name for pk, name in Product.objects.filter(tenant=tenant).values_list("pk", "name")
        }
    result: dict[str | None, pd.DataFrame] = {}
    for by in (None, *slices):
        part = frame[frame["slice_by"] == (by or "total")]
        labels = part["slice"]
        if by == "owner":
            labels = labels.map(lambda owner_id: names["owner"].get(owner_id, "Unassigned"))
        elif by == "product":
            labels = labels.map(names["product"])
        summary = part.assign(slice=labels).groupby("slice")[SUM_COLUMNS].sum()
        summary.index.name = by or "total"
        result[by] = metrics.summary_ratios(summary)
    return result


# Slices whose numbers depend on the ledger and the segment bands only, so they can be cached
# against the ledger version; the CSM and industry of an account are edited elsewhere.
CACHEABLE_SLICES = frozenset({"segment", "product"})
SUMMARY_CACHE_SECONDS = 60 * 60 * 24


def _segment_signature(tenant: Tenant) -> str:
    """What the segment slice depends on besides the ledger: the bands and the pinned accounts
    (two small reads)."""
    bands = list(Segment.objects.filter(tenant=tenant).order_by("pk").values_list("pk", "name", "arr_min", "arr_max"))
    pinned = list(
        Account.objects.filter(tenant=tenant, segment_pinned=True).order_by("pk").values_list("pk", "segment_id")
    )
    return hashlib.sha256(repr((bands, pinned)).encode()).hexdigest()[:20]


def _summary_keys(tenant: Tenant, period: metrics.Period, slices: tuple[str, ...]) -> dict[str | None, str]:
    version = ledger_version(tenant=tenant)
    base = f"renewals:summary:{tenant.pk}:{period.kind}:{period.first}:{period.last}:{version}"
    keys: dict[str | None, str] = {None: f"{base}:total"}
    for by in slices:
        keys[by] = f"{base}:{by}" + (f":{_segment_signature(tenant)}" if by == "segment" else "")
    return keys


def summaries_current(
    *, tenant: Tenant, period: metrics.Period, slices: tuple[str, ...] = ()
) -> dict[str | None, pd.DataFrame]:
    """``summaries``, served from the cache when nothing it depends on has changed: each part is
    keyed by the ledger version (bumped in the same transaction as every rebuild, a closed renewal's
    included) and the segment slice also by the bands and pinned accounts, so a cached number is
    never stale. Slices by CSM or industry are always computed. ``warm_retention_trend``, enqueued
    by every rebuild, fills the cache for the current month, quarter and trailing twelve months."""
    if not set(slices) <= CACHEABLE_SLICES:
        return summaries(tenant=tenant, period=period, slices=slices)
    keys = _summary_keys(tenant, period, slices)
    cached = cache.get_many(list(keys.values()))
    if len(cached) == len(keys):
        return {by: cached[key] for by, key in keys.items()}
    result = summaries(tenant=tenant, period=period, slices=slices)
    cache.set_many({key: result[by] for by, key in keys.items()}, SUMMARY_CACHE_SECONDS)
    return result


def summary_frame(*, tenant: Tenant, period: metrics.Period, by: str | None = None) -> pd.DataFrame:
    """``metrics.retention_summary`` of the period, in total (``by=None``) or by one slice."""
    return summaries(tenant=tenant, period=period, slices=(by,) if by else ())[by]


def positions_frame(*, tenant: Tenant, period: metrics.Period) -> pd.DataFrame:
    """``metrics.arr_positions(ledger, period)`` read from the ledger runs: per (account, product)
    ``arr_start``, ``arr_end`` and ``seen_before``; one query."""
    sql = (
        f"WITH {_PAIRS} SELECT pairs.account_id, pairs.product_id, pairs.arr_start, pairs.arr_end, "
        "CASE WHEN accounts.account_since <= %(opening)s THEN 1 ELSE 0 END "
        "FROM pairs JOIN accounts ON accounts.account_id = pairs.account_id ORDER BY pairs.account_id, pairs.product_id"
    )
    fetched = _fetch(sql, _params(tenant, period))
    columns = ["account_id", "product_id", "arr_start", "arr_end", "seen_before"]
    frame = pd.DataFrame(fetched, columns=columns)
    return frame.astype(
        {"account_id": "int64", "product_id": "int64", "arr_start": float, "arr_end": float, "seen_before": bool}
    )


def ledger_version(*, tenant: Tenant) -> int:
    return RetentionSettings.objects.filter(tenant=tenant).values_list("ledger_version", flat=True).first() or 0


TREND_CACHE_SECONDS = 60 * 60 * 24


def _trend_key(tenant: Tenant, period: metrics.Period, count: int) -> str:
    return f"renewals:trend:{tenant.pk}:{period.kind}:{period.first}:{period.last}:{count}"


def _trend_labelled(periods: list[metrics.Period], rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{"label": each.short_label, **row} for each, row in zip(periods, rows, strict=True)])


def _trend_periods(period: metrics.Period, count: int) -> list[metrics.Period]:
    return [period.previous(step) for step in range(count - 1, -1, -1)]


def trend_frame(*, tenant: Tenant, period: metrics.Period, count: int) -> pd.DataFrame:
    """``metrics.retention_trend``: GRR, NRR and logo churn (with the bridge's sums) of ``period``
    and the ``count - 1`` periods of its kind before it, oldest first, in one query. Cached
    against the ledger version, so a rebuild (a renewal closing, the periodic refresh) makes it
    recomputed: never stale."""
    version = ledger_version(tenant=tenant)
    key = _trend_key(tenant, period, count)
    cached = cache.get(key)
    if cached is not None and cached[0] == version:
        return _trend_labelled(_trend_periods(period, count), cached[1])
    return _trend_compute(tenant=tenant, period=period, count=count, version=version)


def trend_frame_or_last(*, tenant: Tenant, period: metrics.Period, count: int) -> tuple[pd.DataFrame, bool]:
    """(trend, current): the trend of the current ledger version when it is cached, else the
    last one computed (``current`` False) while ``renewals.tasks.warm_retention_trend``, enqueued
    by every ledger rebuild, computes the new one; computed here only when none was ever cached.
    On a large tenant the trend reads two dozen month ends (seconds), so the first view
    after a renewal closes should not wait for it; the headline numbers are never cached."""
    version = ledger_version(tenant=tenant)
    cached = cache.get(_trend_key(tenant, period, count))
    if cached is None:
        return _trend_compute(tenant=tenant, period=period, count=count, version=version), True
    return _trend_labelled(_trend_periods(period, count), cached[1]), cached[0] == version


def _trend_compute(*, tenant: Tenant, period: metrics.Period, count: int, version: int) -> pd.DataFrame:
    periods = _trend_periods(period, count)
    params = {"tenant": tenant.pk}
    values = []
    for number, each in enumerate(periods):
        params |= {f"opening_{number}": month_start(each.opening), f"last_{number}": month_start(each.last)}
        values.append(f"SELECT {number} AS step, %(opening_{number})s AS opening, %(last_{number})s AS last")
    seen = "c.account_since <= c.opening"
    sql = f"""
        WITH periods AS ({" UNION ALL ".join(values)}),
        points AS (
            SELECT step, opening, opening AS point, 1 AS at_start FROM periods
            UNION ALL SELECT step, opening, last AS point, 0 AS at_start FROM periods
        ),
        accounts AS (
            SELECT p.step, p.opening, runs.account_id,
                SUM(CASE WHEN p.at_start = 1 THEN CAST(runs.arr_after AS DOUBLE PRECISION) ELSE 0 END) AS arr_start,
                SUM(CASE WHEN p.at_start = 0 THEN CAST(runs.arr_after AS DOUBLE PRECISION) ELSE 0 END) AS arr_end,
                MIN(runs.account_since) AS account_since
            FROM points p JOIN renewals_arrmovement runs
                ON runs.tenant_id = %(tenant)s AND runs.valid_until > p.point AND runs.month <= p.point
                AND runs.arr_after > 0
            GROUP BY p.step, p.opening, runs.account_id
        ),
        account_rows AS MATERIALIZED (SELECT c.*, {_STATUS.format(row="c", seen=seen)} AS status FROM accounts c)
        SELECT c.step, {_SUMS} FROM account_rows c GROUP BY c.step
    """
    fetched = {row[0]: [float(value) for value in row[1:]] for row in _fetch(sql, params, nested_loops=True)}
    sums = pd.DataFrame(
        [fetched.get(number, [0.0] * len(SUM_COLUMNS)) for number in range(len(periods))], columns=SUM_COLUMNS
    )
    rows = metrics.summary_ratios(sums).to_dict("records")
    # Keyed without the version, so the last trend stays to show while the next one is computed.
    cache.set(_trend_key(tenant, period, count), (version, rows), TREND_CACHE_SECONDS)
    return _trend_labelled(periods, rows)


def measured_months(*, tenant: Tenant) -> int:
    """How many month ends the ledger spans (for the bench's report)."""
    return ArrMovement.objects.filter(tenant=tenant).values("month").distinct().count()
