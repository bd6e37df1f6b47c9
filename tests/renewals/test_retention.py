"""The ledger runs and the SQL summaries give the numbers the pure functions of ``metrics`` give.

The hand-computed book of ``test_metrics.py`` is written to the database as subscription lines;
the ledger is rebuilt from them; then every summary computed in the
database (total and by segment, CSM, industry and product) must equal ``retention_summary`` on
the ledger, and the ledger's runs must hold ``month_end_arr``'s points.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest
from django_scopes import scopes_disabled

from accounts.models import Segment
from csplatform.tenancy import tenant_scope
from renewals import metrics, queries, retention
from renewals.ledger import ledger_rebuild, month_end_arr, month_index
from renewals.models import ArrMovement, RetentionSettings

from ..factories import AccountFactory, ProductFactory, SegmentFactory, SubscriptionLineFactory
from .test_metrics import LINES, TODAY, YEAR_2025

OWNERS = {1: "bob", 2: "bob", 3: "bea", 4: "bob", 5: "bea", 6: "bea", 7: "bob", 8: "bea"}
INDUSTRIES = {
    1: "Technology",
    2: "Retail",
    3: "Retail",
    4: "",
    5: "Retail",
    6: "Retail",
    7: "Healthcare",
    8: "Healthcare",
}


@pytest.fixture
def hand_book(tenant_a, bob, bea):
    """The hand-computed book in tenant A: {letter id: account}, products, bands Large (150+) and
    Small; account D pinned to Large although its ARR is in Small's band at the start."""
    with scopes_disabled():
        Segment.objects.filter(tenant=tenant_a).delete()
        large = SegmentFactory(tenant=tenant_a, name="Large", arr_min=Decimal("150"))
        SegmentFactory(tenant=tenant_a, name="Small", arr_min=Decimal("0"), arr_max=Decimal("150"))
        products = {1: ProductFactory(tenant=tenant_a, name="P1"), 2: ProductFactory(tenant=tenant_a, name="P2")}
        people = {"bob": bob, "bea": bea}
        accounts = {
            letter: AccountFactory(
                tenant=tenant_a, name=f"Book {letter}", owner=people[OWNERS[letter]], industry=INDUSTRIES[letter]
            )
            for letter in OWNERS
        }
        accounts[6].segment, accounts[6].segment_pinned = large, True  # F: 100 at the start, pinned Large
        accounts[6].save()
        for letter, product, arr, start, end in LINES:
            SubscriptionLineFactory(
                account=accounts[letter], product=products[product], arr=Decimal(arr), start_date=start, end_date=end
            )
    with tenant_scope(tenant_a):
        ledger_rebuild(tenant=tenant_a, today=TODAY)
    return accounts


def _pure(tenant, period: metrics.Period, by: str | None) -> pd.DataFrame:
    ledger = queries.ledger_frame(tenant=tenant, last_month=period.last)
    accounts, bands, _, products = queries.account_attributes(tenant=tenant)
    positions = metrics.arr_positions(ledger, period)
    if by == "product":
        changes = metrics.product_changes(positions).assign(product=lambda f: f["product_id"].map(products))
    else:
        changes = metrics.with_slices(metrics.account_changes(positions), accounts, bands)
    return metrics.retention_summary(changes, by=by)


@pytest.mark.parametrize("period", [YEAR_2025, metrics.Period.of("quarter", dt.date(2025, 3, 1))], ids=["year", "q1"])
def test_summaries_in_sql_equal_the_pure_functions_for_every_slice(hand_book, tenant_a, period):
    with tenant_scope(tenant_a):
        in_sql = retention.summaries(tenant=tenant_a, period=period, slices=retention.SLICES[1:])
        for by in retention.SLICES:
            expected = _pure(tenant_a, period, by)
            pd.testing.assert_frame_equal(
                in_sql[by].sort_index(), expected.sort_index(), check_dtype=False, check_names=False, atol=1e-9
            )


def test_sql_summaries_carry_the_hand_computed_numbers(hand_book, tenant_a):
    with tenant_scope(tenant_a):
        result = retention.summaries(tenant=tenant_a, period=YEAR_2025, slices=("segment", "product"))
    total = result[None].loc["All"]
    assert (total["arr_start"], total["churn"], total["contraction"], total["expansion"]) == (705, 80, 130, 60)
    assert (total["new"], total["reactivation"]) == (60, 45)
    assert total["grr"] == pytest.approx(495 / 705)
    assert total["logo_churn"] == pytest.approx(1 / 6)
    assert result["product"].loc["P1", "grr"] == pytest.approx(0.6)
    # F (100 at the start) is pinned to Large: Large = A 150 + D 200 + E 150 + F 100.
    assert result["segment"].loc["Large", "arr_start"] == 600
    assert result["segment"].loc["Small", "arr_start"] == 105


def test_the_bridges_end_arr_drills_to_the_accounts_whose_end_arr_adds_up_to_it(hand_book, tenant_a):
    with tenant_scope(tenant_a):
        total = retention.summaries(tenant=tenant_a, period=YEAR_2025)[None].loc["All"]
        changes = queries.retention_changes(tenant=tenant_a, period=YEAR_2025, slice_by="segment")
    end_all = {key: amount for key, _, amount in metrics.arr_bridge(total)}["end"]
    behind = changes[changes["status"].isin(metrics.METRIC_STATUSES["end"])]

    assert end_all == pytest.approx(705 - 80 - 130 + 60 + 60 + 45)  # cohort end + new + reactivation
    assert behind["arr_end"].sum() == pytest.approx(end_all)
    assert (changes.loc[~changes.index.isin(behind.index), "arr_end"] == 0).all()  # the churned only


def test_positions_from_the_runs_equal_the_positions_from_the_ledger(hand_book, tenant_a):
    with tenant_scope(tenant_a):
        from_runs = retention.positions_frame(tenant=tenant_a, period=YEAR_2025)
        ledger = queries.ledger_frame(tenant=tenant_a, last_month=YEAR_2025.last)
    from_ledger = metrics.arr_positions(ledger, YEAR_2025).sort_values(["account_id", "product_id"])
    pd.testing.assert_frame_equal(
        from_runs.reset_index(drop=True), from_ledger.reset_index(drop=True), check_dtype=False
    )


def test_the_ledger_runs_hold_the_arr_of_every_month_end_and_follow_a_partial_rebuild(hand_book, tenant_a):
    lines = pd.DataFrame(LINES, columns=["letter", "product", "arr", "start_date", "end_date"])
    ids = {letter: account.pk for letter, account in hand_book.items()}
    columns = ["account_id", "product_id", "month", "arr_after", "valid_until", "account_since"]
    with scopes_disabled():
        products = dict(ArrMovement.objects.values_list("product__name", "product_id").distinct())
        runs = pd.DataFrame(list(ArrMovement.objects.filter(tenant=tenant_a).values_list(*columns)), columns=columns)
        version = RetentionSettings.objects.get(tenant=tenant_a).ledger_version
    lines = lines.assign(
        account_id=lines["letter"].map(ids), product_id=lines["product"].map(lambda p: products[f"P{p}"])
    )
    points = month_end_arr(lines, today=TODAY)
    expected = {(r.account_id, r.product_id, r.month, r.arr) for r in points.itertuples() if r.arr}
    held = {
        (r.account_id, r.product_id, month, float(r.arr_after))
        for r in runs[runs["arr_after"] > 0].itertuples()
        for month in range(month_index(r.month), min(month_index(r.valid_until), month_index(TODAY) + 1))
    }
    assert held == expected
    # The account's first month with ARR is on each of its rows.
    first = runs.groupby("account_id")["month"].transform("min")
    assert (runs["account_since"] == first).all()
    # Rebuilding one account rewrites its rows only, and bumps the version the trend cache keys on.
    with tenant_scope(tenant_a):
        ledger_rebuild(tenant=tenant_a, account_ids=[ids[8]], today=TODAY)
    with scopes_disabled():
        assert ArrMovement.objects.filter(tenant=tenant_a).count() == len(runs)
        assert RetentionSettings.objects.get(tenant=tenant_a).ledger_version == version + 1


def test_the_cached_trend_equals_the_pure_trend_and_follows_a_rebuild(hand_book, tenant_a):
    quarter = metrics.Period.of("quarter", dt.date(2025, 12, 1))
    with tenant_scope(tenant_a):
        ledger = queries.ledger_frame(tenant=tenant_a, last_month=quarter.last)
        cached = retention.trend_frame(tenant=tenant_a, period=quarter, count=4)
    expected = metrics.retention_trend(ledger, quarter, 4)
    pd.testing.assert_frame_equal(cached, expected, check_dtype=False)
    with scopes_disabled():
        SubscriptionLineFactory(
            account=hand_book[8], product=ProductFactory(tenant=tenant_a), arr=Decimal("75"),
            start_date=dt.date(2025, 2, 1), end_date=dt.date(2025, 12, 31),
        )  # fmt: skip
    with tenant_scope(tenant_a):
        ledger_rebuild(tenant=tenant_a, account_ids=[hand_book[8].pk], today=TODAY)
        after = retention.trend_frame(tenant=tenant_a, period=quarter, count=4)
    assert after.iloc[0]["expansion"] == cached.iloc[0]["expansion"] + 75  # H cross-sold in Q1: never stale


def test_cached_summaries_are_never_stale(hand_book, tenant_a, monkeypatch, own_cache_cleared):
    """Served from the cache while nothing changed; a segment pinned, a band edited or a ledger
    rebuild (a renewal closing) makes them computed again."""
    slices = ("segment", "product")
    with tenant_scope(tenant_a):
        first = retention.summaries_current(tenant=tenant_a, period=YEAR_2025, slices=slices)
    with tenant_scope(tenant_a):
        expected = {by: _pure(tenant_a, YEAR_2025, by) for by in (None, *slices)}
    for by, frame in expected.items():
        pd.testing.assert_frame_equal(first[by].sort_index(), frame.sort_index(), check_dtype=False, check_names=False)
    computed = retention.summaries

    def refuse(**kwargs):
        raise AssertionError("computed again")

    monkeypatch.setattr(retention, "summaries", refuse)
    with tenant_scope(tenant_a):
        again = retention.summaries_current(tenant=tenant_a, period=YEAR_2025, slices=("segment",))
    assert again["segment"].loc["Large", "arr_start"] == 600
    monkeypatch.setattr(retention, "summaries", computed)
    # A pinned to Small (150 at the start): Large loses it at once.
    with scopes_disabled():
        hand_book[1].segment = Segment.objects.get(tenant=tenant_a, name="Small")
        hand_book[1].segment_pinned = True
        hand_book[1].save()
    with tenant_scope(tenant_a):
        pinned = retention.summaries_current(tenant=tenant_a, period=YEAR_2025, slices=("segment",))
    assert (pinned["segment"].loc["Large", "arr_start"], pinned["segment"].loc["Small", "arr_start"]) == (450, 255)
    # H cross-sells 75 in the year: the rebuild bumps the ledger version, so the total follows.
    with scopes_disabled():
        SubscriptionLineFactory(
            account=hand_book[8], product=ProductFactory(tenant=tenant_a), arr=Decimal("75"),
            start_date=dt.date(2025, 2, 1), end_date=dt.date(2025, 12, 31),
        )  # fmt: skip
    with tenant_scope(tenant_a):
        ledger_rebuild(tenant=tenant_a, account_ids=[hand_book[8].pk], today=TODAY)
        after = retention.summaries_current(tenant=tenant_a, period=YEAR_2025, slices=slices)
    assert after[None].loc["All", "expansion"] == first[None].loc["All", "expansion"] + 75
