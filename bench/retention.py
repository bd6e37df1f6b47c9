"""Retention dashboard numbers and leader questions on a big tenant.

    createdb -h 127.0.0.1 -U postgres csp_bench_retention
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/csp_bench_retention \
        .venv/bin/python bench/retention.py --accounts 100000

On an empty database: migrates, and seeds one demo tenant of ``--accounts`` accounts with about
three years of lines (only the renewals seeder among the apps' seeders, which builds the ARR
ledger; it logs its own time). Then times, ``--repeat`` rounds each, steps interleaved:

- what the dashboard computes for the trailing twelve months: account retention in total and by
  segment, product wallet retention by product, in one query over the ledger's runs
  (``renewals.retention.summaries``), and the same numbers as the dashboard gets them once the
  warm task enqueued by every ledger rebuild has run (``summaries_current``: cached against the
  ledger version, the segment bands and the pinned accounts);
- the leader-questions page (``renewals.queries.leader_questions``), the discount drill-down's
  page of 200 pairs and the tenured-customers CSV rows;
- for comparison, round 1's whole-ledger pandas path and round 2's every-line pandas questions
  (``--no-legacy`` skips them).

Prints the best and the median of each with the load average (the cores are shared).
``--rebuild`` rebuilds the seeded tenant's ledger first and times that."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csplatform.settings")

import django
import pandas as pd

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django_scopes import scopes_disabled  # noqa: E402

from accounts.services import tenant_today  # noqa: E402
from csplatform import demo  # noqa: E402
from csplatform.models import Tenant  # noqa: E402
from csplatform.tenancy import tenant_scope  # noqa: E402
from renewals import metrics, queries, questions, retention  # noqa: E402
from renewals.ledger import ledger_rebuild  # noqa: E402
from renewals.models import ArrMovement, SubscriptionLine  # noqa: E402


def timed(repeat: int, steps: dict) -> dict[str, list[float]]:
    """Seconds of each step, ``repeat`` rounds, the steps interleaved so load from other work
    on the shared cores falls on all of them alike."""
    seconds: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeat):
        for name, step in steps.items():
            started = time.perf_counter()
            step()
            seconds[name].append(time.perf_counter() - started)
    return seconds


def report(title: str, seconds: dict[str, list[float]]) -> None:
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else ["?"]
    print(f"{title} (load average {' '.join(load)}):")
    for name, values in seconds.items():
        print(f"  {name}: best {min(values):.3f} s, median {statistics.median(values):.3f} s ({len(values)} runs)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rebuild", action="store_true", help="rebuild the ledger and snapshot first")
    parser.add_argument("--no-legacy", action="store_true", help="skip the whole-ledger pandas comparison")
    args = parser.parse_args()
    if "renewals_arrmovement" not in connection.introspection.table_names():
        call_command("migrate", verbosity=0)  # a new database; an existing one is measured as it is
    with scopes_disabled():
        tenant = Tenant.objects.filter(slug="acme").first()
    if tenant is None:
        demo.APP_SEEDERS = ["renewals.demo.renewals_seed"]
        started = time.perf_counter()
        (tenant,) = demo.demo_seed(account_count=args.accounts, tenant_count=1, log=print)
        print(f"seeded in {time.perf_counter() - started:.1f} s")
    with tenant_scope(tenant):
        today = tenant_today(tenant)
        if args.rebuild or not ArrMovement.objects.filter(tenant=tenant).exists():
            started = time.perf_counter()
            ledger_rebuild(tenant=tenant, today=today)
            print(f"ledger rebuilt in {time.perf_counter() - started:.1f} s")
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE renewals_arrmovement" if not connection.in_atomic_block else "SELECT 1")
        print(
            f"ledger rows: {ArrMovement.objects.filter(tenant=tenant).count():,} over "
            f"{retention.measured_months(tenant=tenant)} months; "
            f"lines: {SubscriptionLine.objects.filter(tenant=tenant).count():,}"
        )
        period = metrics.Period.of("ttm", today)
        results = {}

        def run():
            results.update(retention.summaries(tenant=tenant, period=period, slices=("segment", "product")))

        retention.summaries_current(tenant=tenant, period=period, slices=("segment", "product"))  # as the warm task
        seconds = timed(
            args.repeat,
            {
                "TTM total, by segment and by product, computed (one query)": run,
                "the same served after a rebuild's warm task (ledger version, bands, cache)": lambda: (
                    retention.summaries_current(tenant=tenant, period=period, slices=("segment", "product"))
                ),
            },
        )
        print(results[None][["accounts_start", "arr_start", "grr", "nrr", "logo_churn"]])
        print(results["segment"][["accounts_start", "arr_start", "grr", "nrr", "logo_churn"]])
        print(results["product"][["accounts_start", "arr_start", "grr", "nrr"]])
        report("Retention dashboard numbers", seconds)

        answers = {}
        seconds = timed(
            args.repeat,
            {
                "leader questions page (all five answers)": lambda: answers.update(
                    queries.leader_questions(tenant=tenant, period_kind="ttm", today=today)
                ),
                "discount drill-down page (200 pairs)": lambda: questions.discount_rows(
                    tenant=tenant, priced=True, limit=200
                ),
                "tenured customers CSV rows (all)": lambda: questions.tenured_rows(tenant=tenant, today=today),
            },
        )
        print(
            f"grew {answers['grew']:,} of {answers['cohort']:,}; {answers['tenured_count']:,} customers older than "
            f"three years at {answers['tenured_ratio']:.1%} of their original ARR; discount change "
            f"{answers['discounts']['average_change']:+.2%} over {answers['discounts']['priced']:,} priced pairs"
        )
        report("Leader questions", seconds)
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

        def legacy_questions():
            columns = ["account_id", "product_id", "arr", "list_price_arr", "start_date", "end_date"]
            lines = pd.DataFrame(
                list(SubscriptionLine.objects.filter(tenant=tenant).order_by().values_list(*columns)), columns=columns
            )
            metrics.tenured_contract_sizes(lines, today=today)
            metrics.discount_change_summary(metrics.first_renewal_discounts(lines))

        seconds = timed(
            min(args.repeat, 3),
            {"whole ledger, pandas (round 1)": legacy, "questions from every line, pandas (round 2)": legacy_questions},
        )
        report("Earlier paths, for comparison", seconds)


if __name__ == "__main__":
    main()
