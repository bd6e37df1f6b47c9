"""Writes of the health app: signals (each one an *event* that queues a recompute of its
account), configuration versions, and the recompute itself. Keyword-only, typed,
``<entity>_<verb>``."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

import pandas as pd
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from accounts.models import Account, Contact
from accounts.models import LifecycleStage as Stage
from accounts.services import can_edit_account, tenant_today
from csplatform.locks import deletion_lock_shared
from csplatform.models import Membership, Tenant, User

from . import scoring
from .metrics import health_inputs, recompute_settings_apply
from .models import (
    ActiveHealthConfig,
    HealthConfig,
    Invoice,
    MarketingEngagement,
    NotableEvent,
    Pulse,
    SupportTicket,
    SurveyKind,
    SurveyResponse,
    TrackedFeature,
    UsageDay,
)

# A burst of events on one account (an import, a busy call day) makes one recompute: the first
# event queues it COALESCE_SECONDS ahead and marks the account pending for as long, so events
# until it runs are read by it. The key expires on its own; no worker has to clear it, so this
# also holds with the local-memory cache of the embedded run.
COALESCE_SECONDS = 1
# pg_try_advisory_xact_lock(class, tenant id): one recompute per tenant at a time.
RECOMPUTE_LOCK_CLASS = 7_301
PULSE_LONGEST_DAYS = 180


# --- Configuration ---------------------------------------------------------------------------


def health_config_active(*, tenant: Tenant) -> HealthConfig:
    """The version that scores ``tenant`` now; a tenant without one gets the defaults as v1."""
    active = ActiveHealthConfig.objects.filter(tenant=tenant).select_related("config").first()
    if active is not None:
        return active.config
    return health_config_publish(tenant=tenant, definition=scoring.DEFAULT_DEFINITION, author=None, recompute=False)


def health_config_publish(
    *, tenant: Tenant, definition: dict, author: User | None, recompute: bool = True
) -> HealthConfig:
    """Publish ``definition`` as the tenant's next version and make it the active one; every
    account is then rescored after commit. Versions are never edited. A definition with
    problems raises ``ValidationError`` keyed by field and writes nothing."""
    errors = scoring.definition_errors(definition)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        latest = HealthConfig.objects.filter(tenant=tenant).aggregate(latest=Max("version"))["latest"] or 0
        config = HealthConfig.objects.create(
            tenant=tenant, version=latest + 1, definition=copy.deepcopy(definition), created_by=author
        )
        ActiveHealthConfig.objects.update_or_create(tenant=tenant, defaults={"config": config})
        if recompute:
            tenant_id = tenant.pk
            transaction.on_commit(lambda: _tenant_recompute_enqueue(tenant_id))
    return config


def _tenant_recompute_enqueue(tenant_id: int) -> None:
    from .tasks import recompute_tenant

    recompute_tenant.delay(tenant_id=tenant_id)


def health_preview(*, tenant: Tenant, definition: dict, as_of: dt.date | None = None) -> dict:
    """How many accounts would move between bands if ``definition`` were published:
    ``{"moves": {(from_band, to_band): count}, "rows": [{"from", "to", "count"}], "moved": n,
    "accounts": n}`` ("" is "no score"). Reads only."""
    from .models import HealthScore

    as_of = as_of or tenant_today(tenant)
    inputs = health_inputs(tenant=tenant, as_of=as_of, definition=definition)
    result = scoring.score_accounts(inputs, definition)
    current = pd.Series(
        dict(HealthScore.objects.filter(tenant=tenant).values_list("account_id", "band")), dtype=object
    ).reindex(result.index)
    moves = pd.DataFrame({"from": current.fillna(""), "to": result["band"]})
    moved = moves[moves["from"] != moves["to"]]
    counts = {key: int(value) for key, value in sorted(moved.value_counts().to_dict().items())}
    return {
        "moves": counts,
        "rows": [{"from": start, "to": end, "count": count} for (start, end), count in counts.items()],
        "moved": sum(counts.values()),
        "accounts": len(result),
    }


# --- Recompute -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecomputeResult:
    accounts: int
    band_changes: int
    config_version: int
    skipped: bool = False  # another recompute of the tenant held the lock


def health_recompute(
    *,
    tenant: Tenant,
    account_ids: Iterable[int] | None = None,
    as_of: dt.date | None = None,
    now: dt.datetime | None = None,
    history_only: bool = False,
) -> RecomputeResult:
    """Score the tenant's accounts (only ``account_ids`` when given) as of ``as_of`` (the
    tenant's today by default) with the active configuration, and write in one transaction:
    the current score of each account, its snapshot of the day, and a ``BandChange`` for each
    account whose band moved. A fixed number of queries whatever the number of accounts.

    Idempotent: the same data and version write the same rows (a rerun updates nothing and
    records no band change). Atomic: a killed worker leaves the previous state. Overlap-safe:
    on PostgreSQL a second recompute of the tenant returns ``skipped=True`` at once instead of
    waiting (SQLite serialises writers by itself). An older ``as_of`` never overwrites a newer
    current score. ``history_only`` writes the day's snapshots alone (a past day replayed
    for the trend): no current score, no band change."""
    as_of = as_of or tenant_today(tenant)
    now = now or timezone.now()
    ids = sorted(set(account_ids)) if account_ids is not None else None
    # Called outside any transaction (a Celery task, beat, the benchmark), everything the
    # scores read is committed, so the big scans may run on a second connection meanwhile.
    # Inside one (a test, a caller that just wrote signals), a second connection would not see
    # the uncommitted rows: one connection reads all.
    concurrent_reads = not connection.in_atomic_block and ids is None
    with transaction.atomic():
        if not _lock_tenant(tenant):
            return RecomputeResult(accounts=0, band_changes=0, config_version=0, skipped=True)
        # The scores and snapshots name their account without a constraint (health.models).
        deletion_lock_shared()
        recompute_settings_apply()
        config = health_config_active(tenant=tenant)
        if ids == []:
            return RecomputeResult(accounts=0, band_changes=0, config_version=config.version)
        inputs = health_inputs(
            tenant=tenant,
            as_of=as_of,
            definition=config.definition,
            account_ids=ids,
            concurrent_reads=concurrent_reads,
        )
        result = scoring.score_accounts(inputs, config.definition)
        changes = _scores_write(
            tenant=tenant, config=config, result=result, as_of=as_of, now=now, history_only=history_only
        )
        changes += _churned_scores_clear(tenant=tenant, config=config, account_ids=ids, as_of=as_of, now=now)
    return RecomputeResult(accounts=len(result), band_changes=changes, config_version=config.version)


def _churned_scores_clear(
    *, tenant: Tenant, config: HealthConfig, account_ids: list[int] | None, as_of: dt.date, now: dt.datetime
) -> int:
    """A churned account is not scored: its current score is deleted (portfolio, leader view
    and card then say so) and the exit recorded as a ``BandChange`` to band "" (no score), so
    the last live band is kept; its snapshots stay as history. Three queries at most, reading
    only the scores of accounts churned since the last recompute."""
    from .models import BandChange, HealthScore

    stale = HealthScore.objects.filter(tenant=tenant, account__lifecycle_stage=Stage.CHURNED)
    if account_ids is not None:
        stale = stale.filter(account_id__in=account_ids)
    rows = list(stale.values_list("pk", "account_id", "band", "score"))
    if not rows:
        return 0
    BandChange.objects.bulk_create(
        BandChange(
            tenant=tenant,
            account_id=account_id,
            day=as_of,
            from_band=band,
            to_band="",
            from_score=score,
            to_score=None,
            config=config,
            created_at=now,
        )
        for _, account_id, band, score in rows
    )
    HealthScore.objects.filter(tenant=tenant, pk__in=[pk for pk, *_ in rows]).delete()
    return len(rows)


def _lock_tenant(tenant: Tenant) -> bool:
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [RECOMPUTE_LOCK_CLASS, tenant.pk])
        return cursor.fetchone()[0]


NEW_DOCS = "health_new_docs"  # the new scores and breakdowns, as COPY sent them
NEW_SCORES = "health_new_scores"  # those joined with the current scores (SQLite's temporary table)
# Accounts per COPY chunk: PostgreSQL parses one chunk's JSON while pandas writes the next.
COPY_CHUNK_ROWS = 10_000


def _int_or_none(value) -> int | None:
    return None if pd.isna(value) else int(value)


def _new_docs_load(cursor, *, result: pd.DataFrame, definition: dict, postgres: bool) -> None:
    """The new scores of ``result`` into the temporary table ``NEW_DOCS``: on PostgreSQL by
    COPY, one chunk of text at a time (``scoring.scores_copy_text``: typed columns as text,
    the breakdown as JSON from pandas' C writer); SQLite gets the same rows by ``executemany``."""
    cursor.execute(
        f"CREATE TEMPORARY TABLE {NEW_DOCS} (account_id bigint NOT NULL, score smallint, band varchar(8) NOT NULL, "
        f"csm_score smallint, customer_score smallint, breakdown {'jsonb' if postgres else 'text'} NOT NULL)"
    )
    if postgres:
        with cursor.copy(f"COPY {NEW_DOCS} FROM STDIN") as copy_in:
            for start in range(0, len(result), COPY_CHUNK_ROWS):
                chunk = result.iloc[start : start + COPY_CHUNK_ROWS]
                breakdowns = scoring.breakdown_json(chunk, definition).splitlines()
                copy_in.write(scoring.scores_copy_text(chunk, breakdowns))
        return
    breakdowns = scoring.breakdown_json(result, definition).splitlines()
    cursor.executemany(
        f"INSERT INTO {NEW_DOCS} VALUES (%s, %s, %s, %s, %s, %s)",  # noqa: S608
        [
            (int(account_id), _int_or_none(score), band, _int_or_none(csm), _int_or_none(customer), breakdown)
            for (account_id, score, band, csm, customer), breakdown in zip(
                result[list(scoring.SCORE_COLUMNS)].itertuples(), breakdowns, strict=True
            )
        ],
    )


def _scores_write(
    *,
    tenant: Tenant,
    config: HealthConfig,
    result: pd.DataFrame,
    as_of: dt.date,
    now: dt.datetime,
    history_only: bool = False,
) -> int:
    """Write the scores of ``result`` set-based, in a fixed number of statements whatever the
    number of accounts; return the number of band changes recorded.

    1. Load them into a temporary table (``_new_docs_load``).
    2. Join them with the current scores (a hash join): each account's previous band and score,
       its ``change_7d`` (against the latest snapshot a week old or older, one index probe) and
       whether anything differs at all (``same``).
    3. From that join: a ``BandChange`` for each account whose band moved, and the current
       scores and the day's snapshots of the accounts whose values differ only: a rerun with
       the same data and version writes nothing. (The day's snapshot always equals a current
       score of that day, both being written here together, so "the score is the same" covers
       both.)

    On PostgreSQL steps 2 and 3 are one statement: the join is a ``MATERIALIZED`` CTE held in
    memory (creating, analysing and dropping a temporary table for it cost more than 0.4 s at
    100,000 accounts) and the writes are data-modifying CTEs reading it: ``UPDATE … FROM`` of
    the rows that exist (a hash join: 20-25 % faster than ``ON CONFLICT``'s index probe and
    speculative insert per row), then upserts of the rest. SQLite has no data-modifying CTE:
    the join goes into a temporary table and upserts follow one by one.

    No statement writes a table that it also decides from by ``NOT EXISTS``: such an insert on a
    table planned as empty scanned it once per row, and a first recompute of 100,000 accounts
    took minutes. (The join reads the current scores before any write; all CTEs of a statement
    see the same snapshot.)"""
    postgres = connection.vendor == "postgresql"
    distinct, same = ("IS DISTINCT FROM", "IS NOT DISTINCT FROM") if postgres else ("IS NOT", "IS")
    week_ago = as_of - dt.timedelta(days=7)
    unchanged = " AND ".join(
        f"s.{column} {same} x.{column}" for column in ("score", "band", "csm_score", "customer_score", "breakdown")
    )
    joined = (
        "SELECT x.account_id, x.score, x.band, x.csm_score, x.customer_score, "  # noqa: S608
        "x.breakdown, x.score - CASE WHEN w.account_id IS NOT NULL THEN w.score ELSE (SELECT p.score "
        "FROM health_healthsnapshot p WHERE p.tenant_id = %s AND p.account_id = x.account_id AND p.day <= %s "
        "ORDER BY p.day DESC LIMIT 1) END AS change_7d, s.band AS old_band, s.score AS old_score, "
        "s.as_of AS old_as_of, s.change_7d AS old_change_7d, "
        f"(s.account_id IS NOT NULL AND s.as_of = %s AND s.config_id = %s AND {unchanged}) AS same "
        f"FROM {NEW_DOCS} x LEFT JOIN health_healthscore s ON s.account_id = x.account_id "
        "LEFT JOIN health_healthsnapshot w ON w.tenant_id = %s AND w.day = %s AND w.account_id = x.account_id"
    )
    joined_params = [tenant.pk, week_ago, as_of, config.pk, tenant.pk, week_ago]
    band_changes = (
        "INSERT INTO health_bandchange (tenant_id, account_id, day, from_band, to_band, from_score, "  # noqa: S608
        "to_score, config_id, created_at, handled_at) "
        f"SELECT %s, account_id, %s, old_band, band, old_score, score, %s, %s, NULL FROM {NEW_SCORES} "
        "WHERE old_band IS NOT NULL AND old_band <> band AND old_as_of <= %s",
        [tenant.pk, as_of, config.pk, now, as_of],
    )
    score_values = "score, band, csm_score, customer_score, change_7d, breakdown"

    def scores_upsert(where: str, where_params: list) -> tuple[str, list]:
        return (
            f"INSERT INTO health_healthscore AS t (tenant_id, account_id, {score_values}, config_id, as_of, "  # noqa: S608
            f"computed_at) SELECT %s, account_id, {score_values}, %s, %s, %s FROM {NEW_SCORES} n WHERE {where} "
            "ON CONFLICT (account_id) DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in [*score_values.split(", "), "config_id", "as_of", "computed_at"])
            + " WHERE t.as_of <= excluded.as_of",
            [tenant.pk, config.pk, as_of, now, *where_params],
        )

    snapshot_changed = " OR ".join(
        f"t.{column} {distinct} excluded.{column}" for column in ("score", "band", "breakdown", "config_id")
    )

    def snapshots_upsert(where: str) -> tuple[str, list]:
        return (
            "INSERT INTO health_healthsnapshot AS t (tenant_id, account_id, day, score, band, breakdown, "  # noqa: S608
            f"config_id) SELECT %s, account_id, %s, score, band, breakdown, %s FROM {NEW_SCORES} n WHERE {where} "
            "ON CONFLICT (tenant_id, account_id, day) DO UPDATE SET score = excluded.score, band = excluded.band, "
            f"breakdown = excluded.breakdown, config_id = excluded.config_id WHERE {snapshot_changed}",
            [tenant.pk, as_of, config.pk],
        )

    # A replayed past day writes its snapshots whatever the current scores say.
    snapshot_due = "true" if history_only else "NOT n.same"
    # change_7d alone can move (the week-old snapshot is a new day): it is compared too.
    score_moved = f"(NOT n.same OR n.change_7d {distinct} n.old_change_7d)"
    with connection.cursor() as cursor:
        for table in (NEW_DOCS, NEW_SCORES):
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
        _new_docs_load(cursor, result=result, definition=config.definition, postgres=postgres)
        if postgres:
            # Analysed for the hash join's estimate (autovacuum never sees a temporary table).
            cursor.execute(f"ANALYZE {NEW_DOCS} (account_id)")
            # The upserts see only the accounts without a current score, or without the day's
            # snapshot: the UPDATEs rewrote the others.
            steps: list[tuple[str, str, list]] = []
            if not history_only:
                steps.append(("band_changes", band_changes[0] + " RETURNING 1", band_changes[1]))
                steps.append(
                    (
                        "scores_updated",
                        "UPDATE health_healthscore t SET "  # noqa: S608
                        + ", ".join(f"{c} = n.{c}" for c in score_values.split(", "))
                        + f", config_id = %s, as_of = %s, computed_at = %s FROM {NEW_SCORES} n "
                        f"WHERE t.tenant_id = %s AND t.account_id = n.account_id AND {score_moved} "
                        "AND t.as_of <= %s",
                        [config.pk, as_of, now, tenant.pk, as_of],
                    )
                )
                steps.append(("scores_inserted", *scores_upsert("old_as_of IS NULL", [])))
            steps.append(
                (
                    "snapshots_updated",
                    "UPDATE health_healthsnapshot t SET score = n.score, band = n.band, breakdown = n.breakdown, "  # noqa: S608
                    f"config_id = %s FROM {NEW_SCORES} n WHERE t.tenant_id = %s AND t.day = %s "
                    f"AND t.account_id = n.account_id AND {snapshot_due} RETURNING t.account_id",
                    [config.pk, tenant.pk, as_of],
                )
            )
            steps.append(
                (
                    "snapshots_inserted",
                    *snapshots_upsert(
                        f"{snapshot_due} AND n.account_id NOT IN (SELECT account_id FROM snapshots_updated)"  # noqa: S608
                    ),
                )
            )
            ctes = [f"{NEW_SCORES} AS MATERIALIZED ({joined})"]
            ctes += [f"{name} AS ({sql})" for name, sql, _ in steps]
            cursor.execute(
                f"WITH {', '.join(ctes)} SELECT {'0' if history_only else 'count(*) FROM band_changes'}",  # noqa: S608
                [*joined_params, *(param for _, _, params in steps for param in params)],
            )
            changes = cursor.fetchone()[0]
        else:
            # SQLite has no data-modifying CTE: the join is a temporary table, the writes follow.
            cursor.execute(f"CREATE TEMPORARY TABLE {NEW_SCORES} AS {joined}", joined_params)
            changes = 0
            if not history_only:
                cursor.execute(*band_changes)
                changes = cursor.rowcount
                cursor.execute(*scores_upsert(f"{score_moved} AND (n.old_as_of IS NULL OR n.old_as_of <= %s)", [as_of]))
            cursor.execute(*snapshots_upsert(snapshot_due))
            cursor.execute(f"DROP TABLE {NEW_SCORES}")
        cursor.execute(f"DROP TABLE {NEW_DOCS}")
    return changes


# --- Events: signals that queue a recompute of their account ----------------------------------


def health_recompute_soon(*, tenant_id: int, account_id: int) -> None:
    """After the current transaction commits, queue a recompute of one account, coalescing
    bursts (see COALESCE_SECONDS). Called by every service that records an event."""
    transaction.on_commit(lambda: _account_recompute_enqueue(tenant_id, account_id))


def _account_recompute_enqueue(tenant_id: int, account_id: int) -> None:
    from .tasks import recompute_accounts

    if cache.add(f"health:pending:{tenant_id}:{account_id}", 1, timeout=COALESCE_SECONDS):
        recompute_accounts.apply_async(
            kwargs={"tenant_id": tenant_id, "account_ids": [account_id]}, countdown=COALESCE_SECONDS
        )


def _same_tenant(tenant: Tenant, account: Account) -> None:
    if account.tenant_id != tenant.pk:
        raise ValueError("The account belongs to another tenant.")


def usage_day_record(
    *,
    tenant: Tenant,
    account: Account,
    day: dt.date,
    active_users: int,
    licensed_seats: int,
    features: Iterable[TrackedFeature] = (),
) -> UsageDay:
    """Record (or correct) an account's usage of one day."""
    _same_tenant(tenant, account)
    features = list(features)
    if any(feature.tenant_id != tenant.pk for feature in features):
        raise ValidationError({"features": "Choose features your company tracks."})
    if active_users < 0 or licensed_seats < 0:
        raise ValidationError({"active_users": "Users and seats cannot be negative."})
    mask = 0
    for feature in features:
        mask |= 1 << feature.bit
    usage, _ = UsageDay.objects.update_or_create(
        tenant=tenant,
        account=account,
        day=day,
        defaults={"active_users": active_users, "licensed_seats": licensed_seats, "feature_mask": mask},
    )
    health_recompute_soon(tenant_id=tenant.pk, account_id=account.pk)
    return usage


def survey_response_record(
    *,
    tenant: Tenant,
    account: Account,
    kind: str,
    score: int,
    responded_on: dt.date,
    contact: Contact | None = None,
    comment: str = "",
) -> SurveyResponse:
    """Record an NPS (0-10) or CSAT (1-5) answer; out of range raises ``ValidationError`` on ``score``."""
    _same_tenant(tenant, account)
    low, high = (0, 10) if kind == SurveyKind.NPS else (1, 5)
    if not low <= score <= high:
        raise ValidationError({"score": f"A {SurveyKind(kind).label} score is between {low} and {high}."})
    if contact is not None and contact.account_id != account.pk:
        raise ValidationError({"contact": "Choose a contact of this account."})
    response = SurveyResponse.objects.create(
        tenant=tenant,
        account=account,
        contact=contact,
        kind=kind,
        score=score,
        responded_on=responded_on,
        comment=comment,
    )
    health_recompute_soon(tenant_id=tenant.pk, account_id=account.pk)
    return response


def support_ticket_record(
    *,
    tenant: Tenant,
    account: Account,
    subject: str,
    priority: str,
    opened_at: dt.datetime,
    closed_at: dt.datetime | None = None,
) -> SupportTicket:
    _same_tenant(tenant, account)
    if closed_at is not None and closed_at < opened_at:
        raise ValidationError({"closed_at": "A ticket cannot close before it opened."})
    ticket = SupportTicket.objects.create(
        tenant=tenant, account=account, subject=subject, priority=priority, opened_at=opened_at, closed_at=closed_at
    )
    health_recompute_soon(tenant_id=tenant.pk, account_id=account.pk)
    return ticket


def support_ticket_close(*, tenant: Tenant, ticket: SupportTicket, closed_at: dt.datetime) -> SupportTicket:
    """Close an open ticket (a conditional update: closing twice keeps the first time)."""
    if ticket.tenant_id != tenant.pk:
        raise ValueError("The ticket belongs to another tenant.")
    if closed_at < ticket.opened_at:
        raise ValidationError({"closed_at": "A ticket cannot close before it opened."})
    SupportTicket.objects.filter(tenant=tenant, pk=ticket.pk, closed_at__isnull=True).update(closed_at=closed_at)
    ticket.refresh_from_db(fields=["closed_at"])
    health_recompute_soon(tenant_id=tenant.pk, account_id=ticket.account_id)
    return ticket


def invoice_record(
    *,
    tenant: Tenant,
    account: Account,
    number: str,
    amount: Decimal,
    issued_on: dt.date,
    due_on: dt.date,
    paid_on: dt.date | None = None,
) -> Invoice:
    """Record an invoice, or its payment (upsert by number)."""
    _same_tenant(tenant, account)
    if due_on < issued_on:
        raise ValidationError({"due_on": "An invoice cannot be due before it is issued."})
    invoice, _ = Invoice.objects.update_or_create(
        tenant=tenant,
        number=number,
        defaults={"account": account, "amount": amount, "issued_on": issued_on, "due_on": due_on, "paid_on": paid_on},
    )
    health_recompute_soon(tenant_id=tenant.pk, account_id=account.pk)
    return invoice


def marketing_engagement_record(
    *,
    tenant: Tenant,
    account: Account,
    day: dt.date,
    opens: int = 0,
    clicks: int = 0,
    bounces: int = 0,
    opt_outs: int = 0,
) -> MarketingEngagement:
    _same_tenant(tenant, account)
    row, _ = MarketingEngagement.objects.update_or_create(
        tenant=tenant,
        account=account,
        day=day,
        defaults={"opens": opens, "clicks": clicks, "bounces": bounces, "opt_outs": opt_outs},
    )
    health_recompute_soon(tenant_id=tenant.pk, account_id=account.pk)
    return row


def notable_event_record(
    *, tenant: Tenant, account: Account, kind: str, occurred_on: dt.date, note: str = ""
) -> NotableEvent:
    """Record an outage, a merger or acquisition, or a key person change (a risk signal the
    playbooks act on; it does not move the score by itself)."""
    _same_tenant(tenant, account)
    event = NotableEvent.objects.create(tenant=tenant, account=account, kind=kind, occurred_on=occurred_on, note=note)
    health_recompute_soon(tenant_id=tenant.pk, account_id=account.pk)
    return event


def pulse_set(
    *,
    membership: Membership,
    account: Account,
    sentiment: str,
    reason: str,
    expires_on: dt.date,
    note: str = "",
    today: dt.date | None = None,
) -> Pulse:
    """The CSM's sentiment on ``account``: its owner (or a leader or admin) sets it with a
    reason code until ``expires_on`` (1 to 180 days ahead). It is one CSM-actions measure,
    never an override of the score, and it lapses after ``expires_on``."""
    if not can_edit_account(membership, account):
        raise ValidationError({"sentiment": "Only the account's owner, a CS leader or an admin can set the pulse."})
    today = today or tenant_today(membership.tenant)
    if not today < expires_on <= today + dt.timedelta(days=PULSE_LONGEST_DAYS):
        raise ValidationError({"expires_on": f"Choose a day after today and at most {PULSE_LONGEST_DAYS} days ahead."})
    pulse = Pulse.objects.create(
        tenant_id=account.tenant_id,
        account=account,
        set_by=membership.user,
        sentiment=sentiment,
        reason=reason,
        note=note,
        set_on=today,
        expires_on=expires_on,
    )
    health_recompute_soon(tenant_id=account.tenant_id, account_id=account.pk)
    return pulse
