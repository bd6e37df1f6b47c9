"""The score as pure functions: each measure, the weighting, missing data and the bands."""

from __future__ import annotations

import copy
import json
import math
import random

import pandas as pd
import pytest

from health import scoring
from health.scoring import DEFAULT_DEFINITION, score_accounts

NAN = float("nan")


def inputs(rows: int = 1, **columns) -> pd.DataFrame:
    """Accounts with every input that makes a healthy low-touch account; override any column."""
    healthy = {
        "segment_id": 1,
        "touch_model": "low",
        "last_touch_days": 5.0,
        "last_review_days": 30.0,
        "contacts_engaged_90d": 3.0,
        "levels_engaged_90d": 2.0,
        "team_engaged_90d": 1.0,
        "champions": 1.0,
        "sponsor_engaged_days": 20.0,
        "pulse": 1.0,
        "milestones_on_track": 1.0,
        "usage_days_30": 30.0,
        "active_avg_30": 90.0,
        "seats_avg_30": 100.0,
        "active_avg_prior_30": 80.0,
        "features_used_30": 8.0,
        "tracked_features": 10.0,
        "nps_latest": 10.0,
        "tickets_window": 0.0,
        "invoices_total": 4.0,
        "invoices_overdue": 0.0,
        "marketing_rows_90d": 10.0,
        "opens": 20.0,
        "clicks": 5.0,
        "bounces": 0.0,
        "opt_outs": 0.0,
    }
    healthy.update(columns)
    frame = pd.DataFrame(
        {key: [value] * rows if not isinstance(value, list) else value for key, value in healthy.items()}
    )
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="account_id")
    frame["segment_id"] = frame["segment_id"].astype("Float64")
    return frame


def one(result: pd.DataFrame, column: str):
    return result[column].iloc[0]


def test_a_healthy_account_scores_100_green_and_the_contributions_add_up_to_the_score():
    result = score_accounts(inputs(), DEFAULT_DEFINITION)

    assert one(result, "score") == 100
    assert one(result, "band") == "green"
    contributions = sum(one(result, f"{m.key}:contribution") for m in scoring.MEASURES)
    assert math.isclose(contributions, 100, abs_tol=0.5)
    weights = sum(one(result, f"{m.key}:weight") for m in scoring.MEASURES)
    assert math.isclose(weights, 100, abs_tol=0.5)


def test_the_halves_weigh_60_csm_and_40_customer_by_default():
    # Every CSM measure perfect, every customer measure at 0 points: 60.
    result = score_accounts(
        inputs(
            active_avg_30=0.0,
            active_avg_prior_30=50.0,
            features_used_30=0.0,
            nps_latest=0.0,
            tickets_window=30.0,
            invoices_overdue=3.0,
            opens=0.0,
            clicks=0.0,
            bounces=5.0,
        ),
        {
            **DEFAULT_DEFINITION,
            "measures": {
                **DEFAULT_DEFINITION["measures"],
                "feature_breadth": {"weight": 15, "thresholds": [[60, 100]], "else_points": 0},
            },
        },
    )
    assert (one(result, "csm_score"), one(result, "customer_score"), one(result, "score")) == (100, 0, 60)


# --- each measure --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("touch_model", "days", "points"),
    [("low", 30, 100), ("low", 45, 70), ("low", 60, 40), ("low", 90, 15), ("low", 91, 0), ("high", 20, 70)],
)
def test_last_touch_is_judged_against_the_segments_cadence(touch_model, days, points):
    result = score_accounts(inputs(touch_model=touch_model, last_touch_days=float(days)), DEFAULT_DEFINITION)
    assert one(result, "last_touch:raw") == days
    assert one(result, "last_touch:points") == points


def test_no_touch_in_a_year_counts_as_365_days_and_scores_0():
    result = score_accounts(inputs(last_touch_days=NAN), DEFAULT_DEFINITION)
    assert (one(result, "last_touch:raw"), one(result, "last_touch:points")) == (365, 0)


def test_csm_measures_do_not_apply_to_tech_touch_so_the_customer_half_carries_the_score():
    result = score_accounts(inputs(touch_model="tech", pulse=NAN), DEFAULT_DEFINITION)
    for key in ("last_touch", "review", "coverage", "sponsor", "pulse"):
        assert pd.isna(one(result, f"{key}:points")), key
        assert one(result, f"{key}:weight") == 0
    assert pd.isna(one(result, "csm_score"))
    assert one(result, "score") == one(result, "customer_score")


@pytest.mark.parametrize(("days", "points"), [(60, 100), (92, 100), (100, 50), (200, 0), (NAN, 0)])
def test_review_wants_a_qbr_or_ebr_within_the_last_quarter(days, points):
    result = score_accounts(inputs(last_review_days=days), DEFAULT_DEFINITION)
    assert one(result, "review:points") == points


def test_coverage_counts_contacts_levels_and_champion_and_3x3_only_for_high_touch():
    low = score_accounts(inputs(contacts_engaged_90d=1.0, levels_engaged_90d=1.0, champions=1.0), DEFAULT_DEFINITION)
    assert one(low, "coverage:raw") == pytest.approx(33.3)
    assert one(low, "coverage:points") == 25
    high_without_3x3 = score_accounts(inputs(touch_model="high", team_engaged_90d=1.0), DEFAULT_DEFINITION)
    assert one(high_without_3x3, "coverage:raw") == 75
    high_with_3x3 = score_accounts(inputs(touch_model="high", team_engaged_90d=3.0), DEFAULT_DEFINITION)
    assert one(high_with_3x3, "coverage:raw") == 100


@pytest.mark.parametrize(("days", "points"), [(30, 100), (150, 50), (NAN, 0)])
def test_executive_sponsor_engaged_recently(days, points):
    result = score_accounts(inputs(sponsor_engaged_days=days), DEFAULT_DEFINITION)
    assert one(result, "sponsor:points") == points


@pytest.mark.parametrize(("pulse", "points"), [(1.0, 100), (0.0, 60), (-1.0, 10)])
def test_pulse_sentiment_scores_and_no_pulse_is_missing_not_neutral(pulse, points):
    assert one(score_accounts(inputs(pulse=pulse), DEFAULT_DEFINITION), "pulse:points") == points
    missing = score_accounts(inputs(pulse=NAN), DEFAULT_DEFINITION)
    assert pd.isna(one(missing, "pulse:points"))
    assert one(missing, "pulse:weight") == 0


@pytest.mark.parametrize(("active", "seats", "points"), [(85, 100, 100), (65, 100, 75), (10, 100, 0), (5, 0, None)])
def test_licence_utilisation(active, seats, points):
    result = score_accounts(inputs(active_avg_30=float(active), seats_avg_30=float(seats)), DEFAULT_DEFINITION)
    value = one(result, "licence_utilisation:points")
    assert pd.isna(value) if points is None else value == points


def test_feature_breadth_is_missing_without_usage_or_tracked_features():
    assert one(score_accounts(inputs(features_used_30=5.0), DEFAULT_DEFINITION), "feature_breadth:raw") == 50
    assert one(score_accounts(inputs(features_used_30=5.0), DEFAULT_DEFINITION), "feature_breadth:points") == 70
    assert pd.isna(one(score_accounts(inputs(usage_days_30=0.0), DEFAULT_DEFINITION), "feature_breadth:points"))
    assert pd.isna(one(score_accounts(inputs(tracked_features=0.0), DEFAULT_DEFINITION), "feature_breadth:points"))


@pytest.mark.parametrize(
    ("recent", "prior", "raw", "points"),
    [(110, 100, 10, 100), (95, 100, -5, 60), (50, 100, -50, 0), (50, NAN, None, None)],
)
def test_usage_trend_compares_the_last_30_days_with_the_30_before(recent, prior, raw, points):
    result = score_accounts(inputs(active_avg_30=float(recent), active_avg_prior_30=prior), DEFAULT_DEFINITION)
    if raw is None:
        assert pd.isna(one(result, "usage_trend:raw"))
    else:
        assert (one(result, "usage_trend:raw"), one(result, "usage_trend:points")) == (raw, points)


@pytest.mark.parametrize(("nps", "points"), [(10.0, 100), (8.0, 60), (6.0, 30), (2.0, 0)])
def test_latest_nps(nps, points):
    assert one(score_accounts(inputs(nps_latest=nps), DEFAULT_DEFINITION), "nps:points") == points


@pytest.mark.parametrize(("tickets", "points"), [(0, 100), (3, 70), (8, 20), (20, 0)])
def test_support_load_counts_tickets_in_the_window(tickets, points):
    assert (
        one(score_accounts(inputs(tickets_window=float(tickets)), DEFAULT_DEFINITION), "support_load:points") == points
    )


def test_overdue_invoices_and_no_invoice_at_all_is_missing():
    assert one(score_accounts(inputs(invoices_overdue=1.0), DEFAULT_DEFINITION), "overdue_invoices:points") == 40
    assert one(score_accounts(inputs(invoices_overdue=2.0), DEFAULT_DEFINITION), "overdue_invoices:points") == 0
    missing = score_accounts(inputs(invoices_total=0.0, invoices_overdue=0.0), DEFAULT_DEFINITION)
    assert pd.isna(one(missing, "overdue_invoices:points"))


def test_marketing_engagement_is_penalised_by_bounces_and_opt_outs():
    assert one(score_accounts(inputs(), DEFAULT_DEFINITION), "marketing:raw") == 30
    result = score_accounts(inputs(opt_outs=1.0, bounces=2.0), DEFAULT_DEFINITION)
    assert one(result, "marketing:raw") == 10
    assert one(result, "marketing:points") == 70
    assert pd.isna(one(score_accounts(inputs(marketing_rows_90d=0.0), DEFAULT_DEFINITION), "marketing:points"))


# --- weighting with missing data -------------------------------------------------------------


def test_a_missing_measure_is_left_out_and_the_others_weights_renormalised():
    # NPS missing; a bad usage trend (0 points) should weigh 20/85 of the customer half, not 20/100.
    result = score_accounts(
        inputs(nps_latest=NAN, active_avg_30=10.0, active_avg_prior_30=100.0, seats_avg_30=10.0), DEFAULT_DEFINITION
    )
    assert pd.isna(one(result, "nps:points"))
    assert one(result, "nps:contribution") == 0
    assert one(result, "customer_score") == round(100 * 65 / 85)
    assert one(result, "usage_trend:weight") == pytest.approx(40 * 20 / 85, abs=0.05)


def test_an_account_with_no_data_at_all_has_no_score_and_no_band():
    nothing = {
        "touch_model": "tech",
        "pulse": NAN,
        "usage_days_30": 0.0,
        "active_avg_30": NAN,
        "seats_avg_30": NAN,
        "active_avg_prior_30": NAN,
        "nps_latest": NAN,
        "invoices_total": 0.0,
        "marketing_rows_90d": 0.0,
    }
    definition = copy.deepcopy(DEFAULT_DEFINITION)
    definition["measures"]["support_load"]["weight"] = 0
    definition["measures"]["usage_trend"]["weight"] = 35
    result = score_accounts(inputs(**nothing), definition)
    assert pd.isna(one(result, "score"))
    assert one(result, "band") == ""


def test_bands_follow_the_segments_own_thresholds_when_set():
    definition = copy.deepcopy(DEFAULT_DEFINITION)
    definition["bands"]["by_segment"] = {"2": {"green": 99, "yellow": 80}}
    frame = inputs(2, segment_id=[1, 2], nps_latest=8.0)  # NPS costs 40% x 15% x 40 points: 98
    result = score_accounts(frame, definition)
    assert result["score"].tolist() == [98, 98]
    assert result["band"].tolist() == ["green", "yellow"]


def test_the_same_inputs_and_definition_give_the_same_result():
    frame = inputs(3, nps_latest=[3.0, 8.0, NAN], pulse=[-1.0, NAN, 0.0])
    pd.testing.assert_frame_equal(score_accounts(frame, DEFAULT_DEFINITION), score_accounts(frame, DEFAULT_DEFINITION))


def test_the_stored_breakdown_keeps_raw_values_and_replays_every_part_of_the_card():
    result = score_accounts(inputs(pulse=NAN), DEFAULT_DEFINITION)
    breakdown = json.loads(scoring.breakdown_json(result, DEFAULT_DEFINITION).splitlines()[0])
    assert set(breakdown) == {"touch_model"} | {f"{m.key}:raw" for m in scoring.MEASURES}
    assert (breakdown["pulse:raw"], breakdown["nps:raw"], breakdown["touch_model"]) == (None, 10, "low")

    rows = {row["key"]: row for row in scoring.breakdown_parse(breakdown, DEFAULT_DEFINITION)}
    assert [key for key, row in rows.items() if row["missing"]] == ["pulse"]
    assert (rows["pulse"]["weight"], rows["pulse"]["points"]) == (0, None)
    for measure in scoring.MEASURES:  # replayed exactly as the recompute scored it
        for part in ("points", "weight", "contribution"):
            expected = one(result, f"{measure.key}:{part}")
            got = rows[measure.key][part]
            assert (got is None and expected != expected) or got == pytest.approx(expected)
    contributions = scoring.breakdown_contributions(breakdown, DEFAULT_DEFINITION)
    assert contributions["pulse"] is None
    assert contributions["nps"] == pytest.approx(one(result, "nps:contribution"))


def test_the_cards_plain_python_replay_equals_the_recompute_on_random_breakdowns():
    """The card replays one stored breakdown without pandas; every part must equal what the
    pandas recompute (``score_raws``) gives, for any mix of missing data and touch models."""
    rng = random.Random(7)
    other = copy.deepcopy(DEFAULT_DEFINITION)
    other["halves"] = {"csm": 0, "customer": 100}
    other["measures"]["nps"]["weight"] = 0
    other["measures"]["marketing"]["weight"] = 25
    breakdowns = []
    for _ in range(500):
        breakdown = {"touch_model": rng.choice(["high", "low", "tech", None])}
        for measure in scoring.MEASURES:
            draw = rng.random()
            value = round(rng.uniform(-50, 400), 1) if draw < 0.8 else float(rng.choice([0, 1, -1, 10, 90, 100]))
            breakdown[f"{measure.key}:raw"] = None if draw < 0.25 else value
        breakdowns.append(breakdown)
    for definition in (DEFAULT_DEFINITION, other):
        by_pandas = scoring.breakdowns_replay(breakdowns, definition)
        by_python = [scoring._replayed(breakdown, definition) for breakdown in breakdowns]
        assert by_python == by_pandas


def test_round_one_breakdowns_still_read():
    snapshot = {"nps": 12.5, "pulse": None}
    assert scoring.breakdown_contributions(snapshot, DEFAULT_DEFINITION) == snapshot
    full = {"nps:raw": 10, "nps:points": 100, "nps:weight": 15, "nps:contribution": 15}
    nps = next(row for row in scoring.breakdown_parse(full, DEFAULT_DEFINITION) if row["key"] == "nps")
    assert (nps["raw"], nps["contribution"]) == (10, 15)


# --- validation --------------------------------------------------------------------------


def test_the_default_definition_is_valid():
    assert scoring.definition_errors(DEFAULT_DEFINITION) == {}


def test_validation_names_the_field_weights_that_do_not_add_up_and_unordered_thresholds():
    definition = copy.deepcopy(DEFAULT_DEFINITION)
    definition["halves"] = {"csm": 70, "customer": 40}
    definition["measures"]["nps"]["weight"] = 50
    definition["measures"]["review"]["thresholds"] = [[120, 100], [92, 50]]
    definition["bands"]["yellow"] = 80
    errors = scoring.definition_errors(definition)
    assert "add up to 100 (they add up to 110)" in errors["halves"]
    assert "customer.weights" in errors
    assert "ascending" in errors["review.thresholds"]
    assert "yellow < green" in errors["bands"]


def test_the_copy_text_carries_missing_scores_as_null_and_the_breakdown_verbatim():
    result = pd.DataFrame(
        {
            "score": pd.array([55, None], dtype="Int64"),
            "band": ["yellow", ""],
            "csm_score": pd.array([60, None], dtype="Int64"),
            "customer_score": [float("nan"), float("nan")],
        },
        index=pd.Index([7, 8], name="account_id"),
    )
    breakdowns = ['{"touch_model":"low","nps:raw":9.0}', '{"touch_model":"a\\\\b","nps:raw":null}']
    lines = scoring.scores_copy_text(result, breakdowns).splitlines()
    assert lines[0].split("\t") == ["7", "55", "yellow", "60", "\\N", breakdowns[0]]
    # COPY reads "\\" as one backslash, so the stored JSON is the one pandas wrote.
    assert lines[1].split("\t") == ["8", "\\N", "", "\\N", "\\N", breakdowns[1].replace("\\", "\\\\")]
