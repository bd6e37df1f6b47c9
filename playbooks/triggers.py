"""Trigger conditions: each kind's parameters (``TRIGGER_PARAMS``, which the admin form is built
from) and, for each kind, one set-based query giving the accounts where the condition holds now
(``matching_account_ids``): one query per trigger whether the tenant has ten accounts or a
hundred thousand, never one per account.

A condition *holds* for a stretch of time (the band is red, the renewal is within 90 days, a
champion left within the last 30 days); the engine opens an episode when it starts holding and
clears it when it stops, so each kind is written as a state, not as an event. Churned accounts
never match, and a trigger limited to segments matches only accounts in them.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, F, FloatField, QuerySet, Window
from django.db.models.expressions import RawSQL
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, FirstValue, RowNumber

from accounts.models import Account, Activity, ContactEvent, LifecycleStage
from accounts.services import tenant_today
from csplatform.models import Tenant
from health.metrics import MEANINGFUL_TOUCHES
from health.models import HealthScore, HealthSnapshot, Invoice, SupportTicket, SurveyKind, SurveyResponse
from successplans.models import Handoff, HandoffStatus, Milestone, MilestoneStatus

from .models import Trigger, TriggerKind


@dataclass(frozen=True)
class Param:
    """One parameter of a trigger kind. ``choices`` makes it a pick-list of strings; otherwise
    it is a whole number between ``min`` and ``max``."""

    name: str
    label: str
    default: Any
    help: str = ""
    min: int | None = None
    max: int | None = None
    choices: tuple[tuple[str, str], ...] | None = None

    @property
    def type(self) -> type:
        return str if self.choices else int


BAND_CHOICES = (("red", "Red"), ("yellow", "Yellow"), ("green", "Green"))


def _days(default: int, label: str = "Days", *, help: str = "", min: int = 1, max: int = 730) -> Param:
    return Param("days", label, default, help=help, min=min, max=max)


# Per kind, its parameters in form order. Defaults follow DOMAIN.md and the health defaults.
TRIGGER_PARAMS: dict[str, tuple[Param, ...]] = {
    TriggerKind.BAND_ENTERED: (
        Param("band", "Band", "red", help="Fires when the account's health enters this band.", choices=BAND_CHOICES),
    ),
    TriggerKind.SCORE_DROPPED: (
        Param("points", "Points", 15, help="Fires when the score fell by at least this many points…", min=1, max=100),
        _days(14, "Within (days)", help="…compared with the score this many days ago.", max=365),
    ),
    TriggerKind.RENEWAL_DUE: (
        _days(90, "Days before renewal", help="Fires when the next renewal is at most this many days away…"),
        Param(
            "min_days",
            "But more than (days)",
            0,
            help="…and more than this many (0: any). Checkpoints at 180 and 90 days: 91-180 and 0-90.",
            min=0,
            max=729,
        ),
    ),
    TriggerKind.CHAMPION_CHANGED: (
        _days(
            30,
            "Recorded within (days)",
            help="Fires when a champion or executive sponsor left or changed role within this many days.",
            max=365,
        ),
    ),
    TriggerKind.NPS_DETRACTOR: (
        Param("max_score", "NPS score at most", 6, help="A detractor answers 0-6.", min=0, max=10),
        _days(
            90, "Answered within (days)", help="Only the account's latest NPS answer in this window counts.", max=365
        ),
    ),
    TriggerKind.NPS_PROMOTER: (
        Param("min_score", "NPS score at least", 9, help="A promoter answers 9 or 10.", min=0, max=10),
        _days(
            90, "Answered within (days)", help="Only the account's latest NPS answer in this window counts.", max=365
        ),
    ),
    TriggerKind.UTILISATION_LOW: (
        Param(
            "percent",
            "Utilisation below (%)",
            40,
            help="Average active users / licensed seats over the last 30 days (risk).",
            min=1,
            max=100,
        ),
    ),
    TriggerKind.UTILISATION_HIGH: (
        Param(
            "percent",
            "Utilisation at least (%)",
            90,
            help="Average active users / licensed seats over the last 30 days (near the cap: expansion).",
            min=1,
            max=1000,
        ),
    ),
    TriggerKind.USAGE_DOWN: (
        Param(
            "percent",
            "Down by at least (%)",
            30,
            help="Average active users over the last 30 days against the 30 days before.",
            min=1,
            max=100,
        ),
    ),
    TriggerKind.SUPPORT_TICKETS: (
        Param("count", "Tickets", 5, help="Fires at this many support tickets or more…", min=1, max=1000),
        _days(30, "Within (days)", help="…opened within this many days.", max=365),
    ),
    TriggerKind.INVOICE_OVERDUE: (
        _days(30, "Overdue for (days)", help="Fires while an unpaid invoice is at least this many days past due."),
    ),
    TriggerKind.NO_TOUCH: (
        _days(
            30,
            "No touch for (days)",
            help="Fires when no call, meeting, QBR, EBR or on-site visit happened in this many days.",
        ),
    ),
    TriggerKind.MILESTONE_OVERDUE: (
        _days(
            0,
            "Overdue for (days)",
            help="Fires while a success-plan milestone is open this many days past its due date.",
            min=0,
            max=365,
        ),
    ),
    TriggerKind.HANDOFF_ACCEPTED: (
        _days(
            14, "Accepted within (days)", help="Fires when CS accepted the sales handoff within this many days.", max=90
        ),
    ),
}


def default_params(kind: str) -> dict:
    return {param.name: param.default for param in TRIGGER_PARAMS[kind]}


def validate_params(kind: str, params: dict | None) -> dict:
    """The cleaned parameters of a trigger of ``kind``: missing ones take their default, unknown
    ones are dropped, and a bad value raises ``ValidationError`` keyed by the parameter's name."""
    if kind not in TRIGGER_PARAMS:
        raise ValidationError({"kind": f"Unknown trigger kind “{kind}”."})
    params = params or {}
    cleaned: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for param in TRIGGER_PARAMS[kind]:
        value = params.get(param.name)
        if value is None or value == "":
            cleaned[param.name] = param.default
            continue
        if param.choices:
            allowed = [choice for choice, _ in param.choices]
            if value not in allowed:
                errors[param.name] = f"{param.label}: choose one of {', '.join(allowed)}."
            else:
                cleaned[param.name] = value
            continue
        try:
            number = int(value)
            if isinstance(value, float | str) and str(value).strip() not in (str(number), f"{number}.0"):
                raise ValueError
        except (TypeError, ValueError):
            errors[param.name] = f"{param.label}: enter a whole number."
            continue
        if param.min is not None and number < param.min:
            errors[param.name] = f"{param.label}: must be at least {param.min}."
        elif param.max is not None and number > param.max:
            errors[param.name] = f"{param.label}: must be at most {param.max}."
        else:
            cleaned[param.name] = number
    if not errors and kind == TriggerKind.RENEWAL_DUE and cleaned["min_days"] >= cleaned["days"]:
        errors["min_days"] = "But more than (days): must be fewer than the days before renewal."
    if errors:
        raise ValidationError(errors)
    return cleaned


# --- Conditions --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """The tenant's today and its local day boundaries, for conditions over "the last N days"."""

    today: dt.date
    zone: zoneinfo.ZoneInfo

    def start_of(self, day: dt.date) -> dt.datetime:
        return dt.datetime(day.year, day.month, day.day, tzinfo=self.zone)

    def days_from(self, days: int) -> dt.datetime:
        """The start of the window of the last ``days`` local days, today included."""
        return self.start_of(self.today - dt.timedelta(days=days - 1))

    @property
    def end(self) -> dt.datetime:
        """The end of today (later rows are scheduled, not yet happened)."""
        return self.start_of(self.today + dt.timedelta(days=1))


Condition = Callable[[QuerySet, Tenant, dict, Period], QuerySet]


def _band_entered(accounts: QuerySet, tenant: Tenant, params: dict, window: Period) -> QuerySet:
    return accounts.filter(health__band=params["band"])


def _score_dropped(accounts: QuerySet, tenant: Tenant, params: dict, window: Period) -> QuerySet:
    # The highest daily score within the window against the current score: a fall of
    # ``points`` from any day in the last ``days`` days. The window's snapshots are aggregated
    # alone first, from their (tenant, day) index that carries the account and score, then
    # joined to the current scores: reaching the score through the account joined every
    # snapshot of the window to its account before grouping (2.4 s at 100,000 accounts x 90
    # days of history; 0.5 s so).
    # Table names from the models, values as parameters.
    peaks = RawSQL(  # noqa: S611
        "SELECT peaks.account_id FROM ("  # noqa: S608
        f"SELECT account_id, MAX(score) AS peak FROM {HealthSnapshot._meta.db_table} "
        "WHERE tenant_id = %s AND day >= %s AND day < %s GROUP BY account_id"
        f") AS peaks JOIN {HealthScore._meta.db_table} AS now_score ON now_score.account_id = peaks.account_id "
        "WHERE now_score.tenant_id = %s AND peaks.peak >= now_score.score + %s",
        [
            tenant.pk,
            (window.today - dt.timedelta(days=params["days"])).isoformat(),
            window.today.isoformat(),
            tenant.pk,
            params["points"],
        ],
    )
    return accounts.filter(pk__in=peaks)


def _renewal_due(accounts: QuerySet, tenant: Tenant, params: dict, window: Period) -> QuerySet:
    # A window (min_days, days], so checkpoints at 180 and 90 days out fire one after the other,
    # not both at once for a renewal 60 days away.
    earliest = window.today + dt.timedelta(days=params["min_days"] + 1 if params["min_days"] else 0)
    return accounts.filter(
        next_renewal_date__gte=earliest, next_renewal_date__lte=window.today + dt.timedelta(days=params["days"])
    )


def _champion_changed(accounts: QuerySet, tenant: Tenant, params: dict, window: Period) -> QuerySet:
    # ContactEvent records only key-contact movement: a champion or executive sponsor who left,
    # or a role change to or from one of those (accounts.services).
    events = ContactEvent.objects.filter(
        tenant=tenant,
        occurred_on__gt=window.today - dt.timedelta(days=params["days"]),
        occurred_on__lte=window.today,
    ).values("account_id")
    return accounts.filter(pk__in=events)


def _latest_nps(tenant: Tenant, params: dict, window: Period) -> QuerySet:
    """One row per account that answered NPS within the window, with its latest answer as
    ``latest`` (window functions: one pass, no query per account). Filters on ``latest`` are
    applied after the ranking, so an older answer never stands in for the latest."""
    latest_first = {"partition_by": [F("account_id")], "order_by": [F("responded_on").desc(), F("pk").desc()]}
    return (
        SurveyResponse.objects.filter(
            tenant=tenant,
            kind=SurveyKind.NPS,
            responded_on__gt=window.today - dt.timedelta(days=params["days"]),
            responded_on__lte=window.today,
        )
        .annotate(recency=Window(RowNumber(), **latest_first), latest=Window(FirstValue("score"), **latest_first))
        .filter(recency=1)
    )


def _nps_detractor(accounts: QuerySet, tenant: Tenant, params: dict, window: Period) -> QuerySet:
    # The latest answer counts: a detractor who later answers 9 is no longer one.
    detractors = _latest_nps(tenant, params, window).filter(latest__lte=params["max_score"])
    return accounts.filter(pk__in=detractors.values("account_id"))


def _nps_promoter(accounts: QuerySet, tenant: Tenant, params: dict, window: Period) -> QuerySet:
    promoters = _latest_nps(tenant, params, window).filter(latest__gte=params["min_score"])
    return accounts.filter(pk__in=promoters.values("account_id"))


def _health_raw(measure: str) -> Cast:
    """A measure's raw value in the account's current health score (``HealthScore.breakdown``
    holds ``<measure>:raw``; JSON null, no data, reads as SQL NULL and matches nothing)."""
    return Cast(KeyTextTransform(f"{measure}:raw", "health__breakdown"), FloatField())


# Licence utilisation and the usage trend are health measures over the same 30-day windows
# (average active users / average licensed seats; average daily active users against the 30
# days before): read from the current score, which the recompute that chains this evaluation
# has just written, instead of aggregating the usage rows a second time.


def _utilisation_low(accounts: QuerySet, tenant: Tenant, params: dict, window: Period) -> QuerySet:
    return accounts.alias(utilisation=_health_raw("licence_utilisation")).filter(utilisation__lt=params["percent"])


def _utilisation_high(accounts: QuerySet, tenant: Tenant, params: dict, window: Period) -> QuerySet:
    return accounts.alias(utilisation=_health_raw("licence_utilisation")).filter(utilisation__gte=params["percent"])


def _usage_down(accounts: QuerySet, tenant: Tenant, params: dict, window: Period) -> QuerySet:
    return accounts.alias(trend=_health_raw("usage_trend")).filter(trend__lte=-params["percent"])


def _support_tickets(accounts: QuerySet, tenant: Tenant, params: dict, window: Period) -> QuerySet:
    busy = (
        SupportTicket.objects.filter(
            tenant=tenant, opened_at__gte=window.days_from(params["days"]), opened_at__lt=window.end
        )
        .values("account_id")
        .annotate(tickets=Count("pk"))
        .filter(tickets__gte=params["count"])
        .values("account_id")
    )
    return accounts.filter(pk__in=busy)


def _invoice_overdue(accounts: QuerySet, tenant: Tenant, params: dict, window: Period) -> QuerySet:
    overdue = Invoice.objects.filter(
        tenant=tenant, paid_on__isnull=True, due_on__lte=window.today - dt.timedelta(days=params["days"])
    ).values("account_id")
    return accounts.filter(pk__in=overdue)


def _no_touch(accounts: QuerySet, tenant: Tenant, params: dict, window: Period) -> QuerySet:
    # The same "meaningful touch" as health's last-touch measure (calls, meetings, QBRs, EBRs,
    # on-site visits; e-mails and notes are not). An account we have had for less than the
    # window cannot have gone that long without one.
    since = window.days_from(params["days"])
    touched = Activity.objects.filter(
        tenant=tenant, kind__in=MEANINGFUL_TOUCHES, occurred_at__gte=since, occurred_at__lt=window.end
    ).values("account_id")
    return accounts.filter(created_at__lt=since).exclude(pk__in=touched)


def _milestone_overdue(accounts: QuerySet, tenant: Tenant, params: dict, window: Period) -> QuerySet:
    overdue = (
        Milestone.objects.filter(tenant=tenant, due_date__lt=window.today - dt.timedelta(days=params["days"]))
        .exclude(status=MilestoneStatus.DONE)
        .values("plan__account_id")
    )
    return accounts.filter(pk__in=overdue)


def _handoff_accepted(accounts: QuerySet, tenant: Tenant, params: dict, window: Period) -> QuerySet:
    accepted = Handoff.objects.filter(
        tenant=tenant,
        status=HandoffStatus.ACCEPTED,
        reviewed_at__gte=window.days_from(params["days"]),
        reviewed_at__lt=window.end,
    ).values("account_id")
    return accounts.filter(pk__in=accepted)


CONDITIONS: dict[str, Condition] = {
    TriggerKind.BAND_ENTERED: _band_entered,
    TriggerKind.SCORE_DROPPED: _score_dropped,
    TriggerKind.RENEWAL_DUE: _renewal_due,
    TriggerKind.CHAMPION_CHANGED: _champion_changed,
    TriggerKind.NPS_DETRACTOR: _nps_detractor,
    TriggerKind.NPS_PROMOTER: _nps_promoter,
    TriggerKind.UTILISATION_LOW: _utilisation_low,
    TriggerKind.UTILISATION_HIGH: _utilisation_high,
    TriggerKind.USAGE_DOWN: _usage_down,
    TriggerKind.SUPPORT_TICKETS: _support_tickets,
    TriggerKind.INVOICE_OVERDUE: _invoice_overdue,
    TriggerKind.NO_TOUCH: _no_touch,
    TriggerKind.MILESTONE_OVERDUE: _milestone_overdue,
    TriggerKind.HANDOFF_ACCEPTED: _handoff_accepted,
}


def matching_accounts(
    *, tenant: Tenant, trigger: Trigger, today: dt.date | None = None, account_ids: Iterable[int] | None = None
) -> QuerySet:
    """The accounts where ``trigger``'s condition holds on ``today`` (the tenant's today by
    default): live (not churned) accounts of the trigger's segments (all when none is chosen),
    only ``account_ids`` when given. One query when evaluated. Segments are read from
    ``trigger.segments.all()``, so a prefetch saves that query."""
    params = validate_params(trigger.kind, trigger.params)
    window = Period(today=today or tenant_today(tenant), zone=zoneinfo.ZoneInfo(tenant.time_zone))
    accounts = Account.objects.filter(tenant=tenant).exclude(lifecycle_stage=LifecycleStage.CHURNED)
    segment_ids = [segment.pk for segment in trigger.segments.all()]
    if segment_ids:
        accounts = accounts.filter(segment_id__in=segment_ids)
    if account_ids is not None:
        accounts = accounts.filter(pk__in=list(account_ids))
    # No ordering: sorting 50,000 matches by name (Account's default) costs more than the match.
    return CONDITIONS[trigger.kind](accounts, tenant, params, window).order_by()


def matching_account_ids(
    *, tenant: Tenant, trigger: Trigger, today: dt.date | None = None, account_ids: Iterable[int] | None = None
) -> set[int]:
    """The ids of ``matching_accounts``: the dry run of a trigger, before it is enabled."""
    return set(
        matching_accounts(tenant=tenant, trigger=trigger, today=today, account_ids=account_ids).values_list(
            "pk", flat=True
        )
    )
