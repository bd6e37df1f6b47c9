"""Reads behind the renewals pages: the pipeline, the retention dashboard and its drill-downs.
Each loads a fixed number of queries whatever the data size; the arithmetic is
``renewals.metrics`` (pure pandas), fed with frames built from ``.values_list()``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

import pandas as pd
from django.db.models import Avg, Case, Count, Min, Q, Sum, Value, When
from django.http import StreamingHttpResponse

from accounts.models import Account, LifecycleStage, Segment
from accounts.portfolio import RENEWAL_WINDOWS, add_months
from csplatform.exports import csv_lines
from csplatform.models import Tenant, User
from csplatform.rows import fetch_row, in_list, instance_from_values

from . import metrics, questions
from .ledger import month_index, month_start
from .models import (
    OPEN_EXPANSION_STAGES,
    ArrMovement,
    ChurnReason,
    ExpansionOpportunity,
    ForecastCategory,
    Product,
    Renewal,
    RenewalAffectedProduct,
    RetentionSettings,
)
from .retention import positions_frame, summaries, summaries_current, trend_frame_or_last

# --- CSV ----------------------------------------------------------------------------------
# The formula-injection guard lives in ``csplatform.exports``, shared by every export.


def csv_response(filename: str, header: list[str], rows: Iterable[Iterable]) -> StreamingHttpResponse:
    """A streamed, formula-safe CSV download (``csplatform.exports``) of ``rows``."""
    response = StreamingHttpResponse(csv_lines(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


# --- Pipeline -------------------------------------------------------------------------------

WINDOW_LABELS = {"overdue": "Overdue", **{key: f"{key} months" for key in RENEWAL_WINDOWS}}


def pipeline_renewals(*, tenant: Tenant, membership, filters: dict, today: dt.date) -> list[Renewal]:
    """Open renewals the member works (a CSM: their own), from the overdue ones to 12 months
    out, narrowed by the filter form's cleaned values; one query."""
    renewals = (
        Renewal.objects.filter(tenant=tenant)
        .open()
        .visible_to(membership)
        .filter(renewal_date__lt=add_months(today, 12))
        .select_related("account", "account__segment", "owner")
        .order_by("renewal_date", "account__name", "pk")
    )
    if filters.get("owner"):
        renewals = renewals.filter(owner=filters["owner"])
    if filters.get("segment"):
        renewals = renewals.filter(account__segment=filters["segment"])
    if filters.get("forecast"):
        renewals = renewals.filter(forecast_category=filters["forecast"])
    if filters.get("window"):
        start, end = RENEWAL_WINDOWS[filters["window"]]
        renewals = renewals.filter(renewal_date__gte=add_months(today, start), renewal_date__lt=add_months(today, end))
    return list(renewals)


def window_of(renewal_date: dt.date, today: dt.date) -> str:
    if renewal_date < today:
        return "overdue"
    for key, (_, end) in RENEWAL_WINDOWS.items():
        if renewal_date < add_months(today, end):
            return key
    return "later"


def pipeline_groups(renewals: list[Renewal], today: dt.date) -> list[dict]:
    """Renewals grouped by window (overdue, 0-3 ... 9-12 months) with the ARR at stake and
    forecast; every window is listed, empty or not."""
    groups = {key: {"key": key, "label": label, "renewals": []} for key, label in WINDOW_LABELS.items()}
    for renewal in renewals:
        groups[window_of(renewal.renewal_date, today)]["renewals"].append(renewal)
    for group in groups.values():
        group["arr_up"] = sum((r.arr_up for r in group["renewals"]), Decimal("0"))
        group["forecast_arr"] = sum((r.forecast_arr for r in group["renewals"]), Decimal("0"))
    if not groups["overdue"]["renewals"]:
        del groups["overdue"]
    return list(groups.values())


def open_renewals_due(
    *, tenant: Tenant, within_days: int, today: dt.date, account_ids: Iterable[int] | None = None
) -> dict[int, dt.date]:
    """{account id: renewal date} of the accounts whose earliest open renewal falls between
    ``today`` and ``within_days`` days after it (both included), e.g. the 180- and 90-day
    checkpoints. A renewal already closed does not count, so a checkpoint does not fire for a
    term that is settled. One aggregate query (optionally narrowed to ``account_ids``)."""
    renewals = Renewal.objects.filter(
        tenant=tenant,
        closed_at__isnull=True,
        renewal_date__gte=today,
        renewal_date__lte=today + dt.timedelta(days=within_days),
    )
    if account_ids is not None:
        renewals = renewals.filter(account_id__in=list(account_ids))
    return dict(
        renewals.order_by().values("account_id").annotate(first=Min("renewal_date")).values_list("account_id", "first")
    )


# --- Retention dashboard --------------------------------------------------------------------


def ledger_frame(*, tenant: Tenant, last_month: int, account_ids: Iterable[int] | None = None) -> pd.DataFrame:
    """The ledger up to ``last_month`` as ``account_id, product_id, month (index), amount``."""
    rows = ArrMovement.objects.filter(tenant=tenant, month__lte=month_start(last_month))
    if account_ids is not None:
        rows = rows.filter(account_id__in=list(account_ids))
    frame = pd.DataFrame(
        list(rows.order_by().values_list("account_id", "product_id", "month", "amount")),
        columns=["account_id", "product_id", "month", "amount"],
    )
    if frame.empty:
        return frame.astype({"account_id": "int64", "product_id": "int64", "month": "int64", "amount": float})
    month = pd.to_datetime(frame["month"])
    frame["month"] = month.dt.year * 12 + month.dt.month - 1
    frame["amount"] = frame["amount"].astype(float)
    return frame


def account_attributes(*, tenant: Tenant) -> tuple[pd.DataFrame, pd.DataFrame, dict[int, str], dict[int, str]]:
    """(accounts with ``owner, industry, pinned_segment`` names, segment bands, account names,
    product names): four queries."""
    owners = {user.pk: str(user) for user in User.objects.filter(memberships__tenant=tenant).only("full_name", "email")}
    segments = list(Segment.objects.filter(tenant=tenant).values("pk", "name", "arr_min", "arr_max"))
    segment_name = {segment["pk"]: segment["name"] for segment in segments}
    rows = list(
        Account.objects.filter(tenant=tenant)
        .order_by()
        .values_list("pk", "name", "owner_id", "industry", "segment_id", "segment_pinned")
    )
    accounts = pd.DataFrame(
        {
            "account_id": [row[0] for row in rows],
            "owner": [owners.get(row[2], "Unassigned") if row[2] else "Unassigned" for row in rows],
            "industry": [row[3] or "—" for row in rows],
            "pinned_segment": [segment_name.get(row[4]) if row[5] else None for row in rows],
        }
    )
    bands = pd.DataFrame(segments, columns=["pk", "name", "arr_min", "arr_max"]).astype(
        {"arr_min": float, "arr_max": float}
    )
    products = dict(Product.objects.filter(tenant=tenant).values_list("pk", "name"))
    return accounts, bands, {row[0]: row[1] for row in rows}, products


TREND_LENGTH = {"month": 12, "quarter": 8, "ttm": 12}


def retention_changes(*, tenant: Tenant, period: metrics.Period, slice_by: str) -> pd.DataFrame:
    """Per-account (or, for the product slice, per account-product pair) changes over the period
    with the slice columns and names, from the start and end positions of the ledger's runs."""
    accounts, bands, names, products = account_attributes(tenant=tenant)
    positions = positions_frame(tenant=tenant, period=period)
    if slice_by == "product":
        changes = metrics.product_slices(metrics.product_changes(positions), accounts, bands)
        changes["product"] = changes["product_id"].map(products)
    else:
        changes = metrics.with_slices(metrics.account_changes(positions), accounts, bands)
    changes["account"] = changes["account_id"].map(names)
    return changes


def churn_reason_rows(*, tenant: Tenant, period: metrics.Period, slice_by: str) -> pd.DataFrame:
    """Closed renewals of the period's terms that lost ARR, by reason and slice (two queries).
    For the product slice a renewal counts under each product it lost."""
    renewals = list(
        Renewal.objects.filter(
            tenant=tenant,
            closed_at__isnull=False,
            churn_reason__isnull=False,
            **_period_terms(period),
        )
        .order_by()
        .values_list(
            "pk",
            "churn_reason__name",
            "churn_reason__category",
            "arr_up",
            "new_arr",
            "account__industry",
            "account__segment__name",
            "owner__full_name",
            "owner__email",
        )
    )
    frame = pd.DataFrame(
        {
            "renewal_id": [row[0] for row in renewals],
            "reason": [f"Hard to affect: {row[1]}" if row[2] == "hard_to_affect" else row[1] for row in renewals],
            "arr_lost": [float(max(row[3] - (row[4] or 0), 0)) for row in renewals],
            "industry": [row[5] or "—" for row in renewals],
            "segment": [row[6] or "—" for row in renewals],
            "owner": [row[7] or row[8] or "Unassigned" for row in renewals],
        }
    )
    if slice_by == "product" and not frame.empty:
        affected = pd.DataFrame(
            list(
                RenewalAffectedProduct.objects.filter(tenant=tenant, renewal_id__in=frame["renewal_id"].tolist())
                .order_by()
                .values_list("renewal_id", "product__name")
            ),
            columns=["renewal_id", "product"],
        )
        frame = frame.merge(affected, on="renewal_id", how="left")
    elif slice_by == "product":
        frame["product"] = []
    return metrics.churn_reasons_summary(frame, by=slice_by)


def _period_terms(period: metrics.Period) -> dict:
    """The renewal dates of the period's terms (the lookups ``churn_reason_rows`` uses)."""
    return {
        "renewal_date__gte": month_start(period.first) - dt.timedelta(days=1),
        "renewal_date__lt": month_start(period.last + 1) - dt.timedelta(days=1),
    }


def churn_reason_renewals(
    *, tenant: Tenant, period: metrics.Period, slice_by: str, reason: str, value: str | None
) -> list[Renewal]:
    """The closed renewals behind one row of the churn-reasons table: the period's terms closed
    with ``reason`` (its label, as the table shows it) and, when ``value`` is given, in that slice
    value (for the product slice: renewals that lost that product). One query."""
    renewals = Renewal.objects.filter(tenant=tenant, closed_at__isnull=False, **_period_terms(period))
    prefix = "Hard to affect: "
    if reason.startswith(prefix):
        renewals = renewals.filter(churn_reason__name=reason[len(prefix) :], churn_reason__category="hard_to_affect")
    else:
        renewals = renewals.filter(churn_reason__name=reason).exclude(churn_reason__category="hard_to_affect")
    if value is not None:
        empty = value in ("—", "", "Unassigned")
        lookups = {
            "segment": Q(account__segment__isnull=True) if empty else Q(account__segment__name=value),
            "industry": Q(account__industry="") if empty else Q(account__industry=value),
            "owner": Q(owner__isnull=True) if empty else Q(owner__full_name=value) | Q(owner__email=value),
            "product": Q(affected_products__name=value),
        }
        renewals = renewals.filter(lookups[slice_by])
    return list(
        renewals.select_related("account", "owner", "churn_reason")
        .prefetch_related("affected_products")
        .order_by("renewal_date", "account__name", "pk")
    )


def table_rows(summary: pd.DataFrame) -> list[dict]:
    return [{"key": str(key), **row} for key, row in summary.to_dict("index").items()]


def dashboard_context(*, tenant: Tenant, period_kind: str, slice_by: str, today: dt.date) -> dict:
    """The dashboard's numbers, computed in the database from the ledger's runs
    (``renewals.retention``; the same definitions as ``metrics``, held equal by tests), the
    headline and the segment and product slices cached against the ledger version."""
    period = metrics.Period.of(period_kind, today)
    # Account retention stays the headline; the product table is the product wallet beside it.
    # Both from one query, or from the cache when the ledger has not changed since.
    result = summaries_current(tenant=tenant, period=period, slices=(slice_by,))
    total = result[None].iloc[0]
    sliced = result[slice_by].sort_values("arr_start", ascending=False)
    trend, trend_current = trend_frame_or_last(tenant=tenant, period=period, count=TREND_LENGTH[period_kind])
    reasons = churn_reason_rows(tenant=tenant, period=period, slice_by=slice_by)
    return {
        "period": period,
        "total": total.to_dict(),
        "bridge": metrics.arr_bridge(total),
        "sliced": table_rows(sliced),
        "trend": trend.to_dict("records"),
        "trend_current": trend_current,
        "trend_chart": {
            "labels": trend["label"].tolist(),
            "grr": [None if pd.isna(v) else round(v * 100, 1) for v in trend["grr"]],
            "nrr": [None if pd.isna(v) else round(v * 100, 1) for v in trend["nrr"]],
            "logo_churn": [None if pd.isna(v) else round(v * 100, 1) for v in trend["logo_churn"]],
        },
        "reasons": reasons.to_dict("records"),
        "reason_totals": reasons.groupby("reason", as_index=False)[["count", "arr_lost"]].sum().to_dict("records")
        if not reasons.empty
        else [],
    }


def drill_rows(
    *, tenant: Tenant, period_kind: str, slice_by: str, value: str, metric: str, today: dt.date, back: int = 0
) -> tuple[metrics.Period, list[dict]]:
    """The accounts (or account-product pairs, for the product slice) behind one number of the
    dashboard: those with the metric's statuses in the slice's ``value`` ("" = all), for the
    current period or, for a point of the trend, the period ``back`` steps before it."""
    period = metrics.Period.of(period_kind, today).previous(back)
    changes = retention_changes(tenant=tenant, period=period, slice_by=slice_by)
    statuses = metrics.METRIC_STATUSES.get(metric, metrics.METRIC_STATUSES["cohort"])
    chosen = changes[changes["status"].isin(statuses)]
    if value:
        chosen = chosen[chosen[slice_by].fillna("—").astype(str) == value]
    chosen = chosen.sort_values(["arr_start", "arr_end"], ascending=False)
    return period, chosen.to_dict("records")


def churn_reasons_of(*, tenant: Tenant):
    return ChurnReason.objects.filter(tenant=tenant).annotate(use_count=Count("renewals"))


def ledger_rows(*, tenant: Tenant, account: Account, period: metrics.Period | None) -> list[ArrMovement]:
    rows = ArrMovement.objects.filter(tenant=tenant, account=account).select_related("product")
    if period is not None:
        rows = rows.filter(month__gt=month_start(period.opening), month__lte=month_start(period.last))
    return list(rows.order_by("month", "product__name"))


def arr_of(frame_rows: list[dict], column: str) -> Decimal:
    return Decimal(str(round(sum(row[column] for row in frame_rows), 2)))


# --- Forecast ------------------------------------------------------------------------------


def _quarter_bounds(period: metrics.Period) -> tuple[dt.date, dt.date]:
    """(first day, first day after) of a quarter period."""
    return month_start(period.first), month_start(period.last + 1)


def forecast_quarters(*, tenant: Tenant, today: dt.date) -> list[dict]:
    """Projected GRR and NRR gap of the current and the next calendar quarter. The rule:

    - **Start ARR**: the tenant's ARR at the quarter's start (the snapshot at the end of the month
      before it); for a quarter that has not begun, today's ARR.
    - Each renewal whose term ends in the quarter projects its next term's ARR: a closed one its
      actual new ARR; an open one **0 when forecast lost**, else its **forecast ARR** (commit,
      likely and at risk alike: the CSM's forecast ARR already says how much of it is at risk).
      Below the ARR up, the difference is projected **loss** (churn or contraction); above it,
      projected **expansion**.
    - **Projected GRR** = (start ARR - projected loss) / start ARR. Mid-term churn and
      expansion outside renewals are not forecast, so this is the renewals' GRR.
    - **Expansion needed** for the NRR target = target * start ARR - (start ARR - projected loss +
      projected expansion), at least 0; open expansion opportunities expected to close in the
      quarter are shown beside it as the pipeline towards it.

    Four queries: the renewals of both quarters, the start ARRs, the target, the opportunities."""
    current = metrics.Period.of("quarter", today)
    quarters = {"current": current, "next": metrics.Period(current.first + 3, current.last + 3, "quarter")}
    first_day, _ = _quarter_bounds(current)
    _, last_day = _quarter_bounds(quarters["next"])
    renewals = list(
        Renewal.objects.filter(tenant=tenant, renewal_date__gte=first_day, renewal_date__lt=last_day)
        .order_by()
        .values_list("renewal_date", "arr_up", "forecast_category", "forecast_arr", "closed_at", "new_arr")
    )
    this_month = month_index(today)
    openings = {key: min(period.opening, this_month) for key, period in quarters.items()}
    # The tenant's ARR at each opening: the ledger runs holding then (one aggregate).
    held = ArrMovement.objects.filter(tenant=tenant, arr_after__gt=0).aggregate(
        **{
            key: Sum("arr_after", filter=Q(month__lte=month_start(m), valid_until__gt=month_start(m)))
            for key, m in openings.items()
        }
    )
    start_arr = {month_start(openings[key]): held[key] for key in openings}
    target = RetentionSettings.objects.get_or_create(tenant=tenant)[0].nrr_target_percent / Decimal("100")
    pipeline = dict(
        ExpansionOpportunity.objects.filter(
            tenant=tenant, stage__in=OPEN_EXPANSION_STAGES, expected_close__gte=first_day, expected_close__lt=last_day
        )
        .annotate(
            quarter=Case(
                When(expected_close__lt=_quarter_bounds(current)[1], then=Value("current")), default=Value("next")
            )
        )
        .order_by()
        .values("quarter")
        .annotate(total=Sum("arr"))
        .values_list("quarter", "total")
    )
    zero = Decimal("0")
    result = []
    for key, period in quarters.items():
        start, end = _quarter_bounds(period)
        arr_start = start_arr.get(month_start(openings[key])) or zero
        by_category = {
            category: {"count": 0, "arr_up": zero, "projected": zero} for category in ForecastCategory.values
        }
        by_category["closed"] = {"count": 0, "arr_up": zero, "projected": zero}
        loss = expansion = arr_up = zero
        for renewal_date, up, category, forecast_arr, closed_at, new_arr in renewals:
            if not start <= renewal_date < end:
                continue
            if closed_at is not None:
                projected, bucket = new_arr or zero, "closed"
            else:
                projected = zero if category == ForecastCategory.LOST else forecast_arr
                bucket = category
            by_category[bucket]["count"] += 1
            by_category[bucket]["arr_up"] += up
            by_category[bucket]["projected"] += projected
            arr_up += up
            loss += max(up - projected, zero)
            expansion += max(projected - up, zero)
        retained = arr_start - loss
        result.append(
            {
                "key": key,
                "period": period,
                "arr_start": arr_start,
                "arr_up": arr_up,
                "loss": loss,
                "expansion": expansion,
                "grr": retained / arr_start if arr_start else None,
                "nrr": (retained + expansion) / arr_start if arr_start else None,
                "target": target,
                "expansion_needed": max(target * arr_start - retained - expansion, zero),
                "pipeline": pipeline.get(key) or zero,
                "by_category": by_category,
            }
        )
    return result


def forecast_renewals(*, tenant: Tenant, today: dt.date, quarter: str, category: str = "") -> list[Renewal]:
    """The renewals behind a forecast number: those ending in the current or next quarter,
    narrowed to one forecast category (or "closed"); one query."""
    current = metrics.Period.of("quarter", today)
    period = current if quarter != "next" else metrics.Period(current.first + 3, current.last + 3, "quarter")
    start, end = _quarter_bounds(period)
    renewals = Renewal.objects.filter(tenant=tenant, renewal_date__gte=start, renewal_date__lt=end).select_related(
        "account", "owner"
    )
    if category == "closed":
        renewals = renewals.closed()
    elif category in ForecastCategory.values:
        renewals = renewals.open().filter(forecast_category=category)
    return list(renewals.order_by("renewal_date", "account__name", "pk"))


def expansion_opportunities(*, tenant: Tenant, account: Account) -> list[ExpansionOpportunity]:
    """The account's opportunities, open ones first by expected close, with their product (one query)."""
    opportunities = ExpansionOpportunity.objects.filter(tenant=tenant, account=account).select_related(
        "product", "owner"
    )
    return sorted(
        opportunities, key=lambda o: (o.stage not in OPEN_EXPANSION_STAGES, o.expected_close or dt.date.max, o.pk)
    )


@dataclass(frozen=True)
class RenewalCard:
    renewal: Renewal | None  # the next open renewal
    expansion_count: int  # open expansion opportunities
    expansion_arr: Decimal


def account_renewal_card(*, tenant: Tenant, account: Account) -> RenewalCard:
    """The account's next open renewal and its open expansion opportunities (how many, their
    ARR): one query scoped to ``tenant``, a row whether or not a renewal is open. The renewal
    is a model instance holding only what the Account 360 card prints and
    ``can_work_renewal`` reads."""
    expansions, renewals = ExpansionOpportunity._meta.db_table, Renewal._meta.db_table
    stages, stage_params = in_list("stage", OPEN_EXPANSION_STAGES)
    sql = f"""
        SELECT renewal.id, renewal.tenant_id, renewal.renewal_date, renewal.arr_up, renewal.owner_id,
            renewal.forecast_category, renewal.forecast_arr, expansion.opportunity_count, expansion.arr
        FROM (
            SELECT COUNT(*) AS opportunity_count, SUM(arr) AS arr FROM {expansions}
            WHERE tenant_id = %(tenant)s AND account_id = %(account)s
                AND stage IN ({stages})
        ) expansion
        LEFT JOIN {renewals} renewal ON renewal.id = (
            SELECT id FROM {renewals}
            WHERE tenant_id = %(tenant)s AND account_id = %(account)s AND closed_at IS NULL
            ORDER BY renewal_date, id LIMIT 1
        )
    """  # noqa: S608 (table names from the models, values as parameters)
    params = {"tenant": tenant.pk, "account": account.pk, **stage_params}
    *renewal, expansion_count, expansion_arr = fetch_row(sql, params)
    renewal_id, tenant_id, renewal_date, arr_up, owner_id, forecast_category, forecast_arr = renewal
    if renewal_id is not None:
        renewal = instance_from_values(
            Renewal,
            id=renewal_id,
            tenant_id=tenant_id,
            renewal_date=renewal_date,
            arr_up=_decimal(arr_up),
            owner_id=owner_id,
            forecast_category=forecast_category,
            forecast_arr=_decimal(forecast_arr),
        )
    else:
        renewal = None
    return RenewalCard(renewal, expansion_count, _decimal(expansion_arr) or Decimal(0))


def _decimal(value) -> Decimal | None:
    # A plain statement's money on SQLite comes back as a float (the ORM converts it).
    return None if value is None else Decimal(str(value))


# --- CSM load ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BookLoad:
    """One CSM's accounts in one segment against that segment's capacity. DOMAIN.md §9 gives the
    capacity as a number of accounts per CSM (high touch 5 to 15, low touch 20 to 50) and says to
    size books by ARR, not by count; so the capacity is turned into an ARR band: capacity times
    the segment's average ARR per paying account (churned and not-yet-paying accounts, at zero
    ARR, would drag the average down). A CSM carrying a few large accounts is then as loaded as
    one carrying many average ones. Churned accounts are not in anyone's book."""

    owner_id: int
    owner_name: str
    segment_id: int | None
    segment_name: str
    account_count: int
    arr: Decimal
    capacity_min: int | None
    capacity_max: int | None
    average_account_arr: Decimal | None

    @property
    def arr_capacity_min(self) -> Decimal | None:
        if self.capacity_min is None or self.average_account_arr is None:
            return None
        return self.capacity_min * self.average_account_arr

    @property
    def arr_capacity_max(self) -> Decimal | None:
        if self.capacity_max is None or self.average_account_arr is None:
            return None
        return self.capacity_max * self.average_account_arr

    @property
    def load(self) -> str:
        """``over``, ``under``, ``within``, or ``unset`` when the segment has no capacity."""
        if self.arr_capacity_max is not None and self.arr > self.arr_capacity_max:
            return "over"
        if self.arr_capacity_min is not None and self.arr < self.arr_capacity_min:
            return "under"
        if self.arr_capacity_min is None and self.arr_capacity_max is None:
            return "unset"
        return "within"


def csm_load(*, tenant: Tenant) -> list[BookLoad]:
    """Each owner's book per segment (accounts, ARR) with the segment's capacity: two aggregate
    queries whatever the size of the tenant."""
    averages = {
        row["segment_id"]: row["average"].quantize(Decimal("0.01"))
        for row in Account.objects.filter(tenant=tenant, arr__gt=0)
        .values("segment_id")
        .annotate(average=Avg("arr"))
        .order_by()
    }
    books = (
        Account.objects.filter(tenant=tenant, owner__isnull=False)
        .exclude(lifecycle_stage=LifecycleStage.CHURNED)
        .values(
            "owner_id",
            "owner__full_name",
            "owner__email",
            "segment_id",
            "segment__name",
            "segment__csm_capacity_min",
            "segment__csm_capacity_max",
        )
        .annotate(account_count=Count("pk"), book_arr=Sum("arr"))
        .order_by("owner__full_name", "owner__email", "segment__name")
    )
    return [
        BookLoad(
            owner_id=row["owner_id"],
            owner_name=row["owner__full_name"] or row["owner__email"],
            segment_id=row["segment_id"],
            segment_name=row["segment__name"] or "No segment",
            account_count=row["account_count"],
            arr=row["book_arr"] or Decimal("0"),
            capacity_min=row["segment__csm_capacity_min"],
            capacity_max=row["segment__csm_capacity_max"],
            average_account_arr=averages.get(row["segment_id"]),
        )
        for row in books
    ]


# --- Questions leaders ask (DOMAIN.md §2) ---------------------------------------------------


def leader_questions(*, tenant: Tenant, period_kind: str, today: dt.date) -> dict:
    """The answers to DOMAIN.md §2's leader questions for a period: share of customers that
    grew, churn by industry, retention by product (the product wallet), current vs original size
    of customers older than three years, and the average discount change at first renewal.
    Aggregates in the database (``renewals.retention``, ``renewals.questions``): five queries
    whatever the size of the tenant."""
    period = metrics.Period.of(period_kind, today)
    sliced = summaries(tenant=tenant, period=period, slices=("industry", "product"))
    total = sliced[None].iloc[0]
    grew, cohort = int(total["accounts_expanded"]), int(total["accounts_start"])
    industries = sliced["industry"]
    industries = industries[industries["accounts_start"] > 0].sort_values(["logo_churn", "churn"], ascending=False)
    products = sliced["product"].sort_values("arr_start", ascending=False)
    tenured = questions.tenured_summary(tenant=tenant, today=today)
    return {
        "period": period,
        "grew": grew,
        "cohort": cohort,
        "grew_share": grew / cohort if cohort else None,
        "industries": table_rows(industries),
        "products": table_rows(products),
        "tenured": tenured["top"],
        "tenured_count": tenured["customers"],
        "tenured_original": tenured["original_arr"],
        "tenured_current": tenured["current_arr"],
        "tenured_ratio": tenured["ratio"],
        "discounts": questions.discount_summary(tenant=tenant),
    }
