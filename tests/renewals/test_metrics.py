"""Retention metrics on a small fixed book whose numbers were worked out by hand below.

Period: calendar year 2025 (start ARR at 31 Dec 2024, end ARR at 31 Dec 2025). Products P1, P2.

| account | story | start | end | account level | product level |
|---|---|---|---|---|---|
| A | drops P1 (100) at renewal, P2 50 -> 80 | 150 | 80 | contraction 70 | P1 churn 100, P2 expansion 30 |
| B | new customer in April 2025, P1 60 | 0 | 60 | new 60 (excluded) | P1 new 60 |
| C | P1 40 in 2023, lapsed 2024, back June 2025 at 45 | 0 | 45 | reactivation 45 (excluded) | P1 new 45 |
| D | P1 200 for years, renews 2025 at 170 | 200 | 170 | contraction 30 | P1 contraction 30 |
| E | lands May 2024 P1 120 + P2 30; first renewal P1 90 | 150 | 120 | contraction 30 | P1 contraction 30 |
| F | P1 100; on 15 Mar 2025 cancelled and re-bought at 160 | 100 | 160 | expansion 60 | P1 expansion 60 |
| G | P1 80 to 31 Jan 2025, not renewed | 80 | 0 | churn 80 | P1 churn 80 |
| H | P2 25, renews flat | 25 | 25 | retained | P2 retained |

Cohort: A, D, E, F, G, H: 6 accounts, start ARR 705.
Churn 80 (G); contraction 70 + 30 + 30 = 130; expansion 60; end 705 - 80 - 130 + 60 = 555.
GRR = (705 - 80 - 130) / 705 = 495 / 705; NRR = 555 / 705; logo churn = 1 / 6.
New 60 and reactivation 45 sit beside the bridge: ARR at end, all accounts = 555 + 105 = 660.

Product P1: pairs A, D, E, F, G = 100 + 200 + 120 + 100 + 80 = 600 at start; churn 100 + 80 = 180,
contraction 30 + 30 = 60, expansion 60, end 420: GRR 360 / 600 = 0.6, NRR 420 / 600 = 0.7,
pairs lost 2 of 5. Product P2: A 50, E 30, H 25 = 105; expansion 30, end 135: GRR 1, NRR 135 / 105.
The account numbers (contraction 70 at A) hide that P1 lost all of A.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from renewals.ledger import month_end_arr, month_index, movements_from_arr
from renewals.metrics import (
    Period,
    Status,
    account_changes,
    arr_bridge,
    arr_positions,
    product_changes,
    product_slices,
    retention_summary,
    retention_trend,
    with_slices,
)

D = dt.date
P1, P2 = 1, 2
A, B, C, DD, E, F, G, H = 1, 2, 3, 4, 5, 6, 7, 8
TODAY = D(2025, 12, 31)
YEAR_2025 = Period(month_index(D(2025, 1, 1)), month_index(D(2025, 12, 1)), "ttm")

LINES = [
    # account, product, arr, start, end
    (A, P1, 100, D(2024, 1, 1), D(2024, 12, 31)),
    (A, P2, 50, D(2024, 1, 1), D(2024, 12, 31)),
    (A, P2, 80, D(2025, 1, 1), D(2025, 12, 31)),
    (B, P1, 60, D(2025, 4, 10), D(2026, 4, 9)),
    (C, P1, 40, D(2023, 1, 1), D(2023, 12, 31)),
    (C, P1, 45, D(2025, 6, 1), D(2026, 5, 31)),
    (DD, P1, 200, D(2023, 1, 1), D(2023, 12, 31)),
    (DD, P1, 200, D(2024, 1, 1), D(2024, 12, 31)),
    (DD, P1, 170, D(2025, 1, 1), D(2025, 12, 31)),
    (E, P1, 120, D(2024, 5, 1), D(2025, 4, 30)),
    (E, P2, 30, D(2024, 5, 1), D(2025, 4, 30)),
    (E, P1, 90, D(2025, 5, 1), D(2026, 4, 30)),
    (E, P2, 30, D(2025, 5, 1), D(2026, 4, 30)),
    # F's line was cut short on the day the bigger one was bought.
    (F, P1, 100, D(2024, 9, 1), D(2025, 3, 14)),
    (F, P1, 160, D(2025, 3, 15), D(2026, 3, 14)),
    (G, P1, 80, D(2024, 2, 1), D(2025, 1, 31)),
    (H, P2, 25, D(2024, 1, 1), D(2024, 12, 31)),
    (H, P2, 25, D(2025, 1, 1), D(2025, 12, 31)),
]


def lines_frame(lines=LINES) -> pd.DataFrame:
    return pd.DataFrame(lines, columns=["account_id", "product_id", "arr", "start_date", "end_date"])


@pytest.fixture
def ledger() -> pd.DataFrame:
    points = month_end_arr(lines_frame(), today=TODAY)
    return movements_from_arr(points, current_month=month_index(TODAY))


def movements_of(ledger: pd.DataFrame, account: int) -> list[tuple]:
    rows = ledger[ledger["account_id"] == account]
    return [
        (f"{row.month // 12}-{row.month % 12 + 1:02d}", row.product_id, row.kind, row.amount)
        for row in rows.itertuples()
    ]


# --- The ledger ---------------------------------------------------------------------------


def test_dropping_one_product_while_expanding_another_is_contraction_and_expansion_not_churn(ledger):
    assert movements_of(ledger, A) == [
        ("2024-01", P1, "new", 100),
        ("2024-01", P2, "new", 50),
        ("2025-01", P1, "contraction", -100),
        ("2025-01", P2, "expansion", 30),
    ]


def test_cancel_and_rebuy_on_the_same_day_is_one_expansion_not_churn_plus_new(ledger):
    assert movements_of(ledger, F) == [("2024-09", P1, "new", 100), ("2025-03", P1, "expansion", 60)]


def test_a_flat_renewal_on_contiguous_terms_is_no_movement(ledger):
    assert movements_of(ledger, H) == [("2024-01", P2, "new", 25)]


def test_coming_back_after_zero_is_reactivation(ledger):
    assert movements_of(ledger, C) == [
        ("2023-01", P1, "new", 40),
        ("2024-01", P1, "churn", -40),
        ("2025-06", P1, "reactivation", 45),
    ]


def test_going_to_zero_is_churn_in_the_month_after_the_last_covered_month_end(ledger):
    assert movements_of(ledger, G) == [("2024-02", P1, "new", 80), ("2025-02", P1, "churn", -80)]


def test_a_downgrade_at_first_renewal_is_contraction_of_that_product_only(ledger):
    assert movements_of(ledger, E) == [
        ("2024-05", P1, "new", 120),
        ("2024-05", P2, "new", 30),
        ("2025-05", P1, "contraction", -30),
    ]


def test_the_current_month_is_measured_today_and_nothing_is_projected():
    lines = lines_frame([(A, P1, 100, D(2025, 1, 1), D(2025, 12, 20))])
    before_end = movements_from_arr(month_end_arr(lines, today=D(2025, 12, 10)), current_month=month_index(TODAY))
    after_end = movements_from_arr(month_end_arr(lines, today=D(2025, 12, 21)), current_month=month_index(TODAY))
    assert list(before_end["kind"]) == ["new"]
    assert list(after_end["kind"]) == ["new", "churn"]
    # A line booked to start next month does not count yet.
    future = lines_frame([(A, P1, 100, D(2026, 1, 1), D(2026, 12, 31))])
    assert month_end_arr(future, today=TODAY).empty


def test_ledger_amounts_add_up_to_the_arr_at_each_month_end(ledger):
    points = month_end_arr(lines_frame(), today=TODAY)
    for month in (month_index(D(2024, 12, 1)), month_index(D(2025, 3, 1)), month_index(TODAY)):
        from_ledger = ledger[ledger["month"] <= month].groupby("account_id")["amount"].sum()
        from_lines = points[points["month"] == month].groupby("account_id")["arr"].sum()
        pd.testing.assert_series_equal(from_ledger[from_ledger != 0], from_lines, check_names=False, check_dtype=False)


# --- Account retention --------------------------------------------------------------------


def test_grr_nrr_logo_churn_and_bridge_for_the_year_match_the_hand_computation(ledger):
    changes = account_changes(arr_positions(ledger, YEAR_2025))
    status = dict(zip(changes["account_id"], changes["status"], strict=True))
    assert status == {
        A: Status.CONTRACTED,
        B: Status.NEW,
        C: Status.REACTIVATED,
        DD: Status.CONTRACTED,
        E: Status.CONTRACTED,
        F: Status.EXPANDED,
        G: Status.CHURNED,
        H: Status.RETAINED,
    }
    total = retention_summary(changes).loc["All"]
    assert total["accounts_start"] == 6
    assert total["accounts_churned"] == 1
    assert total["arr_start"] == 705
    assert total["churn"] == 80
    assert total["contraction"] == 130
    assert total["expansion"] == 60
    assert total["arr_end"] == 555
    assert total["new"] == 60  # B, excluded from both ratios
    assert total["reactivation"] == 45  # C, excluded as well
    assert total["grr"] == pytest.approx(495 / 705)
    assert total["nrr"] == pytest.approx(555 / 705)
    assert total["logo_churn"] == pytest.approx(1 / 6)
    assert arr_bridge(total) == [
        ("cohort", "ARR at start", 705),
        ("churn", "Churn", -80),
        ("contraction", "Contraction", -130),
        ("expansion", "Expansion", 60),
        ("cohort_end", "Cohort ARR at end", 555),
        ("new", "New business (excluded)", 60),
        ("reactivation", "Reactivation (excluded)", 45),
        ("end", "ARR at end, all accounts", 660),
    ]


def test_a_single_month_sees_only_that_months_movements(ledger):
    march = Period.of("month", D(2025, 3, 1))
    total = retention_summary(account_changes(arr_positions(ledger, march))).loc["All"]
    # At 28 Feb 2025: A 80, D 170, E 150, F 100, H 25 (G gone in February) = 525; F +60 in March.
    assert (total["arr_start"], total["expansion"], total["arr_end"]) == (525, 60, 585)
    assert total["grr"] == 1
    assert total["nrr"] == pytest.approx(585 / 525)


# --- Product wallet retention --------------------------------------------------------------


def test_product_wallet_retention_shows_the_product_that_account_numbers_hide(ledger):
    by_product = retention_summary(product_changes(arr_positions(ledger, YEAR_2025)), by="product_id")
    p1, p2 = by_product.loc[P1], by_product.loc[P2]
    assert (p1["arr_start"], p1["churn"], p1["contraction"], p1["expansion"], p1["arr_end"]) == (600, 180, 60, 60, 420)
    assert p1["grr"] == pytest.approx(0.6)
    assert p1["nrr"] == pytest.approx(0.7)
    assert (p1["accounts_start"], p1["accounts_churned"]) == (5, 2)
    assert p1["new"] == 105  # B's 60 and C's 45 are new to the P1 wallet
    assert (p2["arr_start"], p2["expansion"], p2["arr_end"]) == (105, 30, 135)
    assert p2["grr"] == 1
    assert p2["nrr"] == pytest.approx(135 / 105)


# --- Slices ---------------------------------------------------------------------------------


ACCOUNTS = pd.DataFrame(
    {
        "account_id": [A, B, C, DD, E, F, G, H],
        "owner": ["bob", "bob", "bea", "bob", "bea", "bea", "bob", "bea"],
        "industry": ["Technology", "Retail", "Retail", "Technology", "Retail", "Retail", "Healthcare", "Healthcare"],
        "pinned_segment": [None] * 8,
    }
)
BANDS = pd.DataFrame({"name": ["Large", "Small"], "arr_min": [150, 0], "arr_max": [None, 150]})


def test_segment_is_the_band_of_the_arr_at_the_start_so_churn_stays_where_it_happened(ledger):
    changes = with_slices(account_changes(arr_positions(ledger, YEAR_2025)), ACCOUNTS, BANDS)
    by_segment = retention_summary(changes, by="segment")
    large, small = by_segment.loc["Large"], by_segment.loc["Small"]
    # Large: A 150, D 200, E 150 = 500 -> 370 (contraction 130). Small: F 100, G 80, H 25 = 205.
    assert (large["arr_start"], large["contraction"], large["arr_end"]) == (500, 130, 370)
    assert large["grr"] == pytest.approx(0.74)
    assert (small["arr_start"], small["churn"], small["expansion"], small["arr_end"]) == (205, 80, 60, 185)
    assert small["grr"] == pytest.approx(125 / 205)
    assert small["nrr"] == pytest.approx(185 / 205)
    assert small["logo_churn"] == pytest.approx(1 / 3)
    # B (new, 60) is banded on its end ARR; it is not in either cohort.
    assert small["new"] == 60


def test_industry_and_owner_slices(ledger):
    changes = with_slices(account_changes(arr_positions(ledger, YEAR_2025)), ACCOUNTS, BANDS)
    healthcare = retention_summary(changes, by="industry").loc["Healthcare"]
    assert (healthcare["arr_start"], healthcare["churn"]) == (105, 80)
    assert healthcare["grr"] == pytest.approx(25 / 105)
    assert healthcare["logo_churn"] == pytest.approx(0.5)
    bob = retention_summary(changes, by="owner").loc["bob"]
    # A 150 -> 80, D 200 -> 170, G 80 -> 0: start 430, churn 80, contraction 100.
    assert (bob["arr_start"], bob["churn"], bob["contraction"], bob["arr_end"]) == (430, 80, 100, 250)


def test_product_slices_band_the_segment_on_the_whole_accounts_arr(ledger):
    pairs = product_slices(product_changes(arr_positions(ledger, YEAR_2025)), ACCOUNTS, BANDS)
    segment_of = {(row.account_id, row.product_id): row.segment for row in pairs.itertuples()}
    assert segment_of[(A, P2)] == "Large"  # A held 150 in all, though only 50 in P2
    assert segment_of[(H, P2)] == "Small"


def test_trend_has_one_row_per_period_oldest_first(ledger):
    trend = retention_trend(ledger, Period.of("quarter", D(2025, 12, 1)), 4)
    assert list(trend["label"]) == ["Q1 25", "Q2 25", "Q3 25", "Q4 25"]
    # Q1 2025: start 705 at 31 Dec; at 31 Mar: A 80, D 170, E 150, F 160, G 0, H 25 = 585.
    q1 = trend.iloc[0]
    assert (q1["arr_start"], q1["churn"], q1["contraction"], q1["expansion"]) == (705, 80, 100, 60)
    assert q1["nrr"] == pytest.approx(585 / 705)
    # Q3 and Q4 2025: no cohort account moves.
    assert list(trend["grr"].iloc[2:]) == [1, 1]


def test_a_period_with_no_arr_has_no_ratio_rather_than_a_made_up_one():
    empty = pd.DataFrame(columns=["account_id", "product_id", "month", "amount"])
    total = retention_summary(account_changes(arr_positions(empty, YEAR_2025))).loc["All"]
    assert total["arr_start"] == 0
    assert pd.isna(total["grr"])
    assert pd.isna(total["nrr"])
