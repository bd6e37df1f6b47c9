"""Demo rows of the renewals app, written after the accounts and their lines exist (see
``csplatform.demo.APP_SEEDERS``): the churn-reason taxonomy, the ARR ledger, open renewals for
the terms of the coming 12 months with forecasts, and closed renewals for the terms of the
last two years, their outcome read from the lines and a reason where ARR was lost. Set-based."""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable
from decimal import Decimal

from django.db import connection
from django.db.models import Case, DecimalField, F, Value, When
from django.db.models.functions import Mod
from django.utils import timezone

from accounts.models import Account
from csplatform import bulk
from csplatform.models import Tenant

from .ledger import ledger_rebuild, lines_frame
from .models import (
    OUTCOMES_NEEDING_REASON,
    ChurnCategory,
    ForecastCategory,
    Renewal,
    RenewalAffectedProduct,
)
from .services import churn_reasons_create_defaults, outcome_expected, renewals_create_upcoming

# How often each reason is picked when ARR was lost (poor adoption leads, as in the field).
REASON_WEIGHTS = {
    ChurnCategory.POOR_ADOPTION: 9,
    ChurnCategory.PRODUCT_FIT: 4,
    ChurnCategory.PRODUCT_GAP: 5,
    ChurnCategory.HARD_TO_AFFECT: 1.5,
    ChurnCategory.OTHER: 1,
}
OTHER_NOTES = ["Budget moved to a competitor bundle", "Project cancelled", "Pricing dispute", "Team disbanded"]


def renewals_seed(
    *, tenant: Tenant, rng: random.Random, today: dt.date, use_copy: bool, log: Callable[[str], None]
) -> None:
    started = time.perf_counter()
    reasons = churn_reasons_create_defaults(tenant=tenant)
    _list_prices(tenant=tenant)
    movements = ledger_rebuild(tenant=tenant, today=today)
    log(f"{tenant.name}: {movements:,} ARR ledger rows in {time.perf_counter() - started:.1f} s")
    renewals_create_upcoming(tenant=tenant, today=today)
    # Forecasts spread by account id: half commit, a third likely, the rest at risk or lost.
    bucket = Mod(F("account_id"), 12)
    Renewal.objects.filter(tenant=tenant).open().alias(bucket=bucket).update(
        forecast_category=Case(
            When(bucket__lt=6, then=Value(ForecastCategory.COMMIT)),
            When(bucket__lt=10, then=Value(ForecastCategory.LIKELY)),
            When(bucket__lt=11, then=Value(ForecastCategory.AT_RISK)),
            default=Value(ForecastCategory.LOST),
        ),
        forecast_arr=Case(
            When(bucket__lt=10, then=F("arr_up")),
            When(bucket__lt=11, then=F("arr_up") * Decimal("0.6")),
            default=Value(Decimal("0")),
            output_field=DecimalField(),
        ),
    )
    _closed_renewals(tenant=tenant, rng=rng, today=today, use_copy=use_copy, reasons=reasons, log=log)


def _list_prices(*, tenant: Tenant) -> None:
    """List prices behind the demo lines, so the discount change at first renewal is a real
    number: a first term sold at 20% off, later terms at 10% off. One account in seven has no
    list price recorded (as in the field, where old deals were booked at net only). One UPDATE
    over a window (a line is a later term when an earlier line of its account and product exists)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE renewals_subscriptionline SET list_price_arr = ROUND(
                renewals_subscriptionline.arr / CASE WHEN terms.position > 1 THEN 0.9 ELSE 0.8 END, 2)
            FROM (
                SELECT id, RANK() OVER (PARTITION BY account_id, product_id ORDER BY start_date) AS position
                FROM renewals_subscriptionline WHERE tenant_id = %(tenant)s
            ) terms
            WHERE terms.id = renewals_subscriptionline.id AND renewals_subscriptionline.account_id %% 7 <> 0
            """,
            {"tenant": tenant.pk},
        )


def _closed_renewals(*, tenant, rng, today, use_copy, reasons, log) -> None:
    lines = lines_frame(tenant=tenant)
    if lines.empty:
        return
    lines["arr"] = lines["arr"].astype(float)
    first_day = today - dt.timedelta(days=730)
    ended = lines[(lines["end_date"] < today) & (lines["end_date"] >= first_day)]
    # A term's products and ARR, and what each product carried into the next term.
    up = ended.groupby(["account_id", "end_date", "product_id"], as_index=False)["arr"].sum()
    following = lines.assign(end_date=lines["start_date"] - dt.timedelta(days=1))
    following = following.groupby(["account_id", "end_date", "product_id"])["arr"].sum().rename("next_arr")
    up = up.join(following, on=["account_id", "end_date", "product_id"]).fillna({"next_arr": 0.0})
    terms = up.groupby(["account_id", "end_date"], as_index=False).agg(arr_up=("arr", "sum"))
    # The next term's whole ARR, cross-sells at renewal included.
    terms = terms.join(following.groupby(level=[0, 1]).sum(), on=["account_id", "end_date"]).fillna({"next_arr": 0.0})
    owners = dict(Account.objects.filter(tenant=tenant).values_list("pk", "owner_id"))
    weights = [REASON_WEIGHTS[reason.category] for reason in reasons]
    first_id = bulk.ids_reserve(Renewal, len(terms))
    renewal_rows, affected_rows = [], []
    lost_products = up[up["next_arr"] < up["arr"]].groupby(["account_id", "end_date"])["product_id"].apply(list)
    for offset, term in enumerate(terms.itertuples(index=False)):
        arr_up, next_arr = Decimal(str(round(term.arr_up, 2))), Decimal(str(round(term.next_arr, 2)))
        outcome = outcome_expected(arr_up=arr_up, new_arr=next_arr)
        reason, note = None, ""
        renewal_id = first_id + offset
        if outcome in OUTCOMES_NEEDING_REASON:
            reason = rng.choices(reasons, weights=weights)[0]
            note = rng.choice(OTHER_NOTES) if reason.note_required else ""
            for product_id in lost_products.get((term.account_id, term.end_date), []):
                affected_rows.append((tenant.pk, renewal_id, int(product_id)))
        closed_at = timezone.make_aware(
            dt.datetime.combine(term.end_date - dt.timedelta(days=rng.randint(0, 40)), dt.time(12))
        )
        owner = owners.get(term.account_id)
        renewal_rows.append(
            (
                renewal_id,
                tenant.pk,
                int(term.account_id),
                term.end_date,
                arr_up,
                owner,
                ForecastCategory.LOST if next_arr == 0 else ForecastCategory.COMMIT,
                next_arr,
                "",
                outcome,
                next_arr,
                reason.pk if reason else None,
                note,
                closed_at,
                owner,
                closed_at,
            )
        )
    columns = (
        "id",
        "tenant_id",
        "account_id",
        "renewal_date",
        "arr_up",
        "owner_id",
        "forecast_category",
        "forecast_arr",
        "notes",
        "outcome",
        "new_arr",
        "churn_reason_id",
        "reason_note",
        "closed_at",
        "closed_by_id",
        "created_at",
    )
    write = bulk.rows_copy if use_copy else bulk.rows_insert
    write(Renewal, columns, renewal_rows)
    write(RenewalAffectedProduct, ("tenant_id", "renewal_id", "product_id"), affected_rows)
    log(f"{tenant.name}: {len(renewal_rows):,} closed renewals, {len(affected_rows):,} products lost")
