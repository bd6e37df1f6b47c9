"""All default playbook triggers over a big tenant: the first evaluation (everything fires) and
the next ones (nothing new: no task may be created twice).

    createdb -h 127.0.0.1 -U postgres csp_bench_playbooks
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/csp_bench_playbooks \\
        .venv/bin/python bench/playbooks_evaluate.py --accounts 100000 --fresh

Reuses the tenant and health signals of ``bench/health_recompute.py`` (seeding them the first
time, or start from a copy of its database: ``createdb -T csp_bench_health csp_bench_playbooks``)
and adds, once, what the other trigger kinds read: 90 days of score history (7.9 million snapshots),
champion departures, accepted handoffs and success plans with overdue milestones. Then it
creates the default playbooks and triggers (``playbooks.demo``) and runs ``playbooks_evaluate``
for the whole tenant ``--repeat`` times, printing each trigger's seconds and the total. With
``--fresh`` it first deletes the episodes, tasks and automated e-mails (outside the timing), so
the first run fires everything at once; without it every run is a repeat (nothing may fire).
Tech-touch e-mails are recorded with their recipient; rendering and sending them is a separate
Celery task after commit (``send_automated_emails``), not part of these figures.

``--workers N`` measures what production does with a tenant's evaluation: ``evaluate_tenant``
queues one ``evaluate_trigger`` task per trigger, and a worker's N processes (Celery's default
concurrency is the number of cores; prefetch 1, so a free process takes the next task) each
run one trigger at a time. Here N forked processes, each with its own database connection,
take the triggers in the order the tasks are queued and run the same engine call as the task
(sending left out as above); the time is wall time from the first to the last trigger done.
"""

from __future__ import annotations

import argparse
import multiprocessing
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
from csplatform.models import Membership, Role, Tenant  # noqa: E402
from csplatform.tenancy import tenant_scope  # noqa: E402
from health.models import UsageDay  # noqa: E402
from playbooks.demo import playbooks_create_defaults  # noqa: E402
from playbooks.engine import EvaluationResult, TriggerOutcome, playbooks_evaluate  # noqa: E402
from playbooks.models import Trigger  # noqa: E402

EXTRA_SQL = [
    # 90 days of score history, a snapshot per live account a day with the current score's
    # breakdown, written day after day as the daily recompute does: 10 days ago each account
    # scored 0-39 points more than now, every other day what it scores now.
    """
    INSERT INTO health_healthsnapshot (tenant_id, account_id, day, score, band, breakdown, config_id)
    SELECT s.tenant_id, s.account_id, %(today)s::date - d,
           CASE WHEN d = 10 THEN LEAST(100, s.score + s.account_id %% 40) ELSE s.score END, s.band, s.breakdown,
           s.config_id
    FROM generate_series(1, 90) AS d CROSS JOIN health_healthscore s
    WHERE s.tenant_id = %(tenant)s AND s.score IS NOT NULL
    ORDER BY d DESC, s.account_id
    ON CONFLICT DO NOTHING
    """,
    # One live account in 100 lost its champion within the last three weeks.
    """
    INSERT INTO accounts_contactevent (tenant_id, account_id, contact_id, kind, previous_role, new_role, occurred_on,
                                       note, created_at)
    SELECT DISTINCT ON (c.account_id) c.tenant_id, c.account_id, c.id, 'left', 'champion', '',
           %(today)s::date - (c.account_id %% 21)::int, '', now()
    FROM accounts_contact c JOIN accounts_account a ON a.id = c.account_id
    WHERE c.tenant_id = %(tenant)s AND a.lifecycle_stage <> 'churned' AND c.account_id %% 100 = 1
    ORDER BY c.account_id, c.id
    """,
    # One in 100 was handed off and accepted within the last three weeks.
    """
    INSERT INTO successplans_handoff (tenant_id, account_id, status, situation, pain, impact, critical_event,
        decision_criteria, fit_technical, fit_functional, fit_experience, fit_support, fit_buy_in, fit_category,
        win_protagonist_name, win_protagonist_title, win_problem, win_decision_criteria, review_comment, flag_note,
        submitted_at, reviewed_at, created_at, updated_at)
    SELECT a.tenant_id, a.id, 'accepted', 'x', 'x', 'x', 'x', 'x', 'yes', 'yes', 'yes', 'yes', 'yes', 'good',
           '', '', '', '', '', '', now() - interval '25 days', now() - (a.id %% 21) * interval '1 day',
           now() - interval '30 days', now()
    FROM accounts_account a WHERE a.tenant_id = %(tenant)s AND a.lifecycle_stage <> 'churned' AND a.id %% 100 = 2
    """,
    # One in 20 has a success plan with four milestones, one of them overdue for one in 60.
    """
    INSERT INTO successplans_successplan (tenant_id, account_id, start_date, first_value_goal, twelve_month_goal,
                                          next_steps, created_at, updated_at)
    SELECT a.tenant_id, a.id, %(today)s::date - 120, 'First report', 'Every team on it', '', now(), now()
    FROM accounts_account a WHERE a.tenant_id = %(tenant)s AND a.lifecycle_stage <> 'churned' AND a.id %% 20 = 3
    """,
    """
    INSERT INTO successplans_milestone (tenant_id, plan_id, title, owner_side, due_date, status, is_first_value)
    SELECT p.tenant_id, p.id, 'Milestone ' || n, 'us', %(today)s::date - 90 + 40 * n,
           CASE WHEN n = 1 OR (n = 2 AND p.account_id %% 3 <> 0) THEN 'done' ELSE 'planned' END, n = 1
    FROM successplans_successplan p CROSS JOIN generate_series(1, 4) n WHERE p.tenant_id = %(tenant)s
    """,
]


def extras_seed(tenant: Tenant) -> None:
    from accounts.models import ContactEvent

    if ContactEvent.objects.filter(tenant=tenant).exists():
        return
    started = time.perf_counter()
    today = tenant_today(tenant)
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in EXTRA_SQL:
            cursor.execute(statement, {"today": today, "tenant": tenant.pk})
        leader = Membership.objects.filter(tenant=tenant, role=Role.LEADER).values_list("user_id", flat=True).first()
        Membership.objects.filter(tenant=tenant, role=Role.CSM).update(leader_id=leader)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"score history, contact events, handoffs and plans seeded in {time.perf_counter() - started:.1f} s")


def reset(tenant: Tenant) -> None:
    """Start from no episode, task or automated e-mail (as before the triggers were enabled)."""
    with transaction.atomic(), connection.cursor() as cursor:
        for table in ("playbooks_automatedaction", "playbooks_task", "playbooks_episode"):
            cursor.execute(f"DELETE FROM {table} WHERE tenant_id = %s", [tenant.pk])  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE playbooks_automatedaction, playbooks_task, playbooks_episode")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--workers", type=int, default=1, help="worker processes, one trigger each at a time (1: all in this one)"
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="delete the tenant's episodes, tasks and automated e-mails first (not timed), so run 1 fires everything",
    )
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("The benchmark needs PostgreSQL: set DATABASE_URL.")
    call_command("migrate", verbosity=0)
    with scopes_disabled():
        tenant = Tenant.objects.filter(slug="acme").first()
        seeded = tenant is not None and UsageDay.objects.filter(tenant=tenant).exists()
    if not seeded:
        from bench.health_recompute import seed

        tenant = seed(args.accounts)
    with tenant_scope(tenant):
        extras_seed(tenant)
        if not Trigger.objects.filter(tenant=tenant).exists():
            playbooks_create_defaults(tenant=tenant)
        if args.fresh:
            started = time.perf_counter()
            reset(tenant)
            print(f"episodes, tasks and automated e-mails deleted in {time.perf_counter() - started:.1f} s (not timed)")
        live = tenant_accounts(tenant)
        triggers = Trigger.objects.filter(tenant=tenant, enabled=True).count()
        print(f"{live:,} live accounts, {triggers} enabled triggers, {args.workers} worker(s); load average {load()}")
        for run in range(1, args.repeat + 1):
            started = time.perf_counter()
            if args.workers > 1:
                result = evaluate_in_workers(tenant, args.workers)
            else:
                result = playbooks_evaluate(tenant=tenant, send_emails=False)  # sending is its own task
            total = time.perf_counter() - started
            print(
                f"run {run}: {total:.2f} s in all; {result.opened:,} episodes opened, {result.tasks:,} tasks, "
                f"{result.emails:,} e-mails, {result.cleared:,} cleared; load average {load()}"
            )
            for outcome in result.triggers:
                print(
                    f"    {outcome.name:<34} {outcome.seconds:6.2f} s  matched {outcome.matched:>6,}  "
                    f"opened {outcome.opened:>6,}  tasks {outcome.tasks:>6,}  e-mails {outcome.emails:>6,}"
                )
            if run > 1 or not args.fresh:
                print(f"    run {run} created {result.tasks} tasks and {result.emails} e-mails (must be 0)")


def evaluate_in_workers(tenant: Tenant, workers: int) -> EvaluationResult:
    """As ``playbooks.tasks.evaluate_tenant`` and ``evaluate_trigger`` through a worker with
    ``workers`` processes: every trigger of the tenant in id order, a free process taking the
    next one."""
    trigger_ids = list(Trigger.objects.filter(tenant=tenant).order_by("pk").values_list("pk", flat=True))
    connection.close()  # each process opens its own
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        outcomes = pool.imap(_evaluate_trigger, [(tenant.pk, trigger_id) for trigger_id in trigger_ids], chunksize=1)
        return EvaluationResult(triggers=[outcome for outcome_list in outcomes for outcome in outcome_list])


def _evaluate_trigger(job: tuple[int, int]) -> list[TriggerOutcome]:
    tenant_id, trigger_id = job
    tenant = Tenant.objects.get(pk=tenant_id)
    with tenant_scope(tenant):
        return playbooks_evaluate(tenant=tenant, trigger_ids=[trigger_id], send_emails=False).triggers


def tenant_accounts(tenant: Tenant) -> int:
    from accounts.models import Account, LifecycleStage

    return Account.objects.filter(tenant=tenant).exclude(lifecycle_stage=LifecycleStage.CHURNED).count()


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


if __name__ == "__main__":
    main()
