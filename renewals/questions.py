"""DOMAIN.md §2's leader questions on the subscription lines, answered in the database.

The pure definitions are ``metrics.tenured_contract_sizes`` and ``metrics.first_renewal_discounts``
(pandas, hand-checked in ``tests/renewals/test_questions.py``); these are the same rules in SQL,
so a tenant of 100,000 accounts never ships its 300,000 lines to Python: the page reads a few
aggregate rows and the largest accounts, the drill-downs a bounded page of rows, the CSV exports
every row. ``tests/renewals/test_questions.py`` holds the SQL equal to the pure functions.

Plain SQL that PostgreSQL and SQLite both run (window functions; ``FILTER`` needs SQLite 3.30).
Statements are assembled from this module's constant fragments; every value is a parameter.
"""

# ruff: noqa: S608

from __future__ import annotations

import datetime as dt

from django.db import connection, transaction

from csplatform.models import Tenant

from . import metrics

# --- Current vs original contract size of customers older than three years ------------------

# Per account: the first day it had a line, the ARR of the lines active that day (original) and
# of those active today (current); kept when the first day is on or before the cutoff and the
# account still has ARR.
_TENURED = """
WITH firsts AS (
    SELECT account_id, MIN(start_date) AS first_day FROM renewals_subscriptionline
    WHERE tenant_id = %(tenant)s GROUP BY account_id
),
sizes AS (
    SELECT l.account_id,
        CAST(SUM(CASE WHEN l.start_date <= f.first_day AND l.end_date >= f.first_day THEN l.arr ELSE 0 END)
            AS DOUBLE PRECISION) AS original_arr,
        CAST(SUM(CASE WHEN l.start_date <= %(today)s AND l.end_date >= %(today)s THEN l.arr ELSE 0 END)
            AS DOUBLE PRECISION) AS current_arr
    FROM renewals_subscriptionline l JOIN firsts f ON f.account_id = l.account_id
    WHERE l.tenant_id = %(tenant)s AND f.first_day <= %(cutoff)s
    GROUP BY l.account_id
),
kept AS (SELECT * FROM sizes WHERE current_arr > 0)
"""


def _rows(sql: str, params: dict) -> list[tuple]:
    """Run one read; on PostgreSQL with room to sort a large tenant's lines in memory (the window
    functions sort them by account and product) and without JIT, which costs more than it saves."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT set_config('work_mem', '64MB', true), set_config('jit', 'off', true)")
        cursor.execute(sql, params)
        return cursor.fetchall()


def _tenured_params(tenant: Tenant, today: dt.date, years: int) -> dict:
    return {"tenant": tenant.pk, "today": today, "cutoff": metrics._years_before(today, years)}


def tenured_summary(*, tenant: Tenant, today: dt.date, years: int = 3, top: int = 25) -> dict:
    """How many customers are older than ``years`` and still have ARR, their original and current
    ARR in total and the ratio, and the ``top`` largest by current ARR (``account_id, name,
    original_arr, current_arr, ratio``): one query."""
    sql = (
        _TENURED
        + """, totals AS (SELECT COUNT(*) AS customers, SUM(original_arr) AS original_arr,
                SUM(current_arr) AS current_arr FROM kept)
        SELECT t.customers, t.original_arr, t.current_arr, k.account_id, a.name, k.original_arr, k.current_arr
        FROM totals t
        LEFT JOIN (SELECT * FROM kept ORDER BY current_arr DESC, account_id LIMIT %(top)s) k ON 1 = 1
        LEFT JOIN accounts_account a ON a.id = k.account_id
        ORDER BY k.current_arr DESC, k.account_id"""
    )
    fetched = _rows(sql, _tenured_params(tenant, today, years) | {"top": top})
    customers, original, current = fetched[0][:3] if fetched else (0, None, None)
    original, current = round(float(original or 0), 2), round(float(current or 0), 2)
    return {
        "customers": int(customers or 0),
        "original_arr": original,
        "current_arr": current,
        "ratio": current / original if original else None,
        "top": [_tenured_row(row[3:]) for row in fetched if row[3] is not None],
    }


def tenured_rows(*, tenant: Tenant, today: dt.date, years: int = 3) -> list[dict]:
    """Every customer older than ``years`` with ARR today, largest current ARR first (the CSV)."""
    sql = (
        _TENURED
        + """SELECT k.account_id, a.name, k.original_arr, k.current_arr FROM kept k
        JOIN accounts_account a ON a.id = k.account_id ORDER BY k.current_arr DESC, k.account_id"""
    )
    return [_tenured_row(row) for row in _rows(sql, _tenured_params(tenant, today, years))]


def _tenured_row(row: tuple) -> dict:
    account_id, name, original, current = row
    original, current = round(float(original), 2), round(float(current), 2)
    return {
        "account_id": account_id,
        "name": name,
        "original_arr": original,
        "current_arr": current,
        "ratio": current / original if original else None,
    }


# --- Discount change at first renewal ---------------------------------------------------------

# Per (account, product): the first term is its earliest line (start, then end, then id); its
# first renewal the earliest other line starting on or after the first term's end. Discount =
# 1 - ARR / list price (NULL without a list price); change = renewal's minus first term's.
_DISCOUNTS = """
WITH ranked AS (
    SELECT id, start_date, end_date, arr, list_price_arr,
        ROW_NUMBER() OVER pair AS position,
        FIRST_VALUE(id) OVER pair AS first_id,
        FIRST_VALUE(start_date) OVER pair AS first_start,
        FIRST_VALUE(end_date) OVER pair AS first_end,
        FIRST_VALUE(arr) OVER pair AS first_arr,
        FIRST_VALUE(list_price_arr) OVER pair AS first_list,
        account_id, product_id
    FROM renewals_subscriptionline WHERE tenant_id = %(tenant)s
    WINDOW pair AS (PARTITION BY account_id, product_id ORDER BY start_date, end_date, id)
),
candidates AS (
    SELECT ranked.*, ROW_NUMBER() OVER (PARTITION BY first_id ORDER BY start_date, end_date, id) AS renewal_position
    FROM ranked WHERE position > 1 AND start_date >= first_end
),
pairs AS (
    SELECT account_id, product_id, first_id, id AS renewal_id, first_start, first_end,
        CAST(first_arr AS DOUBLE PRECISION) AS first_arr, CAST(first_list AS DOUBLE PRECISION) AS first_list,
        start_date AS renewal_start, end_date AS renewal_end,
        CAST(arr AS DOUBLE PRECISION) AS renewal_arr, CAST(list_price_arr AS DOUBLE PRECISION) AS renewal_list,
        1 - CAST(first_arr AS DOUBLE PRECISION) / CAST(NULLIF(first_list, 0) AS DOUBLE PRECISION) AS first_discount,
        1 - CAST(arr AS DOUBLE PRECISION) / CAST(NULLIF(list_price_arr, 0) AS DOUBLE PRECISION) AS renewal_discount
    FROM candidates WHERE renewal_position = 1
)
"""

DISCOUNT_COLUMNS = [
    "account_id",
    "account",
    "product",
    "first_line_id",
    "first_start",
    "first_end",
    "first_arr",
    "first_list_price",
    "first_discount",
    "renewal_line_id",
    "renewal_start",
    "renewal_end",
    "renewal_arr",
    "renewal_list_price",
    "renewal_discount",
    "change",
]


def discount_summary(*, tenant: Tenant) -> dict:
    """``metrics.discount_change_summary`` in one query: the average change over the pairs
    priced on both lines (None when none is), how many are priced and how many are not."""
    sql = (
        _DISCOUNTS
        + """SELECT AVG(renewal_discount - first_discount),
            COUNT(*) FILTER (WHERE renewal_discount IS NOT NULL AND first_discount IS NOT NULL),
            COUNT(*) FILTER (WHERE renewal_discount IS NULL OR first_discount IS NULL)
        FROM pairs"""
    )
    average, priced, unpriced = _rows(sql, {"tenant": tenant.pk})[0]
    return {
        "average_change": None if average is None else float(average),
        "priced": int(priced or 0),
        "unpriced": int(unpriced or 0),
    }


def discount_rows(*, tenant: Tenant, priced: bool | None = None, limit: int | None = None) -> list[dict]:
    """The first terms and first renewals behind the average (``DISCOUNT_COLUMNS``), largest
    change in either direction first; ``priced`` True keeps the pairs in the average, False the
    ones without a list price; ``limit`` bounds a page (None: all, for the CSV)."""
    where = {
        None: "",
        True: "WHERE p.first_discount IS NOT NULL AND p.renewal_discount IS NOT NULL",
        False: "WHERE p.first_discount IS NULL OR p.renewal_discount IS NULL",
    }[priced]
    sql = (
        _DISCOUNTS
        + f"""SELECT p.account_id, a.name, pr.name, p.first_id, p.first_start, p.first_end, p.first_arr,
            p.first_list, p.first_discount, p.renewal_id, p.renewal_start, p.renewal_end, p.renewal_arr,
            p.renewal_list, p.renewal_discount, p.renewal_discount - p.first_discount AS change
        FROM pairs p JOIN accounts_account a ON a.id = p.account_id JOIN renewals_product pr ON pr.id = p.product_id
        {where}
        ORDER BY CASE WHEN p.renewal_discount - p.first_discount IS NULL THEN 1 ELSE 0 END,
            ABS(p.renewal_discount - p.first_discount) DESC, a.name, pr.name, p.account_id
        {"LIMIT %(limit)s" if limit is not None else ""}"""
    )
    rows = _rows(sql, {"tenant": tenant.pk, "limit": limit})
    result = []
    for row in rows:
        item = dict(zip(DISCOUNT_COLUMNS, row, strict=True))
        for key in ("first_start", "first_end", "renewal_start", "renewal_end"):
            if isinstance(item[key], str):  # SQLite gives dates back as text
                item[key] = dt.date.fromisoformat(item[key])
        result.append(item)
    return result
