"""Retention metrics: pure functions over pandas frames built from the ARR ledger.

No database here: callers pass frames (``renewals.queries`` and ``renewals.retention`` load
them), so every number can be reproduced from ledger rows by hand. ``renewals.retention`` also
computes the same summaries in SQL over the ledger's runs for large tenants; tests hold the
two equal. Months are month indexes (``renewals.ledger.month_index``: consecutive months are
consecutive integers). The ledger frame has ``account_id, product_id, month, amount`` (one row per ``ArrMovement``).

Definitions (DOMAIN.md §2, the contract):

- **ARR**: annual recurring revenue of a subscription line; an account's ARR is the sum of its
  active lines, kept per product. Here: the sum of the ledger's ``amount`` up to a month.
- **Cohort**: the accounts active (ARR > 0) at the start of the period, i.e. at the end of the
  month before its first month. Each is compared start to end of the period, netted within
  the account: ending at zero is **churn** (its whole start ARR), ending lower is
  **contraction** (start - end), ending higher is **expansion** (end - start).
- **GRR** (gross revenue retention), for the cohort:
  ``(start ARR - churned ARR - contraction ARR) / start ARR``. Expansion is excluded, so GRR ≤ 100%.
- **NRR** (net revenue retention), same cohort:
  ``(start ARR - churn - contraction + expansion) / start ARR``. New customers acquired during
  the period are excluded, and so are customers who come back after having left (reactivation):
  both are shown beside the bridge, never in GRR or NRR.
- **Logo churn**: accounts lost / accounts at start (accounts of the cohort at zero ARR at the end).
- **ARR bridge**: start → minus churn → minus contraction → plus expansion → end of the cohort, with new
  business and reactivation shown separately; start - churn - contraction + expansion = end.
- **Renewal outcome** (``renewals.services.outcome_expected``): a closed renewal's next-term ARR
  against the ARR that was up, to the cent: zero is **churned**, lower **contracted**, higher
  **expanded**, exactly flat **renewed**. Churned and contracted need a churn reason.
- **Customers that grew** (``share_grew``, ``accounts_expanded``): cohort accounts whose ARR at
  the period's end is above their start ARR, over the cohort.
- **Product vs account wallet retention**: the same formulas per product, where the cohort is
  each (account, product) pair holding the product at the start: a product an account drops is
  that product's churn even when the account stays (for the account it is a contraction, netted
  against its other products, which is how account numbers can hide a bleeding product). ARR a
  product gains at accounts that did not hold it at the start (cross-sell, new logos,
  reactivations) is the product's new business, outside its retention.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .ledger import month_index, month_start

PAIR = ["account_id", "product_id"]
SUMMARY_COLUMNS = [
    "accounts_start",
    "accounts_churned",
    "accounts_expanded",
    "arr_start",
    "churn",
    "contraction",
    "expansion",
    "arr_end",
    "new",
    "reactivation",
    "grr",
    "nrr",
    "logo_churn",
]
# The additive columns (sums over rows); the ratios after them are computed from these.
SUM_COLUMNS = SUMMARY_COLUMNS[:10]


class Status:
    CHURNED = "churned"
    CONTRACTED = "contracted"
    EXPANDED = "expanded"
    RETAINED = "retained"
    NEW = "new"
    REACTIVATED = "reactivated"


# Which status a drill-down of each bridge number lists.
METRIC_STATUSES = {
    "cohort": (Status.CHURNED, Status.CONTRACTED, Status.EXPANDED, Status.RETAINED),
    "churn": (Status.CHURNED,),
    "contraction": (Status.CONTRACTED,),
    "expansion": (Status.EXPANDED,),
    "new": (Status.NEW,),
    "reactivation": (Status.REACTIVATED,),
    # The bridge's "ARR at end, all accounts": every account with ARR at the end of the period.
    "end": (Status.CONTRACTED, Status.EXPANDED, Status.RETAINED, Status.NEW, Status.REACTIVATED),
}


@dataclass(frozen=True)
class Period:
    """Whole months ``first``..``last`` (month indexes, inclusive). Its start ARR is measured at
    the end of month ``first - 1``, its end ARR at the end of ``last`` (today, if current)."""

    first: int
    last: int
    kind: str  # "month", "quarter", "ttm"

    @classmethod
    def of(cls, kind: str, day: dt.date) -> Period:
        """The month, the calendar quarter, or the trailing twelve months that end with ``day``'s month."""
        current = month_index(day)
        if kind == "month":
            return cls(current, current, kind)
        if kind == "quarter":
            first = current - (day.month - 1) % 3
            return cls(first, first + 2, kind)
        if kind == "ttm":
            return cls(current - 11, current, kind)
        raise ValueError(f"Unknown period kind {kind!r}: month, quarter or ttm.")

    @property
    def opening(self) -> int:
        return self.first - 1

    def previous(self, count: int = 1) -> Period:
        """The period of the same kind ``count`` steps back (a TTM steps back a month)."""
        step = 1 if self.kind == "ttm" else self.last - self.first + 1
        return Period(self.first - step * count, self.last - step * count, self.kind)

    @property
    def start_date(self) -> dt.date:
        return month_start(self.first)

    @property
    def label(self) -> str:
        last = month_start(self.last)
        if self.kind == "month":
            return f"{last:%b %Y}"
        if self.kind == "quarter":
            return f"Q{(last.month - 1) // 3 + 1} {last.year}"
        return f"TTM to {last:%b %Y}"

    @property
    def short_label(self) -> str:
        last = month_start(self.last)
        if self.kind == "quarter":
            return f"Q{(last.month - 1) // 3 + 1} {last:%y}"
        return f"{last:%b %y}"


def arr_positions(ledger: pd.DataFrame, period: Period) -> pd.DataFrame:
    """Per (account, product): ``arr_start`` and ``arr_end`` of ``period``, and ``seen_before``
    (the account had ARR at some point up to the start). Pairs at zero both times are left out."""
    upto_end = ledger[ledger["month"] <= period.last]
    before = upto_end[upto_end["month"] <= period.opening]
    start = before.groupby(PAIR)["amount"].sum()
    end = upto_end.groupby(PAIR)["amount"].sum()
    frame = pd.concat({"arr_start": start, "arr_end": end}, axis=1).fillna(0.0).round(2).reset_index()
    frame = frame[(frame["arr_start"] != 0) | (frame["arr_end"] != 0)]
    seen = set(before["account_id"].unique())
    return frame.assign(seen_before=frame["account_id"].isin(seen)).reset_index(drop=True)


def _classify(frame: pd.DataFrame, *, reactivation: np.ndarray) -> pd.DataFrame:
    start, end = frame["arr_start"].to_numpy(), frame["arr_end"].to_numpy()
    in_cohort = start > 0
    status = np.select(
        [
            in_cohort & (end <= 0),
            in_cohort & (end < start),
            in_cohort & (end > start),
            in_cohort,
            reactivation,
        ],
        [Status.CHURNED, Status.CONTRACTED, Status.EXPANDED, Status.RETAINED, Status.REACTIVATED],
        default=Status.NEW,
    )
    zero = np.zeros(len(frame))
    return frame.assign(
        status=status,
        churn=np.where(status == Status.CHURNED, start, zero),
        contraction=np.where(status == Status.CONTRACTED, start - end, zero),
        expansion=np.where(status == Status.EXPANDED, end - start, zero),
        new=np.where(status == Status.NEW, end, zero),
        reactivation=np.where(status == Status.REACTIVATED, end, zero),
    )


def account_changes(positions: pd.DataFrame) -> pd.DataFrame:
    """One row per account: ``arr_start``, ``arr_end``, its ``status`` over the period (churned,
    contracted, expanded, retained for the cohort; new or reactivated outside it) and the ARR it
    puts in each bridge column (``churn``, ``contraction``, ``expansion``, ``new``, ``reactivation``).
    Products are netted within the account."""
    accounts = positions.groupby("account_id", as_index=False).agg(
        arr_start=("arr_start", "sum"), arr_end=("arr_end", "sum"), seen_before=("seen_before", "first")
    )
    accounts[["arr_start", "arr_end"]] = accounts[["arr_start", "arr_end"]].round(2)
    return _classify(accounts, reactivation=accounts["seen_before"].to_numpy())


def product_changes(positions: pd.DataFrame) -> pd.DataFrame:
    """One row per (account, product): the same columns as ``account_changes`` for the product
    wallet, where gaining a product from zero is always the product's ``new`` business."""
    return _classify(positions.copy(), reactivation=np.zeros(len(positions), dtype=bool))


def retention_summary(changes: pd.DataFrame, by: str | None = None) -> pd.DataFrame:
    """GRR, NRR, logo churn and the bridge's columns of ``changes`` (``account_changes`` or
    ``product_changes``), in total (one row, index ``"All"``) or per value of column ``by``.
    ``accounts_start`` counts cohort rows (accounts, or account-product pairs), of which
    ``accounts_churned`` ended at zero and ``accounts_expanded`` ended higher (the customers that
    grew); ratios are NaN where nothing was there at the start."""
    frame = changes.assign(
        in_cohort=changes["arr_start"] > 0,
        lost=changes["status"] == Status.CHURNED,
        grew=changes["status"] == Status.EXPANDED,
        cohort_end=np.where(changes["arr_start"] > 0, changes["arr_end"], 0.0),
    )
    keys = frame[by].fillna("—") if by else pd.Series("All", index=frame.index)
    summary = frame.groupby(keys).agg(
        accounts_start=("in_cohort", "sum"),
        accounts_churned=("lost", "sum"),
        accounts_expanded=("grew", "sum"),
        arr_start=("arr_start", "sum"),
        churn=("churn", "sum"),
        contraction=("contraction", "sum"),
        expansion=("expansion", "sum"),
        arr_end=("cohort_end", "sum"),
        new=("new", "sum"),
        reactivation=("reactivation", "sum"),
    )
    if summary.empty and not by:
        summary = pd.DataFrame(0.0, index=pd.Index(["All"]), columns=SUM_COLUMNS)
    summary.index.name = by or "total"
    return summary_ratios(summary)


def summary_ratios(sums: pd.DataFrame) -> pd.DataFrame:
    """The bridge sums (``accounts_start`` .. ``reactivation``, one row per slice) rounded to cents,
    with GRR, NRR and logo churn added by the definitions above; NaN where the start is zero."""
    summary = sums.copy()
    money = ["arr_start", "churn", "contraction", "expansion", "arr_end", "new", "reactivation"]
    summary[money] = summary[money].astype(float).round(2)
    start = summary["arr_start"].where(summary["arr_start"] > 0)
    summary["grr"] = (summary["arr_start"] - summary["churn"] - summary["contraction"]) / start
    summary["nrr"] = (summary["arr_start"] - summary["churn"] - summary["contraction"] + summary["expansion"]) / start
    summary["logo_churn"] = summary["accounts_churned"] / summary["accounts_start"].where(summary["accounts_start"] > 0)
    return summary[SUMMARY_COLUMNS]


def arr_bridge(summary_row: pd.Series) -> list[tuple[str, str, float]]:
    """The bridge of one ``retention_summary`` row as (key, label, signed ARR) steps:
    start, churn, contraction, expansion, end of the cohort, then new business, reactivation
    and the total end ARR beside it."""
    end_total = summary_row["arr_end"] + summary_row["new"] + summary_row["reactivation"]
    return [
        ("cohort", "ARR at start", float(summary_row["arr_start"])),
        ("churn", "Churn", -float(summary_row["churn"])),
        ("contraction", "Contraction", -float(summary_row["contraction"])),
        ("expansion", "Expansion", float(summary_row["expansion"])),
        ("cohort_end", "Cohort ARR at end", float(summary_row["arr_end"])),
        ("new", "New business (excluded)", float(summary_row["new"])),
        ("reactivation", "Reactivation (excluded)", float(summary_row["reactivation"])),
        ("end", "ARR at end, all accounts", float(round(end_total, 2))),
    ]


def segment_by_band(arr: pd.Series, bands: pd.DataFrame) -> pd.Series:
    """The segment name whose band holds each ARR (``bands``: ``name, arr_min, arr_max``; ``arr_max``
    NaN for no ceiling; ``arr_min`` inclusive, ``arr_max`` exclusive), or None."""
    result = pd.Series([None] * len(arr), index=arr.index, dtype=object)
    for band in bands.sort_values("arr_min").itertuples():
        inside = arr >= float(band.arr_min)
        if not pd.isna(band.arr_max):
            inside &= arr < float(band.arr_max)
        result = result.mask(inside, band.name)
    return result


def with_slices(changes: pd.DataFrame, accounts: pd.DataFrame, bands: pd.DataFrame) -> pd.DataFrame:
    """``changes`` with the account's slice columns: ``owner``, ``industry`` (from ``accounts``,
    today's values) and ``segment``: the pinned segment, else the band of the account's ARR at
    the period's start (its end ARR for accounts that came in during the period), so an account
    that churned is counted in the segment it was in, not in the band of its zero ARR."""
    frame = changes.astype({"account_id": "int64"}).merge(
        accounts.astype({"account_id": "int64"}), on="account_id", how="left"
    )
    if "arr_start_account" in frame:
        basis = frame["arr_start_account"].where(frame["arr_start_account"] > 0, frame["arr_end_account"])
    else:
        basis = frame["arr_start"].where(frame["arr_start"] > 0, frame["arr_end"])
    banded = segment_by_band(basis, bands)
    frame["segment"] = frame["pinned_segment"].where(frame["pinned_segment"].notna(), banded)
    return frame.drop(columns=["pinned_segment"])


def product_slices(pairs: pd.DataFrame, accounts: pd.DataFrame, bands: pd.DataFrame) -> pd.DataFrame:
    """``product_changes`` rows with the slice columns, the segment banded on the whole account's
    ARR (not the one product's)."""
    totals = pairs.groupby("account_id").agg(arr_start_account=("arr_start", "sum"), arr_end_account=("arr_end", "sum"))
    return with_slices(pairs.merge(totals, on="account_id"), accounts, bands)


def retention_trend(ledger: pd.DataFrame, period: Period, count: int) -> pd.DataFrame:
    """GRR, NRR and logo churn of ``period`` and the ``count - 1`` periods of its kind before it,
    oldest first, with each period's ``label``."""
    rows = []
    for step in range(count - 1, -1, -1):
        each = period.previous(step)
        summary = retention_summary(account_changes(arr_positions(ledger, each))).iloc[0]
        rows.append({"label": each.short_label, **summary.to_dict()})
    return pd.DataFrame(rows)


def churn_reasons_summary(closes: pd.DataFrame, by: str | None = None) -> pd.DataFrame:
    """Closed renewals that lost ARR (``closes``: ``reason, arr_lost`` and slice columns), by reason
    (and ``by``): how many and how much ARR, largest ARR first."""
    keys = ["reason"] + ([by] if by else [])
    if closes.empty:
        return pd.DataFrame(columns=[*keys, "count", "arr_lost"])
    summary = closes.groupby(keys, dropna=False).agg(count=("arr_lost", "size"), arr_lost=("arr_lost", "sum"))
    return summary.reset_index().sort_values(["arr_lost", "count"], ascending=False).reset_index(drop=True)


# --- Questions leaders ask (DOMAIN.md §2) ---------------------------------------------------


def share_grew(changes: pd.DataFrame) -> tuple[int, int]:
    """(accounts that grew, cohort accounts) of ``account_changes``: of the accounts with ARR at
    the period's start, those whose ARR at its end is higher (status ``expanded``). New and
    reactivated customers are not in the cohort."""
    in_cohort = changes["status"].isin(METRIC_STATUSES["cohort"])
    return int((changes["status"] == Status.EXPANDED).sum()), int(in_cohort.sum())


def tenured_contract_sizes(lines: pd.DataFrame, *, today: dt.date, years: int = 3) -> pd.DataFrame:
    """Current vs original contract size of customers older than ``years``: one row per account
    whose first line started on or before ``today`` minus ``years`` and that still has ARR today.
    ``original_arr`` is the ARR of the lines active on the account's first day, ``current_arr``
    of those active today, ``ratio`` current / original. ``lines`` has ``account_id``, ``arr``,
    ``start_date``, ``end_date``."""
    columns = ["account_id", "original_arr", "current_arr", "ratio"]
    if lines.empty:
        return pd.DataFrame(columns=columns)
    cutoff = _years_before(today, years)
    frame = lines.assign(arr=lines["arr"].astype(float))
    frame["first_day"] = frame.groupby("account_id")["start_date"].transform("min")
    frame = frame[frame["first_day"] <= cutoff]
    original = frame[(frame["start_date"] <= frame["first_day"]) & (frame["end_date"] >= frame["first_day"])]
    current = frame[(frame["start_date"] <= today) & (frame["end_date"] >= today)]
    sizes = pd.concat(
        [
            original.groupby("account_id")["arr"].sum().rename("original_arr"),
            current.groupby("account_id")["arr"].sum().rename("current_arr"),
        ],
        axis=1,
    ).fillna(0.0)
    sizes = sizes[sizes["current_arr"] > 0].reset_index()
    sizes["ratio"] = sizes["current_arr"] / sizes["original_arr"].where(sizes["original_arr"] > 0)
    return sizes[columns].round({"original_arr": 2, "current_arr": 2})


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def first_renewal_discounts(lines: pd.DataFrame) -> pd.DataFrame:
    """Discount at the first term and at its first renewal, per (account, product). The first
    term is the pair's earliest line; its renewal the earliest line of the pair starting on or
    after that line's end. Discount = 1 - ARR / ARR at list price, per line; ``change`` is the
    renewal's discount minus the first term's, in points (negative: less discount at renewal).
    Pairs never renewed are left out; a pair where either line has no list price keeps NaN
    discounts (``discount_change_summary`` counts it as "no list price recorded")."""
    columns = ["account_id", "product_id", "first_discount", "renewal_discount", "change"]
    if lines.empty:
        return pd.DataFrame(columns=columns)
    frame = lines.assign(arr=lines["arr"].astype(float), list_price_arr=lines["list_price_arr"].astype(float))
    frame = frame.sort_values([*PAIR, "start_date", "end_date"])
    # ``head(1)``, not ``first()``: ``first()`` would fill a missing list price from a later line.
    first = frame.groupby(PAIR).head(1)
    later = frame.merge(first[[*PAIR, "end_date"]].rename(columns={"end_date": "first_end"}), on=PAIR)
    renewal = later[later["start_date"] >= later["first_end"]].groupby(PAIR).head(1).drop(columns="first_end")
    pairs = first.merge(renewal, on=PAIR, suffixes=("_first", "_renewal"))

    def discount(suffix: str) -> pd.Series:
        price = pairs[f"list_price_arr{suffix}"]
        return 1 - pairs[f"arr{suffix}"] / price.where(price > 0)

    pairs["first_discount"] = discount("_first")
    pairs["renewal_discount"] = discount("_renewal")
    pairs["change"] = pairs["renewal_discount"] - pairs["first_discount"]
    return pairs[columns]


def discount_change_summary(discounts: pd.DataFrame) -> dict:
    """Average discount change at first renewal over the pairs with a list price on both lines
    (``average_change``, a fraction: -0.05 is five points less discount; None when no pair has
    one), how many pairs that is (``priced``) and how many have no list price recorded (``unpriced``)."""
    priced = discounts["change"].notna()
    return {
        "average_change": float(discounts.loc[priced, "change"].mean()) if priced.any() else None,
        "priced": int(priced.sum()),
        "unpriced": int((~priced).sum()),
    }
