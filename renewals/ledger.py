"""The ARR ledger: movements of ARR per account and product, derived from subscription lines.

How a movement is defined (the contract every retention number rests on):

1. **Measurement points.** The ARR of an account in a product is measured at each month end:
   the sum of its lines whose term covers that day. The current month is measured *today*
   instead (its end has not happened; nothing is projected). Lines that start after today do
   not count yet.
2. **A movement** is a change of that ARR from one measurement point to the next, recorded in
   the later month (``ArrMovement.month`` is its first day). Because only month ends are
   compared, an upgrade recorded as cancel-and-rebuy (the old line ends and a bigger one starts
   the same day, the next day, or anywhere inside the month) is one *expansion* of the
   difference, never churn plus new business; a renewal whose next term starts the day after
   the last one ends is no movement at all when the ARR is flat. A line that lapses across a
   month end and comes back later is churn, then reactivation.
3. **Kinds** look at the whole account in that month (ARR before = previous point, after = this one):
   - account from zero to above zero: **new** the first time, **reactivation** after it has
     had ARR before (every product that came in is classified so);
   - account from above zero to zero: **churn** (every product that left);
   - otherwise the account stays: a product's ARR going up is **expansion** (an upsell, or a
     cross-sell from zero), going down is **contraction** (a product dropped while the account
     stays is product churn, which is a contraction for the account).
4. The ARR of an account and product at the end of month M is the sum of its movements'
   ``amount`` up to M, so any metric can be recomputed from ledger rows alone.

``ledger_rebuild`` recomputes a tenant's ledger, or just some accounts', set-based: one read of
the lines, pandas, one DELETE and one COPY (batched INSERTs off PostgreSQL), and bumps the
tenant's ledger version. Each row also carries the run of months its ARR holds (``valid_until``,
the month of the pair's next movement) and the account's first month (``account_since``), so the
ARR of every account and product at any month end is one index range read of the ledger
(``renewals.retention``): no dense monthly snapshot to write (2.8 million rows for a tenant of
100,000 accounts over three years, which took most of the rebuild's time).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import numpy as np
import pandas as pd
from django.db import connection, transaction
from django.db.models import F

from accounts.services import tenant_today
from csplatform import bulk
from csplatform.models import Tenant

from .models import STILL_HOLDS, ArrMovement, MovementKind, RetentionSettings, SubscriptionLine

LEDGER_COLUMNS = (
    "tenant_id",
    "account_id",
    "product_id",
    "month",
    "kind",
    "arr_before",
    "arr_after",
    "amount",
    "valid_until",
    "account_since",
)


def month_index(day: dt.date) -> int:
    """Months since year 0: consecutive months are consecutive integers."""
    return day.year * 12 + day.month - 1


def month_start(index: int) -> dt.date:
    return dt.date(index // 12, index % 12 + 1, 1)


def month_end_arr(lines: pd.DataFrame, *, today: dt.date) -> pd.DataFrame:
    """ARR per ``account_id``, ``product_id`` and ``month`` (month index) at each measurement
    point (month ends, and today for the current month) from a frame of lines with
    ``account_id, product_id, arr, start_date, end_date``. Pure: no database."""
    columns = ["account_id", "product_id", "month", "arr"]
    if lines.empty:
        return pd.DataFrame(columns=columns)
    current = month_index(today)
    start = pd.to_datetime(lines["start_date"])
    end = pd.to_datetime(lines["end_date"])
    today_ts = pd.Timestamp(today)
    first = (start.dt.year * 12 + start.dt.month - 1).to_numpy()
    end_index = (end.dt.year * 12 + end.dt.month - 1).to_numpy()
    # A line covers its end month's end only when it ends on that month's last day.
    last = np.where(end.dt.is_month_end.to_numpy(), end_index, end_index - 1)
    last = np.minimum(last, current)
    # The current month is measured today: covered when the line runs through today.
    last = np.where((end >= today_ts).to_numpy(), current, last)
    keep = (start <= today_ts).to_numpy() & (last >= first)
    first, last = first[keep], last[keep]
    counts = last - first + 1
    kept = lines.loc[keep]
    repeated = np.repeat(np.arange(len(kept)), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    exploded = pd.DataFrame(
        {
            "account_id": kept["account_id"].to_numpy()[repeated],
            "product_id": kept["product_id"].to_numpy()[repeated],
            "month": np.repeat(first, counts) + offsets,
            "arr": kept["arr"].astype(float).to_numpy()[repeated],
        }
    )
    points = exploded.groupby(["account_id", "product_id", "month"], as_index=False, sort=True)["arr"].sum()
    points["arr"] = points["arr"].round(2)  # cents: float sums must not invent movements of 1e-12
    return points


def movements_from_arr(points: pd.DataFrame, *, current_month: int) -> pd.DataFrame:
    """The ledger rows (``account_id, product_id, month, kind, arr_before, arr_after, amount``)
    from the ARR at each measurement point (``month_end_arr``'s frame), classified as the module
    docstring says. Pure: no database."""
    columns = ["account_id", "product_id", "month", "kind", "arr_before", "arr_after", "amount"]
    if points.empty:
        return pd.DataFrame(columns=columns)
    points = points[points["arr"] != 0].sort_values(["account_id", "product_id", "month"])
    pair = ["account_id", "product_id"]
    previous_month = points.groupby(pair)["month"].shift(1)
    previous_arr = points.groupby(pair)["arr"].shift(1)
    contiguous = previous_month == points["month"] - 1
    changes = points.assign(arr_before=np.where(contiguous, previous_arr, 0.0), arr_after=points["arr"])
    changes = changes[changes["arr_before"] != changes["arr_after"]]
    # Where a pair's run of months stops before the current month, its ARR fell to zero the month after.
    next_month = points.groupby(pair)["month"].shift(-1)
    stops = points[(next_month != points["month"] + 1) & (points["month"] < current_month)]
    drops = pd.DataFrame(
        {
            "account_id": stops["account_id"],
            "product_id": stops["product_id"],
            "month": stops["month"] + 1,
            "arr_before": stops["arr"],
            "arr_after": 0.0,
        }
    )
    moves = pd.concat([changes[["account_id", "product_id", "month", "arr_before", "arr_after"]], drops])
    moves["amount"] = moves["arr_after"] - moves["arr_before"]

    account_arr = points.groupby(["account_id", "month"])["arr"].sum()
    after = account_arr.reindex(pd.MultiIndex.from_arrays([moves["account_id"], moves["month"]])).fillna(0).to_numpy()
    before = (
        account_arr.reindex(pd.MultiIndex.from_arrays([moves["account_id"], moves["month"] - 1])).fillna(0).to_numpy()
    )
    first_month = points.groupby("account_id")["month"].min().reindex(moves["account_id"]).to_numpy()
    amount = moves["amount"].to_numpy()
    moves["kind"] = np.select(
        [
            (before == 0) & (first_month < moves["month"].to_numpy()),
            before == 0,
            after == 0,
            amount > 0,
        ],
        [MovementKind.REACTIVATION, MovementKind.NEW, MovementKind.CHURN, MovementKind.EXPANSION],
        default=MovementKind.CONTRACTION,
    )
    return moves[columns].sort_values(["account_id", "month", "product_id"]).reset_index(drop=True)


def movement_runs(moves: pd.DataFrame) -> pd.DataFrame:
    """``moves`` (``movements_from_arr``'s frame) with ``valid_until``, the month (index) of the
    pair's next movement (``STILL_HOLDS``' month when none), and ``account_since``, the account's
    first month with ARR. Pure: no database."""
    if moves.empty:
        return moves.assign(valid_until=pd.Series(dtype="int64"), account_since=pd.Series(dtype="int64"))
    ordered = moves.sort_values(["account_id", "product_id", "month"])
    following = ordered.groupby(["account_id", "product_id"])["month"].shift(-1)
    since = ordered[ordered["arr_after"] > 0].groupby("account_id")["month"].min()
    return moves.assign(
        valid_until=following.reindex(moves.index).fillna(month_index(STILL_HOLDS)).astype("int64"),
        account_since=moves["account_id"].map(since).fillna(moves["month"]).astype("int64"),
    )


def lines_frame(*, tenant: Tenant, account_ids: Iterable[int] | None = None) -> pd.DataFrame:
    lines = SubscriptionLine.objects.filter(tenant=tenant)
    if account_ids is not None:
        lines = lines.filter(account_id__in=list(account_ids))
    columns = ["account_id", "product_id", "arr", "start_date", "end_date"]
    return pd.DataFrame(list(lines.order_by().values_list(*columns)), columns=columns)


def ledger_rebuild(*, tenant: Tenant, account_ids: Iterable[int] | None = None, today: dt.date | None = None) -> int:
    """Recompute the ARR ledger of ``tenant`` (all accounts, or only ``account_ids``) from its
    subscription lines as of ``today`` (the tenant's today by default), replacing the rows it
    had. Idempotent; one transaction; returns the number of movements written."""
    today = today or tenant_today(tenant)
    ids = None if account_ids is None else list(account_ids)
    points = month_end_arr(lines_frame(tenant=tenant, account_ids=ids), today=today)
    moves = movement_runs(movements_from_arr(points, current_month=month_index(today)))
    first_days = {index: month_start(index) for index in {*moves["month"], *moves["valid_until"]}}
    rows = [
        (
            tenant.pk,
            int(account),
            int(product),
            first_days[month],
            str(kind),
            float(before),
            float(after),
            float(amount),
            first_days[until],
            first_days.get(since) or month_start(since),
        )
        for account, product, month, kind, before, after, amount, until, since in zip(
            moves["account_id"],
            moves["product_id"],
            moves["month"],
            moves["kind"],
            moves["arr_before"].round(2),
            moves["arr_after"].round(2),
            moves["amount"].round(2),
            moves["valid_until"],
            moves["account_since"],
            strict=True,
        )
    ]
    with transaction.atomic():
        existing = ArrMovement.objects.filter(tenant=tenant)
        if ids is not None:
            existing = existing.filter(account_id__in=ids)
        existing._raw_delete(existing.db)  # no cascades or signals hang off derived rows
        if connection.vendor == "postgresql":
            bulk.rows_copy(ArrMovement, LEDGER_COLUMNS, rows)
        else:
            bulk.rows_insert(ArrMovement, LEDGER_COLUMNS, rows)
        ledger_version_bump(tenant=tenant)
    return len(rows)


def ledger_version_bump(*, tenant: Tenant) -> None:
    """Mark the tenant's ledger as changed, so numbers cached against the old one are not served,
    and warm the dashboard's trend for the new one in the background once this commits."""
    from .tasks import warm_retention_trend  # the tasks module imports this one

    if not RetentionSettings.objects.filter(tenant=tenant).update(ledger_version=F("ledger_version") + 1):
        RetentionSettings.objects.get_or_create(tenant=tenant, defaults={"ledger_version": 1})
    tenant_id = tenant.pk
    transaction.on_commit(lambda: warm_retention_trend.delay(tenant_id=tenant_id))
