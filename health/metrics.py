"""The inputs of the health score, read set-based: a fixed number of aggregate queries per
recompute, whether it covers one account or a hundred thousand.

Everything is "as of" a day: only rows dated on or before it count, so replaying a past day
gives the score that day had (the demo builds its trend that way), and the same data give the
same inputs.
"""

from __future__ import annotations

import datetime as dt
import io
import zoneinfo
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
from django.db import connection, transaction
from django.db.models import Aggregate, BigIntegerField, Count, F, Func, IntegerField, Max, Q, QuerySet, Sum, Window
from django.db.models.functions import RowNumber

from accounts.models import Account, Activity, ActivityContact, ActivityKind, ActivityTeamMember, Contact, ContactRole
from accounts.models import LifecycleStage as Stage
from csplatform.models import Tenant
from successplans.services import milestone_counts_by_account

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
# Settings of the recompute's transaction on PostgreSQL (``SET LOCAL``), and of the second
# connection's reads:
# - work_mem: memory for each sort and hash of its aggregates (the default is 4 MB): grouping 60
#   days of usage by account builds a hash table of about 25 MB at 100,000 accounts, which at
#   the default spills to disk in batches (2.2 s; 1.7 s in memory);
# - jit off: the write statement's estimated cost passes the JIT's inlining and optimising
#   thresholds, and compiling took 0.4 s of a 1.6 s statement that JIT made no faster.
RECOMPUTE_SETTINGS = {"work_mem": "64MB", "jit": "off"}


def recompute_settings_apply(**overrides: str) -> None:
    """``RECOMPUTE_SETTINGS`` (and ``overrides``) until the current transaction ends, on
    PostgreSQL: local to it, so none outlives it on a pooled server connection."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for name, value in {**RECOMPUTE_SETTINGS, **overrides}.items():
            cursor.execute("SELECT set_config(%s, %s, true)", [name, value])


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


def _grouped(queryset: QuerySet, key: str, **aggregates) -> QuerySet:
    """One row per ``key`` (an account id) with the ``aggregates``: a part of the inputs'
    statement."""
    return queryset.order_by().values(key).annotate(**aggregates)


def _latest(queryset: QuerySet, *, order: tuple[str, ...], **columns) -> QuerySet:
    """The ``columns`` of each account's latest row by ``order`` (newest first), one row an
    account: a window ranks the rows (portable to SQLite)."""
    ranked = queryset.order_by().annotate(
        latest_rank=Window(RowNumber(), partition_by=[F("account_id")], order_by=[F(f).desc() for f in order])
    )
    return ranked.filter(latest_rank=1).values("account_id", **{k: F(v) for k, v in columns.items()})


# The inputs' columns that are not numbers, and the one integer too wide for a float.
INPUT_DTYPES = {"touch_model": object, "pulse": object, "feature_mask_30": "Int64"}


def _joined(accounts: QuerySet, parts: list[QuerySet]) -> tuple[str, tuple, list[str]]:
    """One statement: ``accounts`` (the account id first) left-joined with each grouped part
    on its first column (an account id); with its parameters and column names."""
    columns = [*accounts.query.values_select, *accounts.query.annotation_select]
    sql, params = accounts.query.sql_with_params()
    select = [f'a."{column}"' for column in columns]
    joins = []
    for number, part in enumerate(parts):
        part_sql, part_params = part.query.sql_with_params()
        key, *part_columns = [*part.query.values_select, *part.query.annotation_select]
        select += [f'p{number}."{column}"' for column in part_columns]
        columns += part_columns
        joins.append(f'LEFT JOIN ({part_sql}) p{number} ON p{number}."{key}" = a."{columns[0]}"')
        params = (*params, *part_params)
    return f"SELECT {', '.join(select)} FROM ({sql}) a {' '.join(joins)}", params, columns  # noqa: S608


def _frame_read(statement: str, params: tuple, columns: list[str]) -> pd.DataFrame:
    """The rows of ``statement`` as a frame indexed by its first column (an account id): every
    column a float but ``INPUT_DTYPES``' (NULL is NaN).

    On PostgreSQL the rows travel as CSV (``COPY (…) TO STDOUT``) and pandas parses them in C:
    fetching 100,000 rows of thirty columns as Python objects, then building frames from them,
    took longer than PostgreSQL took to compute them. SQLite (the embedded run) is fetched."""
    dtypes = {column: INPUT_DTYPES.get(column, float) for column in columns[1:]}
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY takes no bound parameters: psycopg merges them into the text as literals.
            merged = connection.ops.compose_sql(statement, params)
            with cursor.copy(f"COPY ({merged}) TO STDOUT WITH (FORMAT csv)") as copy:
                data = b"".join(copy)
            if data:
                frame = pd.read_csv(io.BytesIO(data), names=columns, index_col=0, dtype=dtypes)
                frame.index = frame.index.astype("int64")
                return frame
            rows = []
        else:
            cursor.execute(statement, params)
            rows = cursor.fetchall()
    frame = pd.DataFrame(rows, columns=columns).astype(dtypes).set_index(columns[0])
    frame.index = frame.index.astype("int64")
    return frame


def _frame_read_aside(statement: str, params: tuple, columns: list[str]) -> pd.DataFrame:
    """``_frame_read`` on this thread's own connection (Django's connections are per thread),
    with the recompute's settings, closed afterwards. Without parallel workers: the two
    connections already keep both cores busy, and workers on top only added their overhead
    (the usage scan's partial aggregates, gathered and finalised): 2.0 s against 2.15 s."""
    try:
        with transaction.atomic():
            recompute_settings_apply(max_parallel_workers_per_gather="0")
            return _frame_read(statement, params, columns)
    finally:
        connection.close()


def _inputs_frame(
    accounts: QuerySet, parts: list[QuerySet], *, account_keys: QuerySet, aside: list[QuerySet], concurrent: bool
) -> pd.DataFrame:
    """The accounts with every part's columns, indexed by account id. ``aside`` (the biggest
    scan: usage) is read by a second statement; with ``concurrent`` it runs on a
    second connection at the same time as the first (see ``health_inputs``)."""
    main = _joined(accounts, parts)
    other = _joined(account_keys, aside)
    if concurrent and connection.vendor == "postgresql":
        with ThreadPoolExecutor(max_workers=1) as pool:
            future = pool.submit(_frame_read_aside, *other)
            frame = _frame_read(*main)
            return frame.join(future.result())
    return _frame_read(*main).join(_frame_read(*other))


def health_inputs(
    *,
    tenant: Tenant,
    as_of: dt.date,
    definition: dict,
    account_ids: Iterable[int] | None = None,
    concurrent_reads: bool = False,
) -> pd.DataFrame:
    """One row per account that is not churned (only ``account_ids`` when given), indexed by
    account id, with the columns ``health.scoring`` reads. Three queries, however many
    accounts: the tracked features, one statement joining every aggregate but usage to the
    accounts, and one joining usage.

    ``concurrent_reads``: the usage statement runs on a second connection (a thread's own) at
    the same time as the other, so both cores work: for a caller that is not inside a
    transaction, since the second connection sees committed rows only."""
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

    live = scoped(Account.objects.exclude(lifecycle_stage=Stage.CHURNED), "pk").order_by()
    accounts = live.values(
        account_id=F("pk"), account_segment_id=F("segment_id"), touch_model=F("segment__touch_model")
    )
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
    team = _grouped(
        scoped(
            ActivityTeamMember.objects.filter(activity__occurred_at__gte=engaged_from, activity__occurred_at__lt=end),
            "activity__account_id",
        ),
        "activity__account_id",
        team_engaged_90d=Count("user_id", distinct=True),
    )
    champions = _grouped(
        scoped(
            Contact.objects.filter(role=ContactRole.CHAMPION, created_at__lt=end).filter(
                Q(left_on__isnull=True) | Q(left_on__gt=as_of)
            )
        ),
        "account_id",
        champions=Count("*"),
    )
    usage_from = as_of - dt.timedelta(days=2 * USAGE_WINDOW_DAYS - 1)
    recent = Q(day__gt=as_of - dt.timedelta(days=USAGE_WINDOW_DAYS))
    prior = Q(day__lte=as_of - dt.timedelta(days=USAGE_WINDOW_DAYS))
    usage = _grouped(
        scoped(UsageDay.objects.filter(day__gte=usage_from, day__lte=as_of)),
        "account_id",
        # Sums and counts (integers), not AVG (numeric, decoded one Decimal at a time).
        usage_days_30=Count("pk", filter=recent),
        active_sum_30=Sum("active_users", filter=recent),
        seats_sum_30=Sum("licensed_seats", filter=recent),
        usage_days_prior_30=Count("pk", filter=prior),
        active_sum_prior_30=Sum("active_users", filter=prior),
        feature_mask_30=BitOr("feature_mask", filter=recent),
    )
    nps = _latest(
        scoped(
            SurveyResponse.objects.filter(
                kind=SurveyKind.NPS,
                responded_on__gt=as_of - dt.timedelta(days=LOOKBACK_DAYS),
                responded_on__lte=as_of,
            )
        ),
        order=("responded_on", "pk"),
        nps_latest="score",
    )
    window = int(definition["measures"].get("support_load", {}).get("window_days", 30))
    tickets = _grouped(
        scoped(
            SupportTicket.objects.filter(
                opened_at__gte=_start_of(as_of - dt.timedelta(days=window - 1), zone), opened_at__lt=end
            )
        ),
        "account_id",
        tickets_window=Count("*"),
    )
    invoices = _grouped(
        scoped(Invoice.objects.filter(issued_on__lte=as_of)),
        "account_id",
        invoices_total=Count("*"),
        invoices_overdue=Count("pk", filter=Q(due_on__lt=as_of) & (Q(paid_on__isnull=True) | Q(paid_on__gt=as_of))),
    )
    marketing = _grouped(
        scoped(MarketingEngagement.objects.filter(day__gt=as_of - dt.timedelta(days=MARKETING_DAYS), day__lte=as_of)),
        "account_id",
        marketing_rows_90d=Count("*"),
        opens=Sum("opens"),
        clicks=Sum("clicks"),
        bounces=Sum("bounces"),
        opt_outs=Sum("opt_outs"),
    )
    pulses = _latest(
        scoped(Pulse.objects.filter(set_on__lte=as_of, expires_on__gte=as_of)),
        order=("set_on", "created_at", "pk"),
        pulse="sentiment",
    )
    # Due milestones done / due, for accounts with a joint impact plan (absent: no plan).
    milestones = milestone_counts_by_account(tenant=tenant, account_ids=ids, today=as_of)
    tracked_features = TrackedFeature.objects.filter(tenant=tenant).count()
    frame = _inputs_frame(
        accounts,
        [touches, engaged, team, champions, nps, tickets, invoices, marketing, pulses, milestones],
        account_keys=live.values(account_id=F("pk")),
        aside=[usage],
        concurrent=concurrent_reads,
    )
    frame.index.name = "account_id"
    frame = frame.rename(
        columns={"account_segment_id": "segment_id", "due_count": "milestones_due", "done_count": "milestones_done"}
    )
    frame["pulse"] = frame["pulse"].map(SENTIMENT_VALUE)
    has_plan = frame["milestones_due"].notna()
    due = frame["milestones_due"].where(frame["milestones_due"] > 0)
    frame["milestones_on_track"] = (frame["milestones_done"] / due).where(due.notna(), 1.0).where(has_plan)
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
