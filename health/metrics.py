"""The inputs of the health score, read set-based: a fixed number of aggregate queries per
recompute, whether it covers one account or a hundred thousand.

Everything is "as of" a day: only rows dated on or before it count, so replaying a past day
gives the score that day had (the demo builds its trend that way), and the same data give the
same inputs.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable

import numpy as np
import pandas as pd
from django.db import connection
from django.db.models import Aggregate, BigIntegerField, Count, Func, IntegerField, Max, Q, QuerySet, Sum

from accounts.models import Account, Activity, ActivityContact, ActivityKind, ActivityTeamMember, Contact, ContactRole
from accounts.models import LifecycleStage as Stage
from csplatform.models import Tenant
from successplans.services import milestones_on_track_by_account

from .models import (
    SENTIMENT_VALUE,
    Invoice,
    MarketingEngagement,
    Pulse,
    SupportTicket,
    SurveyKind,
    SurveyResponse,
    TrackedFeature,
    UsageDay,
)

# Touches that are a conversation with the customer; e-mails, webinars and notes are not.
MEANINGFUL_TOUCHES = (ActivityKind.CALL, ActivityKind.MEETING, ActivityKind.QBR, ActivityKind.EBR, ActivityKind.ONSITE)
IMPACT_REVIEWS = (ActivityKind.QBR, ActivityKind.EBR)
LOOKBACK_DAYS = 365
ENGAGEMENT_DAYS = 90
USAGE_WINDOW_DAYS = 30
MARKETING_DAYS = 90


class BitOr(Aggregate):
    """``BIT_OR`` of an integer column: PostgreSQL's own aggregate, and on SQLite the one
    ``health.apps`` registers on each connection."""

    function = "BIT_OR"
    output_field = BigIntegerField()


def _start_of(day: dt.date, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=zone)


class LocalDaysBefore(Func):
    """Whole days from a timestamp's local date (in ``zone_name``) to ``as_of``, computed by the
    database as an integer: converting 100,000 timestamps in Python took longer than the query."""

    output_field = IntegerField()

    def __init__(self, expression, *, as_of: dt.date, zone_name: str) -> None:
        super().__init__(expression)
        self.as_of, self.zone_name = as_of, zone_name

    def as_sql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        local_date, date_params = connection.ops.datetime_cast_date_sql(sql, tuple(params), self.zone_name)
        if connection.vendor == "postgresql":
            return f"(%s::date - {local_date})", (self.as_of, *date_params)
        return f"CAST(julianday(%s) - julianday({local_date}) AS INTEGER)", (self.as_of.isoformat(), *date_params)


def _grouped(queryset: QuerySet, key: str, **aggregates) -> pd.DataFrame:
    """One row per ``key`` with the ``aggregates``. The compiled SQL runs on a plain cursor:
    Django's per-row conversion would cost more than the query on 100,000 groups."""
    sql, params = queryset.order_by().values(key).annotate(**aggregates).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    frame = pd.DataFrame(rows, columns=[key, *aggregates])
    return frame.set_index(key)


def health_inputs(
    *, tenant: Tenant, as_of: dt.date, definition: dict, account_ids: Iterable[int] | None = None
) -> pd.DataFrame:
    """One row per account that is not churned (only ``account_ids`` when given), indexed by
    account id, with the columns ``health.scoring`` reads. Thirteen queries, however many accounts."""
    zone = zoneinfo.ZoneInfo(tenant.time_zone)
    ids = list(account_ids) if account_ids is not None else None
    end = _start_of(as_of + dt.timedelta(days=1), zone)
    year_start = _start_of(as_of - dt.timedelta(days=LOOKBACK_DAYS), zone)
    engaged_from = _start_of(as_of - dt.timedelta(days=ENGAGEMENT_DAYS - 1), zone)

    def days_before(latest: Max) -> LocalDaysBefore:
        return LocalDaysBefore(latest, as_of=as_of, zone_name=tenant.time_zone)

    def scoped(queryset: QuerySet, account_field: str = "account_id") -> QuerySet:
        queryset = queryset.filter(tenant=tenant)
        return queryset.filter(**{f"{account_field}__in": ids}) if ids is not None else queryset

    accounts = scoped(Account.objects.exclude(lifecycle_stage=Stage.CHURNED), "pk").values_list(
        "pk", "segment_id", "segment__touch_model"
    )
    frame = pd.DataFrame(list(accounts), columns=["account_id", "segment_id", "touch_model"]).set_index("account_id")

    touches = _grouped(
        scoped(Activity.objects.filter(occurred_at__gte=year_start, occurred_at__lt=end)),
        "account_id",
        last_touch_days=days_before(Max("occurred_at", filter=Q(kind__in=MEANINGFUL_TOUCHES))),
        last_review_days=days_before(Max("occurred_at", filter=Q(kind__in=IMPACT_REVIEWS))),
    )
    active_contact = Q(contact__left_on__isnull=True) | Q(contact__left_on__gt=as_of)
    engaged = _grouped(
        scoped(
            ActivityContact.objects.filter(
                active_contact, activity__occurred_at__gte=year_start, activity__occurred_at__lt=end
            ),
            "activity__account_id",
        ),
        "activity__account_id",
        contacts_engaged_90d=Count("contact_id", distinct=True, filter=Q(activity__occurred_at__gte=engaged_from)),
        levels_engaged_90d=Count("contact__level", distinct=True, filter=Q(activity__occurred_at__gte=engaged_from)),
        sponsor_engaged_days=days_before(
            Max("activity__occurred_at", filter=Q(contact__role=ContactRole.EXECUTIVE_SPONSOR))
        ),
    )
    engaged.index.name = "account_id"
    team = _grouped(
        scoped(
            ActivityTeamMember.objects.filter(activity__occurred_at__gte=engaged_from, activity__occurred_at__lt=end),
            "activity__account_id",
        ),
        "activity__account_id",
        team_engaged_90d=Count("user_id", distinct=True),
    )
    team.index.name = "account_id"
    champions = _grouped(
        scoped(
            Contact.objects.filter(role=ContactRole.CHAMPION, created_at__lt=end).filter(
                Q(left_on__isnull=True) | Q(left_on__gt=as_of)
            )
        ),
        "account_id",
        champions=Count("pk"),
    )
    usage_from = as_of - dt.timedelta(days=2 * USAGE_WINDOW_DAYS - 1)
    recent = Q(day__gt=as_of - dt.timedelta(days=USAGE_WINDOW_DAYS))
    usage = _grouped(
        scoped(UsageDay.objects.filter(day__gte=usage_from, day__lte=as_of)),
        "account_id",
        # Sums and counts (integers), not AVG (numeric, decoded one Decimal at a time).
        usage_days_30=Count("pk", filter=recent),
        active_sum_30=Sum("active_users", filter=recent),
        seats_sum_30=Sum("licensed_seats", filter=recent),
        usage_days_prior_30=Count("pk", filter=~recent),
        active_sum_prior_30=Sum("active_users", filter=~recent),
        feature_mask_30=BitOr("feature_mask", filter=recent),
    )
    nps = pd.DataFrame(
        list(
            scoped(
                SurveyResponse.objects.filter(
                    kind=SurveyKind.NPS,
                    responded_on__gt=as_of - dt.timedelta(days=LOOKBACK_DAYS),
                    responded_on__lte=as_of,
                )
            )
            .order_by("account_id", "responded_on", "pk")
            .values_list("account_id", "score")
        ),
        columns=["account_id", "nps_latest"],
    ).drop_duplicates("account_id", keep="last")
    window = int(definition["measures"].get("support_load", {}).get("window_days", 30))
    tickets = _grouped(
        scoped(
            SupportTicket.objects.filter(
                opened_at__gte=_start_of(as_of - dt.timedelta(days=window - 1), zone), opened_at__lt=end
            )
        ),
        "account_id",
        tickets_window=Count("pk"),
    )
    invoices = _grouped(
        scoped(Invoice.objects.filter(issued_on__lte=as_of)),
        "account_id",
        invoices_total=Count("pk"),
        invoices_overdue=Count("pk", filter=Q(due_on__lt=as_of) & (Q(paid_on__isnull=True) | Q(paid_on__gt=as_of))),
    )
    marketing = _grouped(
        scoped(MarketingEngagement.objects.filter(day__gt=as_of - dt.timedelta(days=MARKETING_DAYS), day__lte=as_of)),
        "account_id",
        marketing_rows_90d=Count("pk"),
        opens=Sum("opens"),
        clicks=Sum("clicks"),
        bounces=Sum("bounces"),
        opt_outs=Sum("opt_outs"),
    )
    pulses = pd.DataFrame(
        list(
            scoped(Pulse.objects.filter(set_on__lte=as_of, expires_on__gte=as_of))
            .order_by("account_id", "set_on", "created_at", "pk")
            .values_list("account_id", "sentiment")
        ),
        columns=["account_id", "pulse"],
    ).drop_duplicates("account_id", keep="last")
    pulses["pulse"] = pulses["pulse"].map(SENTIMENT_VALUE)
    tracked_features = TrackedFeature.objects.filter(tenant=tenant).count()
    # Due milestones done / due, for accounts with a joint impact plan (absent: no plan).
    on_track = milestones_on_track_by_account(tenant=tenant, account_ids=ids, today=as_of)
    milestones = pd.DataFrame(
        {"milestones_on_track": pd.Series(on_track, dtype=float)}, index=pd.Index(list(on_track), name="account_id")
    )

    # Each aggregate aligned on the accounts (unique integer indexes): cheaper than one join
    # of a list of frames, which concatenates them first.
    for part in (
        touches,
        engaged,
        team,
        champions,
        usage,
        nps.set_index("account_id"),
        tickets,
        invoices,
        marketing,
        pulses.set_index("account_id"),
        milestones,
    ):
        aligned = part.reindex(frame.index)
        for column in aligned.columns:
            frame[column] = aligned[column].to_numpy()
    usage_days = frame["usage_days_30"].where(frame["usage_days_30"] > 0)
    prior_days = frame["usage_days_prior_30"].where(frame["usage_days_prior_30"] > 0)
    frame["active_avg_30"] = frame["active_sum_30"].astype(float) / usage_days
    frame["seats_avg_30"] = frame["seats_sum_30"].astype(float) / usage_days
    frame["active_avg_prior_30"] = frame["active_sum_prior_30"].astype(float) / prior_days
    for column in ("last_touch_days", "last_review_days", "sponsor_engaged_days"):
        frame[column] = frame[column].astype(float)
    counts = [
        "contacts_engaged_90d",
        "levels_engaged_90d",
        "team_engaged_90d",
        "champions",
        "usage_days_30",
        "tickets_window",
        "invoices_total",
        "invoices_overdue",
        "marketing_rows_90d",
        "opens",
        "clicks",
        "bounces",
        "opt_outs",
    ]
    frame[counts] = frame[counts].fillna(0).astype(float)
    masks = frame["feature_mask_30"].fillna(0).astype("int64").to_numpy()
    frame["features_used_30"] = np.bitwise_count(masks.view("uint64")).astype(float)
    frame["tracked_features"] = float(tracked_features)
    for column in (
        "active_avg_30",
        "seats_avg_30",
        "active_avg_prior_30",
        "nps_latest",
        "pulse",
        "milestones_on_track",
    ):
        frame[column] = frame[column].astype(float)
    frame["segment_id"] = frame["segment_id"].astype("Float64")
    return frame.sort_index()
