"""Full health recompute of a big tenant, against the floor measured in the same run.

    createdb -h 127.0.0.1 -U postgres csp_bench_health
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/csp_bench_health \
        .venv/bin/python bench/health_recompute.py --accounts 100000

Creates the tables (migrate) and, the first time, seeds one demo tenant of ``--accounts``
accounts with contacts and activities (``csplatform.demo`` without the apps' seeders), then
its health signals straight in SQL (``generate_series``): 90 days of daily usage for every
live account, NPS answers, support tickets, two invoices each, weekly marketing rows and CSM
pulses. Later runs reuse it.

Then, ``--repeat`` times, it runs ``health_recompute`` for the whole tenant (read the signals,
score, write the current scores, the day's snapshots and the band changes) and prints its
seconds and accounts per second with the time of each stage, and the **floor**: one plain SQL
aggregate over the same input rows (the usage, activity, contact-engagement, ticket, invoice,
survey, marketing and pulse rows the recompute reads) plus one set-based write of as many rows
(``INSERT … SELECT`` into an unlogged table), then a rerun with nothing changed (the
hourly case). Before each run the written tables are vacuumed (autovacuum's job, off on this
machine's PostgreSQL), outside the timings; each line shows the load average (the machine is
shared: the ratio to the floor is the robust figure).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csplatform.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django_scopes import scopes_disabled  # noqa: E402

from accounts.services import tenant_today  # noqa: E402
from csplatform import demo  # noqa: E402
from csplatform.models import Tenant  # noqa: E402
from csplatform.tenancy import tenant_scope  # noqa: E402
from health import metrics, scoring, services  # noqa: E402
from health.models import UsageDay  # noqa: E402

SIGNALS_SQL = [
    # 90 days of usage per live account; a fifth declines over the last 40 days, a fifth grows.
    """
    INSERT INTO health_usageday (tenant_id, account_id, day, active_users, licensed_seats, feature_mask)
    SELECT a.tenant_id, a.id, %(today)s::date - d,
           GREATEST(0, (s.seats * (45 + (a.id * 7 + d * 13) %% 50) / 100
               * CASE WHEN a.id %% 5 = 0 AND d < 40 THEN 30 + d ELSE 70 END / 70)::int),
           s.seats, (a.id * 2654435761 + d) %% 256
    FROM accounts_account a
    CROSS JOIN LATERAL (SELECT 5 + a.id %% 200 AS seats) s
    CROSS JOIN generate_series(0, 89) d
    WHERE a.tenant_id = %(tenant)s AND a.lifecycle_stage <> 'churned'
    """,
    """
    INSERT INTO health_surveyresponse (tenant_id, account_id, kind, score, responded_on, comment)
    SELECT a.tenant_id, a.id, 'nps', (a.id * 31 + n) %% 11, %(today)s::date - ((a.id + n * 37) %% 90)::int, ''
    FROM accounts_account a CROSS JOIN generate_series(1, 2) n
    WHERE a.tenant_id = %(tenant)s AND a.lifecycle_stage <> 'churned' AND (a.id + n) %% 3 <> 0
    """,
    """
    INSERT INTO health_supportticket (tenant_id, account_id, subject, priority, opened_at, closed_at)
    SELECT a.tenant_id, a.id, 'Export fails', 'normal',
           (%(today)s::date - ((a.id * 17 + n * 29) %% 90)::int)::timestamptz + interval '10 hours', NULL
    FROM accounts_account a CROSS JOIN generate_series(1, 3) n
    WHERE a.tenant_id = %(tenant)s AND a.lifecycle_stage <> 'churned' AND (a.id + n) %% 4 <> 0
    """,
    """
    INSERT INTO health_invoice (tenant_id, account_id, number, amount, issued_on, due_on, paid_on)
    SELECT a.tenant_id, a.id, 'B-' || a.id || '-' || q, 1000, %(today)s::date - 40 * q,
           %(today)s::date - 40 * q + 30,
           CASE WHEN a.id %% 7 = 0 AND q = 1 THEN NULL ELSE %(today)s::date - 40 * q + 25 END
    FROM accounts_account a CROSS JOIN generate_series(1, 2) q
    WHERE a.tenant_id = %(tenant)s AND a.lifecycle_stage <> 'churned'
    """,
    """
    INSERT INTO health_marketingengagement (tenant_id, account_id, day, opens, clicks, bounces, opt_outs)
    SELECT a.tenant_id, a.id, %(today)s::date - 7 * w, (a.id + w) %% 6, (a.id + w) %% 3,
           (a.id %% 23 = 0 AND w < 4)::int, (a.id %% 97 = 0 AND w = 1)::int
    FROM accounts_account a CROSS JOIN generate_series(0, 12) w
    WHERE a.tenant_id = %(tenant)s AND a.lifecycle_stage <> 'churned'
    """,
    """
    INSERT INTO health_pulse (tenant_id, account_id, set_by_id, sentiment, reason, note, set_on, expires_on,
                              created_at)
    SELECT a.tenant_id, a.id, a.owner_id, (ARRAY['positive', 'neutral', 'negative'])[1 + a.id %% 3], 'adoption', '',
           %(today)s::date - (a.id %% 30)::int, %(today)s::date + 30, now()
    FROM accounts_account a
    WHERE a.tenant_id = %(tenant)s AND a.lifecycle_stage <> 'churned' AND a.owner_id IS NOT NULL AND a.id %% 10 < 3
    """,
]


def seed(accounts: int) -> Tenant:
    with scopes_disabled():
        tenant = Tenant.objects.filter(slug="acme").first()
    if tenant is None:
        demo.APP_SEEDERS = []
        started = time.perf_counter()
        (tenant,) = demo.demo_seed(account_count=accounts, tenant_count=1, log=print)
        print(f"accounts, contacts and activities seeded in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    today = tenant_today(tenant)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO health_trackedfeature (tenant_id, name, bit) "
            "SELECT %s, 'Feature ' || b, b FROM generate_series(0, 7) b",
            [tenant.pk],
        )
        for statement in SIGNALS_SQL:
            cursor.execute(statement, {"today": today, "tenant": tenant.pk})
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"health signals seeded in {time.perf_counter() - started:.1f} s")
    return tenant


def floor_seconds(tenant: Tenant, today: dt.date, accounts: int) -> tuple[float, float]:
    """One plain aggregate over the rows the recompute reads, and one set-based write of
    ``accounts`` rows (score, band and a small JSON each), in seconds."""
    year_ago, quarter_ago, sixty_ago = (today - dt.timedelta(days=n) for n in (365, 89, 59))
    aggregate = """
        SELECT count(*) FROM (
            SELECT account_id, avg(active_users), bit_or(feature_mask) FROM health_usageday
             WHERE tenant_id = %(t)s AND day BETWEEN %(sixty)s AND %(today)s GROUP BY account_id
            UNION ALL
            SELECT account_id, count(*), max(occurred_at)::date - '2000-01-01'::date FROM accounts_activity
             WHERE tenant_id = %(t)s AND occurred_at >= %(year)s GROUP BY account_id
            UNION ALL
            SELECT a.account_id, count(DISTINCT ac.contact_id), count(DISTINCT c.level) FROM accounts_activitycontact ac
              JOIN accounts_activity a ON a.id = ac.activity_id JOIN accounts_contact c ON c.id = ac.contact_id
             WHERE a.tenant_id = %(t)s AND a.occurred_at >= %(year)s GROUP BY a.account_id
            UNION ALL
            SELECT account_id, count(*), 0 FROM health_supportticket
             WHERE tenant_id = %(t)s AND opened_at >= %(quarter)s GROUP BY account_id
            UNION ALL
            SELECT account_id, count(*), count(*) FILTER (WHERE paid_on IS NULL) FROM health_invoice
             WHERE tenant_id = %(t)s GROUP BY account_id
            UNION ALL
            SELECT account_id, max(score), 0 FROM health_surveyresponse
             WHERE tenant_id = %(t)s AND responded_on > %(year)s GROUP BY account_id
            UNION ALL
            SELECT account_id, sum(opens), sum(bounces) FROM health_marketingengagement
             WHERE tenant_id = %(t)s AND day > %(quarter)s GROUP BY account_id
            UNION ALL
            SELECT account_id, count(*), 0 FROM health_pulse
             WHERE tenant_id = %(t)s AND expires_on >= %(today)s GROUP BY account_id
        ) inputs
    """
    params = {"t": tenant.pk, "today": today, "year": year_ago, "quarter": quarter_ago, "sixty": sixty_ago}
    with transaction.atomic(), connection.cursor() as cursor:
        # The settings the recompute runs with (memory for its aggregates, no JIT): the same
        # conditions for both.
        metrics.recompute_settings_apply()
        started = time.perf_counter()
        cursor.execute(aggregate, params)
        cursor.fetchall()  # one row
        read = time.perf_counter() - started
        cursor.execute("DROP TABLE IF EXISTS bench_floor_write")
        cursor.execute(
            "CREATE UNLOGGED TABLE bench_floor_write (account_id bigint PRIMARY KEY, score smallint, "
            "band varchar(8), breakdown jsonb)"
        )
        started = time.perf_counter()
        cursor.execute(
            "INSERT INTO bench_floor_write SELECT id, id %% 100, 'green', jsonb_build_object('nps', id %% 100) "
            "FROM accounts_account WHERE tenant_id = %s ORDER BY id LIMIT %s",
            [tenant.pk, accounts],
        )
        write = time.perf_counter() - started
        cursor.execute("DROP TABLE bench_floor_write")
    return read, write


def timed_recompute(tenant: Tenant, today: dt.date) -> tuple[float, dict[str, float], int]:
    stages: dict[str, float] = {}

    def timing(name, function):
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                stages[name] = stages.get(name, 0.0) + time.perf_counter() - started

        return wrapper

    originals = (services.health_inputs, scoring.score_accounts, services._scores_write)
    services.health_inputs = timing("read (aggregates → frame)", metrics.health_inputs)
    services.scoring.score_accounts = timing("score (pandas)", scoring.score_accounts)
    services._scores_write = timing("write (COPY + upserts)", services._scores_write)
    try:
        started = time.perf_counter()
        result = services.health_recompute(tenant=tenant, as_of=today)
        total = time.perf_counter() - started
    finally:
        services.health_inputs, scoring.score_accounts, services._scores_write = originals
    return total, stages, result.accounts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("The benchmark needs PostgreSQL: set DATABASE_URL.")
    call_command("migrate", verbosity=0)
    with scopes_disabled():
        tenant = Tenant.objects.filter(slug="acme").first()
        seeded = tenant is not None and UsageDay.objects.filter(tenant=tenant).exists()
    if not seeded:
        tenant = seed(args.accounts)
    with tenant_scope(tenant):
        today = tenant_today(tenant)
        definition = services.health_config_active(tenant=tenant).definition
        for run in range(1, args.repeat + 1):
            # A new configuration version each run (as when the admin saves the settings page),
            # so every current score and snapshot row is rewritten, not skipped as unchanged.
            definition["halves"] = {"csm": 60 - run % 2, "customer": 40 + run % 2}
            services.health_config_publish(tenant=tenant, definition=definition, author=None, recompute=False)
            as_of = today
            vacuum()
            load = load_average()
            total, stages, scored = timed_recompute(tenant, as_of)
            read, write = floor_seconds(tenant, as_of, scored)
            floor = read + write
            print(
                f"run {run} (load average {load}): {scored:,} accounts in {total:.2f} s = "
                f"{scored / total:,.0f} accounts/s; "
                + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in stages.items())
            )
            print(
                f"        floor {floor:.2f} s (aggregate {read:.2f} s + write {write:.2f} s); "
                f"recompute / floor = {total / floor:.1f}x"
            )
            # The hourly case: the same data and version again, nothing to write.
            again, stages, _ = timed_recompute(tenant, as_of)
            print(
                f"        rerun with nothing changed: {again:.2f} s; "
                + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in stages.items())
            )


def vacuum() -> None:
    """What autovacuum does between two hourly recomputes (it is off on some machines, this
    one included): without it every rewrite of 100,000 scores leaves as many dead rows and
    each run is slower than the last. Not timed."""
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE health_healthscore, health_healthsnapshot, health_bandchange")


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


if __name__ == "__main__":
    main()
