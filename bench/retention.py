"""Retention dashboard numbers on a big tenant: trailing twelve months, sliced by segment and product.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/csp_bench_retention \
        .venv/bin/python bench/retention.py --accounts 100000

Creates the database's tables (migrate), seeds one demo tenant of ``--accounts`` accounts with
about three years of lines (only the renewals seeder among the apps' seeders, which builds the
ARR ledger and its monthly snapshot), then times what the dashboard computes for the trailing
twelve months: the headline (account retention in total), account retention by segment and
product wallet retention by product, each read from the monthly snapshot and aggregated in the
database (``renewals.retention.summary_frame``). Prints the seconds of each step (best of
``--repeat``), and, for comparison, the pandas path over the whole ledger that round 1 used.
``--rebuild`` rebuilds the ledger and snapshot of the seeded tenant first (and times that).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csplatform.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django_scopes import scopes_disabled  # noqa: E402

from accounts.services import tenant_today  # noqa: E402
from csplatform import demo  # noqa: E402
from csplatform.models import Tenant  # noqa: E402
from csplatform.tenancy import tenant_scope  # noqa: E402
from renewals import metrics, queries, retention  # noqa: E402
from renewals.ledger import ledger_rebuild  # noqa: E402
from renewals.models import ArrMovement, ArrSnapshot  # noqa: E402


def best_of(repeat: int, steps: dict) -> dict[str, float]:
    best: dict[str, float] = {}
    for _ in range(repeat):
        started = time.perf_counter()
        for name, step in steps.items():
            t0 = time.perf_counter()
            step()
            best[name] = min(time.perf_counter() - t0, best.get(name, float("inf")))
        total = time.perf_counter() - started
        best["total"] = min(total, best.get("total", float("inf")))
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rebuild", action="store_true", help="rebuild the ledger and snapshot first")
    parser.add_argument("--no-legacy", action="store_true", help="skip the whole-ledger pandas comparison")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    with scopes_disabled():
        tenant = Tenant.objects.filter(slug="acme").first()
    if tenant is None:
        demo.APP_SEEDERS = ["renewals.demo.renewals_seed"]
        started = time.perf_counter()
        (tenant,) = demo.demo_seed(account_count=args.accounts, tenant_count=1, log=print)
        print(f"seeded in {time.perf_counter() - started:.1f} s")
    with tenant_scope(tenant):
        today = tenant_today(tenant)
        if args.rebuild or not ArrSnapshot.objects.filter(tenant=tenant).exists():
            started = time.perf_counter()
            ledger_rebuild(tenant=tenant, today=today)
            print(f"ledger and snapshot rebuilt in {time.perf_counter() - started:.1f} s")
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE renewals_arrsnapshot")
        print(
            f"ledger rows: {ArrMovement.objects.filter(tenant=tenant).count():,}; "
            f"snapshot rows: {ArrSnapshot.objects.filter(tenant=tenant).count():,}"
        )
        period = metrics.Period.of("ttm", today)
        results = {}

        def run():
            results.update(retention.summaries(tenant=tenant, period=period, slices=("segment", "product")))

        best = best_of(args.repeat, {"total, by segment and by product (one query)": run})
        print(results[None][["accounts_start", "arr_start", "grr", "nrr", "logo_churn"]])
        print(results["segment"][["accounts_start", "arr_start", "grr", "nrr", "logo_churn"]])
        print(results["product"][["accounts_start", "arr_start", "grr", "nrr"]])
        print(f"snapshot + SQL, best of {args.repeat}:", {key: f"{value:.3f} s" for key, value in best.items()})
        if args.no_legacy:
            return

        def legacy():
            ledger = queries.ledger_frame(tenant=tenant, last_month=period.last)
            accounts, bands, _, _ = queries.account_attributes(tenant=tenant)
            positions = metrics.arr_positions(ledger, period)
            metrics.retention_summary(
                metrics.with_slices(metrics.account_changes(positions), accounts, bands), by="segment"
            )
            metrics.retention_summary(metrics.product_changes(positions), by="product_id")

        best = best_of(min(args.repeat, 3), {"whole ledger, pandas": legacy})
        print("round 1's path, for comparison:", {key: f"{value:.3f} s" for key, value in best.items()})


if __name__ == "__main__":
    main()
