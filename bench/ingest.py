"""Event ingestion throughput: batches of 10,000 events through ``POST /api/v1/events/``.

    createdb -h 127.0.0.1 -U postgres csp_bench_ingest
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/csp_bench_ingest \
        .venv/bin/python bench/ingest.py --batches 10

Migrates, and the first time creates a tenant "Ingest bench" with ``--accounts`` accounts
(external ids ``EXT-<n>``), an admin and an API key. Then posts ``--batches`` batches of
``--size`` new events (70% usage days, 10% marketing days, 8% support tickets, 6% NPS answers,
4% invoices, 2% notable events; every natural key new, so every event is an insert) through
Django's test client in this process: JSON parsing, key authentication, throttling,
validation, the COPY + ``INSERT … SELECT`` writes and the commit are all in the timing; the
health recompute is queued (the cache round trips are timed) but the broker call is stubbed,
so no worker is needed. Finally it replays one batch (every event a duplicate).

Prints each batch's seconds and events/s, the total, and the load average beside them: the
machine's cores are shared, so read the figures with it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csplatform.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402
from django_scopes import scopes_disabled  # noqa: E402

from accounts.models import Account  # noqa: E402
from api.keys import api_key_create  # noqa: E402
from api.models import ApiKey  # noqa: E402
from csplatform.bulk import ids_reserve, rows_copy  # noqa: E402
from csplatform.models import Tenant, User  # noqa: E402

TENANT_SLUG = "ingest-bench"
START = dt.date(2020, 1, 1)


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def backend_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of this connection's PostgreSQL backend, from /proc: with the
    cores shared, CPU seconds say what the work costs whatever else runs beside it."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tenant_prepare(accounts: int) -> tuple[Tenant, str]:
    with scopes_disabled():
        tenant = Tenant.objects.filter(slug=TENANT_SLUG).first()
        if tenant is None:
            tenant = Tenant.objects.create(name="Ingest bench", slug=TENANT_SLUG)
        if not Account.objects.filter(tenant=tenant).exists():
            first, now = ids_reserve(Account, accounts), timezone.now()
            rows_copy(
                Account,
                ("id", "tenant_id", "name", "external_id", "created_at", "updated_at"),
                [(first + n, tenant.pk, f"Account {n}", f"EXT-{n}", now, now) for n in range(accounts)],
            )
            print(f"seeded {accounts:,} accounts")
        user, _ = User.objects.get_or_create(email="bench-admin@ingest.example")  # the key's creator
        ApiKey.objects.filter(tenant=tenant).delete()
        key = api_key_create(tenant=tenant, name="bench", by=user).plain_key
        count = Account.objects.filter(tenant=tenant).count()
    return tenant, key, count


def batch(number: int, size: int, accounts: int, run: str) -> list[dict]:
    """``size`` events with new ids and new natural keys (batch ``number`` covers new days)."""
    events = []
    for n in range(size):
        account = f"EXT-{n % accounts}"
        day = START + dt.timedelta(days=number * (size // accounts + 1) + n // accounts)
        event_id = f"{run}-{number}-{n}"
        share = n % 50
        base = {"event_id": event_id, "account_external_id": account}
        if share < 35:
            events.append({**base, "type": "usage_day", "day": day.isoformat(), "active_users": n % 40,
                           "licensed_seats": 50, "feature_mask": n % 255})  # fmt: skip
        elif share < 40:
            events.append({**base, "type": "marketing_engagement", "day": day.isoformat(), "opens": 3, "clicks": 1})
        elif share < 44:
            events.append({**base, "type": "support_ticket", "subject": "Export fails", "priority": "normal",
                           "opened_at": f"{day.isoformat()}T10:00:00Z"})  # fmt: skip
        elif share < 47:
            events.append({**base, "type": "survey_response", "kind": "nps", "score": n % 11,
                           "responded_on": day.isoformat()})  # fmt: skip
        elif share < 49:
            due = (day + dt.timedelta(days=30)).isoformat()
            events.append({**base, "type": "invoice", "number": event_id, "amount": "1200.00",
                           "issued_on": day.isoformat(), "due_on": due})  # fmt: skip
        else:
            events.append({**base, "type": "notable_event", "kind": "outage", "occurred_on": day.isoformat()})
    return events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--size", type=int, default=10_000)
    args = parser.parse_args()
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        sys.exit("Set DATABASE_URL to a PostgreSQL database (see the docstring).")
    call_command("migrate", verbosity=0, skip_checks=True)
    settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {"api_key": "100000/min", "api_ingest": "100000/min"}
    _tenant, key, accounts = tenant_prepare(args.accounts)
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    client = Client(headers={"Authorization": f"Bearer {key}"})
    run = f"r{int(time.time())}"
    bodies = [json.dumps({"events": batch(b, args.size, accounts, run)}) for b in range(args.batches)]
    print(f"{args.batches} batches of {args.size:,} events, {accounts:,} accounts; load average before {loadavg()}")
    total = cpu_total = 0.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    with mock.patch("health.tasks.recompute_accounts.apply_async") as enqueue:
        for number, body in enumerate(bodies):
            started, cpu_started, db_started = time.perf_counter(), time.process_time(), backend_cpu_seconds(backend)
            response = client.post("/api/v1/events/", body, content_type="application/json")
            seconds = time.perf_counter() - started
            cpu = time.process_time() - cpu_started + backend_cpu_seconds(backend) - db_started
            cpu_total += cpu
            result = response.json()
            if response.status_code != 200 or result["rejected"]:
                sys.exit(f"batch {number + 1} failed: {str(result)[:500]}")
            total += seconds
            print(
                f"batch {number + 1:>2}: {seconds:6.3f} s wall {len(result['accepted']) / seconds:>9,.0f} events/s; "
                f"{cpu:.3f} CPU-s (Django + PostgreSQL backend) {len(result['accepted']) / cpu:>9,.0f} events/CPU-s"
            )
        started = time.perf_counter()
        result = client.post("/api/v1/events/", bodies[0], content_type="application/json").json()
        replay = time.perf_counter() - started
        assert not result["accepted"]
        assert len(result["duplicates"]) == args.size
    events = args.batches * args.size
    print(f"total: {events:,} events in {total:.2f} s = {events / total:,.0f} events/s (load average {loadavg()})")
    print(f"CPU: {cpu_total:.2f} CPU-s = {events / cpu_total:,.0f} events per CPU-second (what one idle core would do)")
    print(f"replay of one batch (all duplicates, nothing written): {replay:.3f} s = {args.size / replay:,.0f} events/s")
    print(f"recomputes queued: {enqueue.call_count} (one per batch, coalesced per account)")


if __name__ == "__main__":
    main()
