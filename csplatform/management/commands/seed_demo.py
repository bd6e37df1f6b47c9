"""``manage.py seed_demo``: the demo tenants (see ``csplatform.demo``)."""

from __future__ import annotations

import datetime as dt
import time

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from csplatform import demo
from csplatform.models import Tenant


class Command(BaseCommand):
    help = (
        "Create the demo tenants with users, accounts, subscription history, contacts and activities. "
        "The first tenant gets --accounts accounts, the others at most 300."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--if-empty", action="store_true", help="Do nothing when any tenant exists.")
        parser.add_argument(
            "--accounts", type=int, default=demo.DEFAULT_ACCOUNT_COUNT, help="Accounts of the first tenant."
        )
        parser.add_argument("--tenants", type=int, default=2, help=f"How many tenants (1-{len(demo.DEMO_TENANTS)}).")
        parser.add_argument("--seed", type=int, default=42, help="Same seed and day, same data.")
        parser.add_argument(
            "--today", type=dt.date.fromisoformat, help="Reference day, YYYY-MM-DD (default: each tenant's today)."
        )
        parser.add_argument(
            "--no-copy", action="store_true", help="On PostgreSQL, write with batched INSERTs instead of COPY."
        )

    def handle(self, *args, **options) -> None:
        if options["if_empty"] and Tenant.objects.exists():
            self.stdout.write("Tenants exist already: no demo data added.")
            return
        if options["accounts"] < 1:
            raise CommandError("--accounts must be at least 1.")
        started = time.monotonic()
        try:
            demo.demo_seed(
                account_count=options["accounts"],
                tenant_count=options["tenants"],
                seed=options["seed"],
                today=options["today"],
                use_copy=False if options["no_copy"] else None,
                log=self.stdout.write,
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        if connection.vendor == "postgresql" and not connection.in_atomic_block:
            # Set the visibility map as autovacuum would: the portfolio's totals then read the
            # (tenant, arr) index alone. VACUUM cannot run inside a transaction (nor in a test).
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
        self.stdout.write(
            self.style.SUCCESS(f"Demo data ready in {time.monotonic() - started:.1f} s. ")
            + f"Every demo login's password is {demo.DEMO_PASSWORD!r} (manage.py demo_logins lists them)."
        )
