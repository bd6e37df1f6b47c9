"""CSV import of 100,000 accounts: rows per second of each phase, first import and re-import.

    createdb -h 127.0.0.1 -U postgres csp_bench_import
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/csp_bench_import \
        .venv/bin/python bench/csv_import.py --rows 100000

Creates the tables (migrate), a tenant with its default segments and a few CSMs (the first
time), and a CSV of ``--rows`` accounts (external id, name, domain, employees, industry,
segment, owner e-mail, lifecycle stage, customer since). Then it runs the import as the
Celery task does (``imports.services.import_job_run``, without a broker): **validate** (the
preview: decode, parse, resolve owners and segments, match existing accounts, find
duplicates, with progress writes) and **apply** (validate again, then one transaction: COPY
of new rows or COPY into a temporary table + ``UPDATE … FROM``, and the ARR/segment roll-up).
The second round imports the same accounts with other values (every row updated), the third
the same file again (every row matched, none rewritten). Each phase prints
its seconds and rows per second with the load average beside them (the machine is shared).
Each run starts from a tenant without accounts.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csplatform.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django_scopes import scopes_disabled  # noqa: E402

from accounts.models import INDUSTRIES, Account, LifecycleStage  # noqa: E402
from accounts.services import segments_create_defaults  # noqa: E402
from csplatform.models import Membership, Role, Tenant, User  # noqa: E402
from csplatform.tenancy import tenant_scope  # noqa: E402
from imports import services  # noqa: E402
from imports.models import ImportJob, ImportStatus  # noqa: E402
from imports.validation import plan_build  # noqa: E402

SLUG = "bench-import"
CSMS = 20


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 1)[0] if Path("/proc/loadavg").exists() else "?"


def tenant_prepare() -> Tenant:
    with scopes_disabled():
        tenant, created = Tenant.objects.get_or_create(slug=SLUG, defaults={"name": "Bench Import"})
        if created:
            segments_create_defaults(tenant=tenant)
            for number in range(CSMS):
                user, _ = User.objects.get_or_create(email=f"csm{number}@bench-import.example")
                Membership.objects.get_or_create(tenant=tenant, user=user, defaults={"role": Role.CSM})
        Account.objects.filter(tenant=tenant).delete()
        ImportJob.objects.filter(tenant=tenant).delete()
    return tenant


def csv_generate(rows: int, seed: int = 7) -> bytes:
    rng = random.Random(seed)
    segments = ["High touch", "Low touch", "Tech touch", ""]
    stages = [label for _, label in LifecycleStage.choices]
    lines = ["External ID,Company,Website,Employees,Industry,Segment,CSM e-mail,Stage,Customer since"]
    for number in range(rows):
        lines.append(
            f"CRM-{number:07d},Customer {number} Inc,customer{number}.example,{rng.randint(5, 50_000)},"
            f"{rng.choice(INDUSTRIES)},{rng.choice(segments)},csm{rng.randrange(CSMS)}@bench-import.example,"
            f"{rng.choice(stages)},20{rng.randint(15, 25)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        )
    return ("\n".join(lines) + "\n").encode()


def phase(label: str, rows: int, started: float) -> None:
    seconds = time.perf_counter() - started
    print(f"  {label:<34} {seconds:7.2f} s  {rows / seconds:>10,.0f} rows/s   load {loadavg()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    tenant = tenant_prepare()
    content = csv_generate(args.rows)
    changed = csv_generate(args.rows, seed=8)  # same accounts, other values
    print(f"{args.rows:,} account rows, {len(content) / 1024 / 1024:.1f} MB; load average at start {loadavg()}")
    services._enqueue = lambda job: None  # the bench calls the task's body itself

    with tenant_scope(tenant):
        rounds = [
            ("first import (inserts)", content),
            ("re-import, every row changed (updates)", changed),
            ("same file again (nothing changes)", changed),
        ]
        for round_name, content in rounds:
            print(round_name)
            started = time.perf_counter()
            job = services.import_job_create(
                tenant=tenant, user=None, kind="accounts", file_name="bench.csv", content=content
            )
            services.import_job_map(job=job, mapping=job.mapping)
            phase("upload (read header, keep file)", args.rows, started)

            started = time.perf_counter()
            job = services.import_job_run(tenant=tenant, job_id=job.pk)
            assert job.status == ImportStatus.READY, (job.status, job.message, job.errors[:3])
            phase("validate (preview)", args.rows, started)

            started = time.perf_counter()
            services.import_job_apply_request(job=job)
            job = services.import_job_run(tenant=tenant, job_id=job.pk)
            assert job.status == ImportStatus.DONE, (job.status, job.message)
            phase("apply (validate again + write)", args.rows, started)
            print(f"  {job.message}")

        # The write alone: the apply above minus a validation measured on its own.
        started = time.perf_counter()
        plan_build(
            tenant=tenant,
            kind="accounts",
            text=content.decode(),
            delimiter=",",
            headers=job.headers,
            mapping=job.mapping,
        )
        phase("validation alone (no progress rows)", args.rows, started)
    with scopes_disabled():
        assert Account.objects.filter(tenant=tenant).count() == args.rows


if __name__ == "__main__":
    main()
