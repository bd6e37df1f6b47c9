"""The health score as pure functions over pandas frames: no database, no clock.

``score_accounts(inputs, definition)`` takes one row per account (the aggregates of
``health.metrics.health_inputs``) and one configuration version, and returns each account's
score, band, halves and per-measure raw value, points, weight and contribution. The same inputs
and definition always give the same result.

How a score is made (DOMAIN.md §7):

1. Each measure turns its raw value into 0-100 points through the thresholds of the definition
   (``[[bound, points], ...]``, best first; the first bound the raw value reaches wins, else
   ``else_points``). A measure with no data (NaN raw value) is *missing*.
2. Each half (CSM actions, customer actions) is the weighted mean of its measures' points over
   the measures that have data: the weights are renormalised, never filled with a guess.
3. The score is the weighted mean of the halves that have data (60 / 40 by default), rounded
   half up; a measure's *contribution* is its points times its effective weight, and the
   contributions add up to the score.
4. The band comes from the score and the thresholds of the account's segment (or the default).

Success-plan milestones on track come from ``successplans.services``; an account without a
plan has no such measure (left out, the other weights renormalised).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

CSM, CUSTOMER = "csm", "customer"
HALF_LABELS = {CSM: "CSM actions", CUSTOMER: "Customer actions"}
TOUCH_MODELS = ("high", "low", "tech")
RAW_CAP_DAYS = 365  # "days since" measures look back a year; longer reads as 365+
BANDS = ("green", "yellow", "red")

DEFAULT_DEFINITION: dict = {
    "halves": {CSM: 60, CUSTOMER: 40},
    "cadence_days": {"high": 14, "low": 30, "tech": 90},
    "measures": {
        # Points by days since the touch as a multiple of the segment's cadence.
        "last_touch": {"weight": 25, "thresholds": [[1, 100], [1.5, 70], [2, 40], [3, 15]], "else_points": 0},
        "review": {"weight": 15, "thresholds": [[92, 100], [120, 50]], "else_points": 0},
        "coverage": {"weight": 15, "thresholds": [[100, 100], [75, 75], [50, 50], [25, 25]], "else_points": 0},
        "sponsor": {"weight": 15, "thresholds": [[90, 100], [180, 50]], "else_points": 0},
        # Percent of the success plan's due milestones that are done.
        "milestones": {"weight": 15, "thresholds": [[90, 100], [75, 70], [50, 40]], "else_points": 10},
        "pulse": {"weight": 15, "thresholds": [[1, 100], [0, 60]], "else_points": 10},
        "licence_utilisation": {
            "weight": 20,
            "thresholds": [[80, 100], [60, 75], [40, 50], [20, 25]],
            "else_points": 0,
        },
        "feature_breadth": {"weight": 15, "thresholds": [[60, 100], [40, 70], [20, 40]], "else_points": 10},
        "usage_trend": {"weight": 20, "thresholds": [[10, 100], [0, 80], [-10, 60], [-25, 30]], "else_points": 0},
        "nps": {"weight": 15, "thresholds": [[9, 100], [7, 60], [5, 30]], "else_points": 0},
        "support_load": {
            "weight": 10,
            "window_days": 30,
            "thresholds": [[1, 100], [3, 70], [6, 40], [10, 20]],
            "else_points": 0,
        },
        "overdue_invoices": {"weight": 10, "thresholds": [[0, 100], [1, 40]], "else_points": 0},
        "marketing": {"weight": 10, "thresholds": [[20, 100], [10, 70], [3, 40], [0, 20]], "else_points": 0},
    },
    "bands": {"green": 70, "yellow": 40, "by_segment": {}},
}


# --- Measures ------------------------------------------------------------------------------


def _has_csm(inputs: pd.DataFrame) -> pd.Series:
    """Tech-touch accounts have no CSM: the CSM-work measures do not apply (missing)."""
    return inputs["touch_model"].fillna("low") != "tech"


def _days_capped(values: pd.Series, inputs: pd.DataFrame) -> pd.Series:
    return values.fillna(RAW_CAP_DAYS).clip(upper=RAW_CAP_DAYS).where(_has_csm(inputs))


def raw_last_touch(inputs: pd.DataFrame, definition: dict) -> pd.Series:
    """Days since the last meaningful touch (call, meeting, QBR, EBR, on-site)."""
    return _days_capped(inputs["last_touch_days"], inputs)


def raw_review(inputs: pd.DataFrame, definition: dict) -> pd.Series:
    """Days since the last impact review (QBR or EBR)."""
    return _days_capped(inputs["last_review_days"], inputs)


def raw_coverage(inputs: pd.DataFrame, definition: dict) -> pd.Series:
    """Percent of the coverage criteria met in the last 90 days: two or more contacts engaged,
    at two or more levels, an active champion, and for high touch 3x3 (three of our people with
    three of theirs)."""
    criteria = [
        inputs["contacts_engaged_90d"] >= 2,
        inputs["levels_engaged_90d"] >= 2,
        inputs["champions"] >= 1,
    ]
    met = sum(criterion.astype(int) for criterion in criteria)
    high = inputs["touch_model"] == "high"
    three_by_three = (inputs["team_engaged_90d"] >= 3) & (inputs["contacts_engaged_90d"] >= 3)
    met = met + (high & three_by_three).astype(int)
    total = np.where(high, 4, 3)
    return (100 * met / total).round(1).where(_has_csm(inputs))


def raw_sponsor(inputs: pd.DataFrame, definition: dict) -> pd.Series:
    """Days since an active executive sponsor took part in an activity (365 when none)."""
    return _days_capped(inputs["sponsor_engaged_days"], inputs)


def raw_milestones(inputs: pd.DataFrame, definition: dict) -> pd.Series:
    """Percent of the joint impact plan's due milestones that are done (100 when none is due
    yet); missing for an account without a plan, and for tech touch like every CSM measure."""
    if "milestones_on_track" not in inputs:
        return pd.Series(np.nan, index=inputs.index)
    return (100 * inputs["milestones_on_track"].astype(float)).round(1).where(_has_csm(inputs))


def raw_pulse(inputs: pd.DataFrame, definition: dict) -> pd.Series:
    """The CSM's unexpired sentiment: 1 positive, 0 neutral, -1 negative; missing when none."""
    return inputs["pulse"].astype(float)


def raw_licence_utilisation(inputs: pd.DataFrame, definition: dict) -> pd.Series:
    """Average active users over average licensed seats in the last 30 days, in percent."""
    seats = inputs["seats_avg_30"].where(inputs["seats_avg_30"] > 0)
    return (100 * inputs["active_avg_30"] / seats).round(1)


def raw_feature_breadth(inputs: pd.DataFrame, definition: dict) -> pd.Series:
    """Percent of the tracked features used at least once in the last 30 days."""
    tracked = inputs["tracked_features"].where(inputs["tracked_features"] > 0)
    used = inputs["features_used_30"].where(inputs["usage_days_30"] > 0)
    return (100 * used / tracked).round(1)


def raw_usage_trend(inputs: pd.DataFrame, definition: dict) -> pd.Series:
    """Change of average daily active users, last 30 days against the 30 before, in percent."""
    prior = inputs["active_avg_prior_30"].where(inputs["active_avg_prior_30"] > 0)
    return (100 * (inputs["active_avg_30"] - prior) / prior).round(1)


def raw_nps(inputs: pd.DataFrame, definition: dict) -> pd.Series:
    """The latest NPS answer (0-10) in the last year."""
    return inputs["nps_latest"].astype(float)


def raw_support_load(inputs: pd.DataFrame, definition: dict) -> pd.Series:
    """Support tickets opened in the measure's window (``window_days``, 30 by default)."""
    return inputs["tickets_window"].astype(float)


def raw_overdue_invoices(inputs: pd.DataFrame, definition: dict) -> pd.Series:
    """Invoices past their due date and unpaid; missing for an account with no invoice."""
    return inputs["invoices_overdue"].astype(float).where(inputs["invoices_total"] > 0)


def raw_marketing(inputs: pd.DataFrame, definition: dict) -> pd.Series:
    """Opens + 2 x clicks - 5 x bounces - 10 x opt-outs over 90 days; missing with no data."""
    value = inputs["opens"] + 2 * inputs["clicks"] - 5 * inputs["bounces"] - 10 * inputs["opt_outs"]
    return value.astype(float).where(inputs["marketing_rows_90d"] > 0)


@dataclass(frozen=True)
class Measure:
    key: str
    half: str
    label: str
    higher_is_better: bool
    unit: str  # how the card prints the raw value: "days", "%", "" ...
    raw: Callable[[pd.DataFrame, dict], pd.Series]


MEASURES: tuple[Measure, ...] = (
    Measure("last_touch", CSM, "Last meaningful touch", False, "days", raw_last_touch),
    Measure("review", CSM, "Impact review / QBR", False, "days", raw_review),
    Measure("coverage", CSM, "Contact coverage", True, "%", raw_coverage),
    Measure("sponsor", CSM, "Executive sponsor engaged", False, "days", raw_sponsor),
    Measure("milestones", CSM, "Success-plan milestones on track", True, "%", raw_milestones),
    Measure("pulse", CSM, "CSM pulse", True, "sentiment", raw_pulse),
    Measure("licence_utilisation", CUSTOMER, "Licence utilisation", True, "%", raw_licence_utilisation),
    Measure("feature_breadth", CUSTOMER, "Feature adoption breadth", True, "%", raw_feature_breadth),
    Measure("usage_trend", CUSTOMER, "Usage trend (30 d vs prior 30 d)", True, "%", raw_usage_trend),
    Measure("nps", CUSTOMER, "Latest NPS", True, "", raw_nps),
    Measure("support_load", CUSTOMER, "Support load", False, "tickets", raw_support_load),
    Measure("overdue_invoices", CUSTOMER, "Overdue invoices", False, "invoices", raw_overdue_invoices),
    Measure("marketing", CUSTOMER, "Marketing engagement", True, "", raw_marketing),
)
MEASURES_BY_KEY = {measure.key: measure for measure in MEASURES}


def points_from_thresholds(raw: pd.Series, spec: dict, *, higher_is_better: bool) -> pd.Series:
    """0-100 points for each raw value: the points of the first threshold reached, else
    ``else_points``. Higher-is-better thresholds are "raw >= bound", lower-is-better ones
    "raw <= bound"; both are listed best first. NaN stays NaN (missing)."""
    values = raw.to_numpy(dtype=float)
    conditions = [values >= bound if higher_is_better else values <= bound for bound, _ in spec["thresholds"]]
    points = np.select(conditions, [float(p) for _, p in spec["thresholds"]], default=float(spec["else_points"]))
    return pd.Series(np.where(np.isnan(values), np.nan, points), index=raw.index)


def measure_points(measure: Measure, raw: pd.Series, inputs: pd.DataFrame, definition: dict) -> pd.Series:
    spec = definition["measures"][measure.key]
    if measure.key == "last_touch":
        # Compared with the account's own cadence: 20 days is fine for low touch, late for high.
        cadence = inputs["touch_model"].fillna("low").map(definition["cadence_days"]).astype(float)
        return points_from_thresholds(raw / cadence, spec, higher_is_better=False)
    return points_from_thresholds(raw, spec, higher_is_better=measure.higher_is_better)


def enabled_measures(definition: dict) -> list[Measure]:
    """The measures the definition scores (weight above 0), in display order."""
    return [m for m in MEASURES if definition["measures"].get(m.key, {}).get("weight", 0) > 0]


# --- The score -----------------------------------------------------------------------------


def measure_raws(inputs: pd.DataFrame, definition: dict) -> pd.DataFrame:
    """Each enabled measure's raw value (column ``key:raw``), NaN when it has no data."""
    return pd.DataFrame(
        {f"{m.key}:raw": m.raw(inputs, definition).astype(float) for m in enabled_measures(definition)},
        index=inputs.index,
    )


def score_accounts(inputs: pd.DataFrame, definition: dict) -> pd.DataFrame:
    """Score every row of ``inputs`` (indexed by account id). Columns of the result: ``score``,
    ``band``, ``csm_score``, ``customer_score`` (NaN / "" when nothing had data),
    ``touch_model`` and, for each enabled measure ``key``: ``key:raw``, ``key:points``,
    ``key:weight`` (effective percent of the score, 0 when missing) and ``key:contribution``
    (points x weight / 100)."""
    return score_raws(measure_raws(inputs, definition), inputs[["touch_model", "segment_id"]], definition)


def score_raws(raws: pd.DataFrame, accounts: pd.DataFrame, definition: dict) -> pd.DataFrame:
    """The score from the measures' raw values (``key:raw`` columns, rounded as stored) and each
    account's ``touch_model`` and ``segment_id``: what ``score_accounts`` does after the raw
    values, and what the card replays from a stored breakdown."""
    measures = enabled_measures(definition)
    index = raws.index
    result = pd.DataFrame(index=index)
    halves: dict[str, pd.Series] = {}
    weights: dict[str, pd.Series] = {}  # within the half, renormalised, 0..1
    for half in (CSM, CUSTOMER):
        in_half = [m for m in measures if m.half == half]
        total = pd.Series(0.0, index=index)
        weighted = pd.Series(0.0, index=index)
        for measure in in_half:
            raw = raws[f"{measure.key}:raw"].astype(float)
            points = measure_points(measure, raw, accounts, definition)
            result[f"{measure.key}:raw"] = raw
            result[f"{measure.key}:points"] = points
            weight = np.where(points.notna(), float(definition["measures"][measure.key]["weight"]), 0.0)
            weights[measure.key] = pd.Series(weight, index=index)
            total += weight
            weighted += points.fillna(0) * weight
        safe_total = total.where(total > 0)
        halves[half] = weighted / safe_total
        for measure in in_half:
            weights[measure.key] = weights[measure.key] / safe_total
    half_weight = {half: float(definition["halves"][half]) for half in halves}
    present_total = sum(np.where(halves[h].notna(), half_weight[h], 0.0) for h in halves)
    present_total = pd.Series(present_total, index=index).where(lambda s: s > 0)
    score = sum(halves[h].fillna(0) * np.where(halves[h].notna(), half_weight[h], 0.0) for h in halves) / present_total
    for measure in measures:
        share = weights[measure.key].fillna(0) * half_weight[measure.half] / present_total
        result[f"{measure.key}:weight"] = (100 * share).fillna(0).round(1)
        result[f"{measure.key}:contribution"] = (result[f"{measure.key}:points"] * share).fillna(0).round(1)
    result["csm_score"] = _round_half_up(halves[CSM])
    result["customer_score"] = _round_half_up(halves[CUSTOMER])
    result["score"] = _round_half_up(score)
    result["band"] = bands_of(result["score"], accounts["segment_id"], definition)
    result["touch_model"] = accounts["touch_model"]
    return result


def _round_half_up(values: pd.Series) -> pd.Series:
    return np.floor(values + 0.5)


def band_thresholds(definition: dict, segment_id: int | None) -> dict:
    """The green / yellow thresholds of a segment (its own, else the default)."""
    own = definition["bands"].get("by_segment", {}).get(str(segment_id)) if segment_id is not None else None
    return own or {"green": definition["bands"]["green"], "yellow": definition["bands"]["yellow"]}


def bands_of(scores: pd.Series, segment_ids: pd.Series, definition: dict) -> pd.Series:
    """red / yellow / green from each account's segment thresholds (or the default); "" for no score."""
    bands = definition["bands"]
    green = pd.Series(float(bands["green"]), index=scores.index)
    yellow = pd.Series(float(bands["yellow"]), index=scores.index)
    for segment_id, own in bands.get("by_segment", {}).items():
        mine = segment_ids.astype("Float64").eq(float(segment_id)).fillna(False).to_numpy(dtype=bool)
        green[mine] = float(own["green"])
        yellow[mine] = float(own["yellow"])
    band = np.select([scores >= green, scores >= yellow, scores.notna()], ["green", "yellow", "red"], default="")
    return pd.Series(band, index=scores.index)


def breakdown_json(result: pd.DataFrame, definition: dict) -> str:
    """Each account's stored breakdown as JSON lines (one per row of ``result``, in order): the
    account's ``touch_model`` and each enabled measure's raw value (``"<key>:raw"``, one
    decimal, ``null`` when it had no data). Points, weights and contributions are not stored:
    they follow from the raw values and the configuration version (``breakdown_parse`` replays
    them), so the text is short. pandas writes it in C: no Python loop over the accounts."""
    columns = [f"{m.key}:raw" for m in enabled_measures(definition)]
    frame = result[columns].astype(float).round(1)
    frame.insert(0, "touch_model", result["touch_model"].astype(object).where(result["touch_model"].notna(), None))
    if frame.empty:
        return ""
    return frame.to_json(orient="records", lines=True, double_precision=1)


SCORE_COLUMNS = ("score", "band", "csm_score", "customer_score")


def scores_copy_text(result: pd.DataFrame, breakdowns: list[str]) -> str:
    """``result``'s accounts in PostgreSQL's COPY text format, one line each: account id, score,
    band, CSM half, customer half (``\\N`` for no score) and the breakdown (a line of
    ``breakdown_json``). Typed columns travel as text, so the database parses only the
    breakdown as JSON. Columns become lists first and one f-string makes each line: four
    times faster than pandas' string methods column by column (0.06 s for 88,000 accounts)."""
    columns: list[list] = [result.index.tolist()]
    for column in SCORE_COLUMNS:
        if column == "band":
            columns.append(result[column].tolist())
        else:  # floats (NaN for no score) whatever the frame held, pandas' NA included
            columns.append(["\\N" if v != v else str(int(v)) for v in result[column].astype(float).tolist()])
    # COPY's text format reads a backslash as an escape; JSON has one only inside a string.
    columns.append([document.replace("\\", "\\\\") for document in breakdowns])
    return "".join(
        f"{account}\t{score}\t{band}\t{csm}\t{customer}\t{document}\n"
        for account, score, band, csm, customer, document in zip(*columns, strict=True)
    )


BREAKDOWN_PARTS = ("raw", "points", "weight", "contribution")


def _replayed(breakdown: dict, definition: dict) -> dict:
    """The full breakdown (``key:raw``, ``key:points``, ``key:weight``, ``key:contribution``)
    of one stored breakdown, scored again with its version's ``definition``: the arithmetic of
    ``score_raws`` for one account in plain Python (the same operations in the same order, and
    numpy's rounding), so a page pays microseconds, not pandas' per-call overhead. A test checks
    it against ``score_raws`` on random breakdowns."""
    touch = breakdown.get("touch_model") or "low"
    cadence = definition["cadence_days"].get(touch)
    measures = enabled_measures(definition)
    out: dict[str, float | None] = {}
    points_of: dict[str, float] = {}
    weight_of: dict[str, float] = {}  # within the half, renormalised, 0..1 (nan: half empty)
    halves: dict[str, float] = {}
    for half in (CSM, CUSTOMER):
        in_half = [m for m in measures if m.half == half]
        total = weighted = 0.0
        for measure in in_half:
            raw = _as_float(breakdown.get(f"{measure.key}:raw"))
            spec = definition["measures"][measure.key]
            value = raw
            if measure.key == "last_touch":
                value = raw / float(cadence) if cadence is not None else NAN
            points = _points_one(value, spec, higher_is_better=measure.higher_is_better)
            points_of[measure.key] = points
            out[f"{measure.key}:raw"] = None if raw != raw else raw
            out[f"{measure.key}:points"] = None if points != points else points
            weight = float(spec["weight"]) if points == points else 0.0
            weight_of[measure.key] = weight
            total += weight
            weighted += (0.0 if points != points else points) * weight
        halves[half] = weighted / total if total > 0 else NAN
        for measure in in_half:
            weight_of[measure.key] = weight_of[measure.key] / total if total > 0 else NAN
    half_weight = {half: float(definition["halves"][half]) for half in halves}
    present_total = sum(half_weight[h] if halves[h] == halves[h] else 0.0 for h in halves)
    present_total = present_total if present_total > 0 else NAN
    for measure in measures:
        within = weight_of[measure.key]
        share = (0.0 if within != within else within) * half_weight[measure.half] / present_total
        weight = 100 * share
        contribution = points_of[measure.key] * share
        out[f"{measure.key}:weight"] = float(np.round(weight, 1)) if weight == weight else 0.0
        out[f"{measure.key}:contribution"] = float(np.round(contribution, 1)) if contribution == contribution else 0.0
    return out


NAN = float("nan")


def _points_one(value: float, spec: dict, *, higher_is_better: bool) -> float:
    """``points_from_thresholds`` for one raw value."""
    if value != value:
        return NAN
    for bound, points in spec["thresholds"]:
        if (value >= bound) if higher_is_better else (value <= bound):
            return float(points)
    return float(spec["else_points"])


def breakdowns_replay(breakdowns: list[dict], definition: dict) -> list[dict]:
    """``_replayed`` for several stored breakdowns of one configuration version in one pass:
    a page that shows a score and the ones it compares with pays pandas' overhead once."""
    measures = enabled_measures(definition)
    raws = pd.DataFrame(
        {f"{m.key}:raw": [_as_float(breakdown.get(f"{m.key}:raw")) for breakdown in breakdowns] for m in measures}
    )
    accounts = pd.DataFrame(
        {"touch_model": [breakdown.get("touch_model") for breakdown in breakdowns], "segment_id": None}
    )
    accounts["segment_id"] = accounts["segment_id"].astype("Float64")
    scored = score_raws(raws, accounts, definition)
    return [
        {key: (None if value != value else value) for key, value in row.items() if ":" in key}
        for row in scored.to_dict("records")
    ]


def breakdown_is_full(breakdown: dict | None) -> bool:
    """True for a breakdown with every part (round 1's stored form, or one already replayed)."""
    return any(key.endswith(":points") for key in breakdown or {})


def _as_float(value) -> float:
    return float("nan") if value is None else float(value)


def breakdown_parse(breakdown: dict | str | None, definition: dict) -> list[dict]:
    """The stored breakdown as rows for the card, in display order: key, half, label, unit,
    raw, points, weight, contribution, missing. Reads both the stored form (raw values, replayed
    with ``definition``) and round 1's full form (every part stored)."""
    if isinstance(breakdown, str):
        breakdown = json.loads(breakdown)
    breakdown = breakdown or {}
    if not any(key.endswith(":points") for key in breakdown):
        breakdown = _replayed(breakdown, definition)
    rows = []
    for measure in enabled_measures(definition):
        raw, points, weight, contribution = (breakdown.get(f"{measure.key}:{part}") for part in BREAKDOWN_PARTS)
        cell = raw is not None
        weight, contribution = weight or 0, contribution or 0
        rows.append(
            {
                "key": measure.key,
                "half": measure.half,
                "half_label": HALF_LABELS[measure.half],
                "label": measure.label,
                "unit": measure.unit,
                "raw": raw,
                "points": points,
                "weight": weight,
                "contribution": contribution,
                "missing": not cell,
                "lost": round(weight - contribution, 1) if cell else 0,  # points of score it costs
            }
        )
    return rows


def breakdown_contributions(breakdown: dict | None, definition: dict) -> dict[str, float | None]:
    """Each measure's contribution (points of score) of a stored breakdown, ``None`` when it had
    no data: what "why it changed" compares. Round 1's snapshots stored exactly this map."""
    breakdown = breakdown or {}
    if breakdown and not any(":" in key for key in breakdown):
        return breakdown
    return {
        row["key"]: None if row["missing"] else row["contribution"] for row in breakdown_parse(breakdown, definition)
    }


# --- Validation of a definition ----------------------------------------------------------------


def definition_errors(definition: dict) -> dict[str, str]:
    """Problems of a definition, by field name (``halves``, ``<measure>.weight``,
    ``<measure>.thresholds``, ``bands``...); empty when it can be published."""
    errors: dict[str, str] = {}
    halves = definition.get("halves", {})
    if set(halves) != {CSM, CUSTOMER} or any(not _is_number(v) or v < 0 for v in halves.values()):
        errors["halves"] = "Give both halves a weight of 0 or more."
    elif sum(halves.values()) != 100:
        errors["halves"] = f"The halves' weights must add up to 100 (they add up to {sum(halves.values()):g})."
    cadence = definition.get("cadence_days", {})
    for touch in TOUCH_MODELS:
        if not _is_number(cadence.get(touch)) or cadence[touch] <= 0:
            errors[f"cadence_days.{touch}"] = "The touch cadence must be a number of days above 0."
    measures = definition.get("measures", {})
    for half in (CSM, CUSTOMER):
        keys = [m.key for m in MEASURES if m.half == half]
        weights = [measures.get(key, {}).get("weight", 0) for key in keys]
        if any(not _is_number(w) or w < 0 for w in weights):
            errors[f"{half}.weights"] = "Measure weights must be 0 or more."
        elif halves.get(half) and sum(weights) != 100:
            errors[f"{half}.weights"] = (
                f"The {HALF_LABELS[half]} measures' weights must add up to 100 (they add up to {sum(weights):g})."
            )
    for measure in MEASURES:
        spec = measures.get(measure.key)
        if spec is None:
            continue
        problem = _thresholds_problem(spec, higher_is_better=measure.higher_is_better)
        if problem:
            errors[f"{measure.key}.thresholds"] = problem
    bands = definition.get("bands", {})
    for name, own in {"bands": bands, **{f"bands.{k}": v for k, v in bands.get("by_segment", {}).items()}}.items():
        green, yellow = own.get("green"), own.get("yellow")
        if not (_is_number(green) and _is_number(yellow) and 0 <= yellow < green <= 100):
            errors[name] = "Band thresholds must satisfy 0 <= yellow < green <= 100."
    return errors


def _thresholds_problem(spec: dict, *, higher_is_better: bool) -> str | None:
    thresholds = spec.get("thresholds", [])
    if not thresholds or any(len(step) != 2 or not all(_is_number(v) for v in step) for step in thresholds):
        return "Give at least one threshold, each a raw value and its points."
    bounds = [bound for bound, _ in thresholds]
    points = [p for _, p in thresholds] + [spec.get("else_points", 0)]
    if not all(_is_number(p) and 0 <= p <= 100 for p in points):
        return "Points must be between 0 and 100."
    ordered = all(a > b for a, b in itertools.pairwise(bounds))
    if not higher_is_better:
        ordered = all(a < b for a, b in itertools.pairwise(bounds))
    if not ordered:
        direction = "descending" if higher_is_better else "ascending"
        return f"Thresholds must be in strictly {direction} order of raw value, best first."
    if any(a < b for a, b in itertools.pairwise(points)):
        return "Points must not rise from one threshold to the next (best first)."
    return None


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value
