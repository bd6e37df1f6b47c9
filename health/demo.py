"""Demo signals: 90+ days of usage, surveys, tickets, invoices, marketing, notable events and
CSM pulses, then the scores and their 90-day trend.

Each live account gets a story: most are steady, some visibly decline over the last six weeks
(fewer active users, features dropped, unhappy NPS, more tickets, a late invoice, marketing
opt-outs) and some grow. Rows are planned as plain tuples and written set-based
(``csplatform.bulk``). The trend is the real score replayed as of past days
(``health_recompute(as_of=...)``), so the chart and "why it changed" show what the data did.

A load-test tenant (over ``LARGE_TENANT_ACCOUNTS``) gets fortnightly usage and monthly
marketing rows and one replayed day (7 days ago: the trend arrow and the 7-day "why it
changed"), to stay inside the seed's time budget; every kind of signal is still there.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable
from decimal import Decimal

from django.db import connection

from accounts.models import Account, LifecycleStage, TouchModel
from csplatform import bulk
from csplatform.demo import LARGE_TENANT_ACCOUNTS
from csplatform.models import Tenant

from .models import (
    Invoice,
    MarketingEngagement,
    NotableEvent,
    NotableEventKind,
    Pulse,
    PulseReason,
    Sentiment,
    SupportTicket,
    SurveyResponse,
    TicketPriority,
    TrackedFeature,
    UsageDay,
)
from .services import health_recompute

HISTORY_DAYS = 91
FEATURES = (
    "Dashboards",
    "Scheduled reports",
    "Alerts",
    "Data connectors",
    "Sharing",
    "API access",
    "Workflows",
    "AI assistant",
)
STORIES = {"steady": 70, "declining": 15, "growing": 15}
TICKET_SUBJECTS = (
    "Export fails",
    "Login trouble",
    "Slow dashboard",
    "Billing question",
    "Connector error",
    "SSO setup",
)

USAGE_COLUMNS = ("tenant_id", "account_id", "day", "active_users", "licensed_seats", "feature_mask")
SURVEY_COLUMNS = ("tenant_id", "account_id", "kind", "score", "responded_on", "comment")
TICKET_COLUMNS = ("tenant_id", "account_id", "subject", "priority", "opened_at", "closed_at")
INVOICE_COLUMNS = ("tenant_id", "account_id", "number", "amount", "issued_on", "due_on", "paid_on")
MARKETING_COLUMNS = ("tenant_id", "account_id", "day", "opens", "clicks", "bounces", "opt_outs")
EVENT_COLUMNS = ("tenant_id", "account_id", "kind", "occurred_on", "note")
PULSE_COLUMNS = (
    "tenant_id",
    "account_id",
    "set_by_id",
    "sentiment",
    "reason",
    "note",
    "set_on",
    "expires_on",
    "created_at",
)


def _factor(story: str, days_ago: int) -> float:
    """Usage relative to the account's normal, by story: a decline starts six weeks ago."""
    if story == "declining":
        return 1.0 if days_ago > 42 else 0.3 + 0.7 * days_ago / 42
    if story == "growing":
        return 0.65 + 0.45 * (HISTORY_DAYS - days_ago) / HISTORY_DAYS
    return 1.0


def health_seed(
    *, tenant: Tenant, rng: random.Random, today: dt.date, use_copy: bool, log: Callable[[str], None]
) -> None:
    started = time.monotonic()
    accounts = list(
        Account.objects.filter(tenant=tenant)
        .exclude(lifecycle_stage=LifecycleStage.CHURNED)
        .order_by("pk")
        .values_list("pk", "employee_count", "segment__touch_model", "owner_id", "arr")
    )
    large = len(accounts) > LARGE_TENANT_ACCOUNTS
    usage_step, marketing_step = (14, 30) if large else (1, 7)
    TrackedFeature.objects.bulk_create(
        TrackedFeature(tenant=tenant, name=name, bit=bit) for bit, name in enumerate(FEATURES)
    )
    if large and use_copy:
        # The load-test tenant on PostgreSQL: the same stories planned by the database itself.
        counts = _signals_sql(tenant=tenant, today=today, seed=rng.random())
        written = time.monotonic()
        replay = [today - dt.timedelta(days=7)]
        for day in replay:  # the week-old snapshots only: today's run writes the current scores
            health_recompute(tenant=tenant, as_of=day, history_only=True)
        health_recompute(tenant=tenant, as_of=today)
        log(
            f"{tenant.name}: health signals in SQL ({', '.join(f'{n:,} {name}' for name, n in counts.items())}) in "
            f"{written - started:.1f} s; {len(replay) + 1} recomputes in {time.monotonic() - written:.1f} s"
        )
        return
    tenant_id = tenant.pk
    usage, surveys, tickets, invoices, marketing, events, pulses = [], [], [], [], [], [], []
    stories = rng.choices(list(STORIES), weights=list(STORIES.values()), k=len(accounts))
    # Enum ``.values`` builds a new list on each call: once, not once per row.
    priorities, event_kinds, pulse_reasons = TicketPriority.values, NotableEventKind.values, PulseReason.values
    # Per story and day, computed once: (day, usage factor x weekend dip, features kept of 8).
    usage_days = {
        story: [
            (
                today - dt.timedelta(days=days_ago),
                _factor(story, days_ago)
                * (0.35 if usage_step == 1 and (today - dt.timedelta(days=days_ago)).weekday() >= 5 else 1.0),
                min(_factor(story, days_ago), 1.0) if story == "declining" else 1.0,
            )
            for days_ago in range(HISTORY_DAYS - 1, -1, -usage_step)
        ]
        for story in STORIES
    }
    for (account_id, employees, touch, owner_id, arr), story in zip(accounts, stories, strict=True):
        seats = max(5, min(int((employees or 50) * rng.uniform(0.05, 0.3)), 5_000))
        utilisation = rng.uniform(0.45, 0.95)
        used = rng.sample(range(len(FEATURES)), rng.randint(2, len(FEATURES)))
        # Masks of the first n features used, for n = 0..len(used): a declining account drops some.
        kept_masks = [sum(1 << bit for bit in used[:n]) for n in range(len(used) + 1)]
        for day, factor, kept in usage_days[story]:
            active = int(seats * min(utilisation * factor * rng.uniform(0.9, 1.1), 1.0))
            keep = max(1, round(len(used) * kept))
            # Each kept feature used that day with probability 3/4 (two random bytes OR-ed).
            mask = kept_masks[keep] & (rng.getrandbits(8) | rng.getrandbits(8))
            usage.append((tenant_id, account_id, day, active, seats, mask))
        # NPS: one or two answers in the window; a declining account's latest one is unhappy.
        for _ in range(rng.randint(0, 2)):
            days_ago = rng.randint(0, HISTORY_DAYS - 1)
            if story == "declining" and days_ago < 42:
                score = rng.randint(0, 6)
            elif story == "growing":
                score = rng.randint(8, 10)
            else:
                score = rng.choices(range(11), weights=(1, 1, 1, 1, 2, 3, 5, 9, 12, 10, 8))[0]
            surveys.append((tenant_id, account_id, "nps", score, today - dt.timedelta(days=days_ago), ""))
        # Tickets: a steady trickle, a burst for a declining account.
        for _ in range(rng.randint(0, 3) + (rng.randint(3, 8) if story == "declining" else 0)):
            days_ago = rng.randint(0, 41 if story == "declining" else HISTORY_DAYS - 1)
            opened = dt.datetime.combine(today - dt.timedelta(days=days_ago), dt.time(10), tzinfo=dt.UTC)
            closed = opened + dt.timedelta(hours=rng.randint(2, 96)) if days_ago > 3 else None
            priority = rng.choices(priorities, weights=(3, 6, 2, 1))[0]
            tickets.append((tenant_id, account_id, rng.choice(TICKET_SUBJECTS), priority, opened, closed))
        # Quarterly invoices; a declining account may leave the latest unpaid past its due date.
        amount = (Decimal(arr) / 4).quantize(Decimal("0.01")) if arr else Decimal("1000.00")
        for quarter in range(2):
            issued = today - dt.timedelta(days=(100 if quarter == 0 else 55) - rng.randint(0, 20))
            due = issued + dt.timedelta(days=30)
            late = story == "declining" and rng.random() < 0.5 and due < today
            paid = None if late or due >= today else min(due + dt.timedelta(days=rng.randint(-10, 5)), today)
            invoices.append((tenant_id, account_id, f"INV-{account_id}-{quarter + 1}", amount, issued, due, paid))
        for days_ago in range(HISTORY_DAYS - 1, -1, -marketing_step):
            factor = _factor(story, days_ago)
            opens = int(rng.randint(0, 6) * factor)
            bad = story == "declining" and days_ago < 30 and rng.random() < 0.25
            marketing.append(
                (
                    tenant_id,
                    account_id,
                    today - dt.timedelta(days=days_ago),
                    opens,
                    int(opens * rng.uniform(0, 0.5)),
                    1 if bad else 0,
                    1 if bad and rng.random() < 0.3 else 0,
                )
            )
        if rng.random() < (0.15 if story == "declining" else 0.03):
            kind = rng.choice(event_kinds)
            when = today - dt.timedelta(days=rng.randint(0, HISTORY_DAYS - 1))
            events.append((tenant_id, account_id, kind, when, "Recorded from the account team's notes"))
        if owner_id is not None and touch != TouchModel.TECH and rng.random() < 0.3:
            sentiment = {"declining": Sentiment.NEGATIVE, "growing": Sentiment.POSITIVE}.get(
                story, rng.choice([Sentiment.POSITIVE, Sentiment.NEUTRAL])
            )
            set_on = today - dt.timedelta(days=rng.randint(0, 40))
            reason = PulseReason.ADOPTION if story == "declining" else rng.choice(pulse_reasons)
            created = dt.datetime.combine(set_on, dt.time(16), tzinfo=dt.UTC)
            expires = set_on + dt.timedelta(days=rng.randint(30, 90))
            pulses.append((tenant_id, account_id, owner_id, sentiment, reason, "", set_on, expires, created))
    write = bulk.rows_copy if use_copy else bulk.rows_insert
    for model, columns, rows in (
        (UsageDay, USAGE_COLUMNS, usage),
        (SurveyResponse, SURVEY_COLUMNS, surveys),
        (SupportTicket, TICKET_COLUMNS, tickets),
        (Invoice, INVOICE_COLUMNS, invoices),
        (MarketingEngagement, MARKETING_COLUMNS, marketing),
        (NotableEvent, EVENT_COLUMNS, events),
        (Pulse, PULSE_COLUMNS, pulses),
    ):
        write(model, columns, rows)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE health_usageday, health_marketingengagement, health_supportticket")
    written = time.monotonic()
    # The trend: the score replayed as of past days, oldest first, then today.
    if large:
        replay = [today - dt.timedelta(days=7)]  # the 7-day arrow and comparison; time budget
    else:
        # Every day of the last month (what "why it changed" and the arrow compare with) and
        # every third day before it: the 90-day chart has 50 points, not a handful.
        replay = sorted({today - dt.timedelta(days=d) for d in (*range(HISTORY_DAYS - 1, 30, -3), *range(30, 0, -1))})
    for day in [*replay, today]:
        health_recompute(tenant=tenant, as_of=day)
    log(
        f"{tenant.name}: health signals ({len(usage):,} usage rows, {len(surveys):,} surveys, "
        f"{len(tickets):,} tickets, "
        f"{len(invoices):,} invoices, {len(marketing):,} marketing rows, {len(pulses):,} pulses) in "
        f"{written - started:.1f} s; {len(replay) + 1} recomputes in {time.monotonic() - written:.1f} s"
    )


# The load-test tenant's signals planned in SQL (``generate_series``), like the Python plan above
# in kind: stories (70 % steady, 15 % declining over the last six weeks, 15 % growing), usage
# every 14 days with features dropped by the declining, NPS, tickets (a burst when declining),
# two invoices (a declining account may leave the latest unpaid), monthly marketing rows with
# bounces and opt-outs when declining, notable events and CSM pulses. ``setseed`` makes
# ``random()`` repeatable. A LATERAL subquery that names no outer column runs once, so each
# one that draws per row names one (``+ 0 * p.id``). %(t)s: the tenant, %(today)s: the reference day.
SIGNALS_SQL = {
    "plans": """
        CREATE TEMPORARY TABLE health_demo_plan AS
        SELECT a.id, a.owner_id, s.touch_model, COALESCE(a.arr, 0) AS arr,
               CASE WHEN r.story < 0.70 THEN 'steady' WHEN r.story < 0.85 THEN 'declining' ELSE 'growing' END AS story,
               GREATEST(5, LEAST((COALESCE(a.employee_count, 50) * (0.05 + 0.25 * random()))::int, 5000)) AS seats,
               0.45 + 0.5 * random() AS utilisation,
               ((random() * 255)::int | 3) AS used_mask
        FROM accounts_account a
        LEFT JOIN accounts_segment s ON s.id = a.segment_id
        CROSS JOIN LATERAL (SELECT random() + 0 * a.id AS story) r
        WHERE a.tenant_id = %(t)s AND a.lifecycle_stage <> 'churned'
        ORDER BY a.id
    """,
    "usage rows": """
        INSERT INTO health_usageday (tenant_id, account_id, day, active_users, licensed_seats, feature_mask)
        SELECT %(t)s, p.id, %(today)s::date - d, LEAST(p.seats, (p.seats * p.utilisation * f.factor
                   * (0.9 + 0.2 * random()))::int), p.seats,
               (p.used_mask & CASE WHEN p.story = 'declining' AND d < 42 THEN (1 << GREATEST(1, d / 6)) - 1
                                   ELSE 255 END) & ((random() * 255)::int | (random() * 255)::int)
        FROM health_demo_plan p CROSS JOIN generate_series(90, 0, -14) d
        CROSS JOIN LATERAL (SELECT CASE WHEN p.story = 'declining' AND d <= 42 THEN 0.3 + 0.7 * d / 42.0
                                        WHEN p.story = 'growing' THEN 0.65 + 0.45 * (91 - d) / 91.0
                                        ELSE 1.0 END AS factor) f
        ORDER BY p.id, d DESC
    """,
    "surveys": """
        INSERT INTO health_surveyresponse (tenant_id, account_id, kind, score, responded_on, comment)
        SELECT %(t)s, p.id, 'nps', CASE
                   WHEN p.story = 'declining' AND x.d < 42 THEN floor(random() * 7)
                   WHEN p.story = 'growing' THEN 8 + floor(random() * 3)
                   WHEN random() < 0.15 THEN floor(random() * 6)
                   ELSE 6 + floor(random() * 5) END, %(today)s::date - x.d, ''
        FROM health_demo_plan p CROSS JOIN generate_series(1, 2) n
        CROSS JOIN LATERAL (SELECT floor(random() * 90 + 0 * p.id + 0 * n)::int AS d, random() + 0 * n AS keep) x
        WHERE x.keep < 0.5
    """,
    "tickets": """
        INSERT INTO health_supportticket (tenant_id, account_id, subject, priority, opened_at, closed_at)
        SELECT %(t)s, p.id, (ARRAY['Export fails', 'Login trouble', 'Slow dashboard', 'Billing question',
                                   'Connector error', 'SSO setup'])[1 + floor(random() * 6)::int],
               (ARRAY['low', 'normal', 'normal', 'normal', 'high', 'urgent'])[1 + floor(random() * 6)::int],
               o.opened, CASE WHEN o.d > 3 THEN o.opened + (2 + floor(random() * 94)) * interval '1 hour' END
        FROM health_demo_plan p
        CROSS JOIN generate_series(1, 11) n
        CROSS JOIN LATERAL (SELECT floor(random() * CASE WHEN p.story = 'declining' THEN 42 ELSE 90 END)::int AS d) x
        CROSS JOIN LATERAL (SELECT x.d, (%(today)s::date - x.d)::timestamp AT TIME ZONE 'UTC'
                                        + interval '10 hours' AS opened) o
        WHERE n <= CASE WHEN p.story = 'declining' THEN 5 ELSE 1 END + (p.id %% 3)
    """,
    "invoices": """
        INSERT INTO health_invoice (tenant_id, account_id, number, amount, issued_on, due_on, paid_on)
        SELECT %(t)s, p.id, 'INV-' || p.id || '-' || q, CASE WHEN p.arr > 0 THEN round(p.arr / 4, 2) ELSE 1000 END,
               i.issued, i.issued + 30,
               CASE WHEN i.issued + 30 >= %(today)s::date THEN NULL
                    WHEN p.story = 'declining' AND q = 2 AND random() < 0.5 THEN NULL
                    ELSE LEAST(i.issued + 30 + (floor(random() * 16) - 10)::int, %(today)s::date) END
        FROM health_demo_plan p CROSS JOIN generate_series(1, 2) q
        CROSS JOIN LATERAL (SELECT %(today)s::date - (CASE WHEN q = 1 THEN 100 ELSE 55 END)
                                   + floor(random() * 21 + 0 * p.id)::int AS issued) i
    """,
    "marketing rows": """
        INSERT INTO health_marketingengagement (tenant_id, account_id, day, opens, clicks, bounces, opt_outs)
        SELECT %(t)s, p.id, %(today)s::date - d, m.opens, floor(m.opens * random() * 0.5), m.bad::int,
               (m.bad AND random() < 0.3)::int
        FROM health_demo_plan p CROSS JOIN generate_series(90, 0, -30) d
        CROSS JOIN LATERAL (SELECT floor(random() * 7 * CASE WHEN p.story = 'declining' AND d <= 42
                                   THEN 0.3 + 0.7 * d / 42.0 ELSE 1 END)::int AS opens,
                                   p.story = 'declining' AND d < 30 AND random() < 0.25 AS bad) m
    """,
    "notable events": """
        INSERT INTO health_notableevent (tenant_id, account_id, kind, occurred_on, note)
        SELECT %(t)s, p.id, (ARRAY['outage', 'merger_acquisition', 'key_person_change'])[1 + floor(random() * 3)::int],
               %(today)s::date - floor(random() * 91)::int, 'Recorded from the account team''s notes'
        FROM health_demo_plan p
        WHERE random() < CASE WHEN p.story = 'declining' THEN 0.15 ELSE 0.03 END
    """,
    "pulses": """
        INSERT INTO health_pulse (tenant_id, account_id, set_by_id, sentiment, reason, note, set_on, expires_on,
                                  created_at)
        SELECT %(t)s, p.id, p.owner_id,
               CASE p.story WHEN 'declining' THEN 'negative' WHEN 'growing' THEN 'positive'
                    ELSE (ARRAY['positive', 'neutral'])[1 + floor(random() * 2)::int] END,
               CASE WHEN p.story = 'declining' THEN 'adoption'
                    ELSE (ARRAY['relationship', 'adoption', 'product_fit', 'support', 'budget', 'organisation',
                                'expansion'])[1 + floor(random() * 7)::int] END,
               '', s.set_on, s.set_on + 30 + floor(random() * 61)::int,
               s.set_on::timestamp AT TIME ZONE 'UTC' + interval '16 hours'
        FROM health_demo_plan p
        CROSS JOIN LATERAL (SELECT %(today)s::date - floor(random() * 41 + 0 * p.id)::int AS set_on) s
        WHERE p.owner_id IS NOT NULL AND p.touch_model IS DISTINCT FROM 'tech' AND random() < 0.3
    """,
}


def _signals_sql(*, tenant: Tenant, today: dt.date, seed: float) -> dict[str, int]:
    """Write the load-test tenant's signals with ``SIGNALS_SQL`` (PostgreSQL); rows per kind."""
    counts = {}
    params = {"t": tenant.pk, "today": today}
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS health_demo_plan")
        cursor.execute("SELECT setseed(%s)", [seed * 2 - 1])
        for name, statement in SIGNALS_SQL.items():
            cursor.execute(statement, params)
            if name != "plans":
                counts[name] = cursor.rowcount
        cursor.execute("DROP TABLE health_demo_plan")
        cursor.execute("ANALYZE health_usageday, health_marketingengagement, health_supportticket")
    return counts
