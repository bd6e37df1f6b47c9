"""Demo playbooks: a default playbook and an enabled trigger for every trigger kind, negative
(churn risk) and positive (expansion, advocacy) alike, then one evaluation so the inbox has
work in it. Part of the episodes are recorded as fired days ago (the evaluation writes them so,
``engine.Backdate``), so some tasks are overdue and some were completed (with an outcome), and
the leader's effectiveness view has history.

Set-based like the engine: the evaluation is a fixed number of queries per trigger and the
history two UPDATEs (completions, e-mails sent), whatever the number of accounts.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable

from django.db import connection
from django.utils import timezone

from csplatform.models import Membership, Role, Tenant

from .defaults import playbooks_create_defaults
from .engine import SEND_BATCH, Backdate, automated_emails_render, playbooks_evaluate
from .models import (
    AutomatedAction,
    Task,
    TaskStatus,
)

# Episodes spread back over these many days (by account id: the evaluation records them so,
# engine.Backdate), so some tasks are overdue; of the tasks of episodes moved back at least
# COMPLETED_FROM_DAYS, one in COMPLETED_ONE_IN is done.
HISTORY_SHIFTS = (0, 0, 2, 5, 9, 14, 21)
COMPLETED_FROM_DAYS = 5
COMPLETED_ONE_IN = 2
# Up to this many automated e-mails the demo renders them (about 0.5 ms each); above, the rows
# keep their step's title as subject, so a 100,000-account seed does not spend half a minute on it.
RENDER_DEMO_EMAILS_UP_TO = 2_000
OUTCOMES = (
    "Spoke with the champion; agreed two next steps and a date.",
    "Customer confirmed the cause; fix scheduled with support.",
    "Plan agreed and shared in writing within the hour.",
)


def playbooks_seed(
    *, tenant: Tenant, rng: random.Random, today: dt.date, use_copy: bool, log: Callable[[str], None]
) -> None:
    started = time.monotonic()
    leader = Membership.objects.filter(tenant=tenant, role=Role.LEADER).order_by("pk").values_list("user_id").first()
    if leader:
        Membership.objects.filter(tenant=tenant, role=Role.CSM).update(leader_id=leader[0])
    playbooks_create_defaults(tenant=tenant)
    now = timezone.now()
    result = playbooks_evaluate(
        tenant=tenant, today=today, now=now, send_emails=False, backdate=Backdate(days_ago=HISTORY_SHIFTS)
    )
    _history(tenant=tenant, now=now)
    if result.emails <= RENDER_DEMO_EMAILS_UP_TO:
        # A worker renders each e-mail just before sending it; the demo's are marked sent by
        # _history, so render them here while they are few (a big tenant keeps the step titles).
        ids = list(AutomatedAction.objects.filter(tenant=tenant).order_by("pk").values_list("pk", flat=True))
        for start in range(0, len(ids), SEND_BATCH):
            automated_emails_render(tenant=tenant, action_ids=ids[start : start + SEND_BATCH])
    log(
        f"{tenant.name}: playbooks fired {result.opened:,} episodes, {result.tasks:,} tasks, "
        f"{result.emails:,} automated e-mails in {time.monotonic() - started:.1f} s"
    )


def _history(*, tenant: Tenant, now: dt.datetime) -> None:
    """After the backdated evaluation: mark part of the older tasks done by their assignee, a
    day after creation, and the e-mails sent when they were recorded. Two UPDATE statements,
    whatever the number of rows."""
    shifts = len(HISTORY_SHIFTS)
    completed = {bucket: days for bucket, days in enumerate(HISTORY_SHIFTS) if days and days >= COMPLETED_FROM_DAYS}

    def stamp(value: dt.datetime) -> object:
        return Task._meta.get_field("completed_at").get_db_prep_value(value, connection)

    def by_bucket(values: dict[int, object]) -> tuple[str, list]:
        whens = " ".join(f"WHEN {bucket} THEN %s" for bucket in values)
        return f"CASE account_id %% {shifts} {whens} END", list(values.values())

    quote = connection.ops.quote_name
    picks = COMPLETED_ONE_IN * len(OUTCOMES)
    with connection.cursor() as cursor:
        if completed:
            # One task in COMPLETED_ONE_IN (by id), each outcome in turn.
            done_at, done_params = by_bucket(
                {bucket: stamp(now - dt.timedelta(days=days - 1)) for bucket, days in completed.items()}
            )
            outcome = " ".join(f"WHEN {n * COMPLETED_ONE_IN} THEN %s" for n in range(len(OUTCOMES)))
            cursor.execute(
                f"UPDATE {quote(Task._meta.db_table)} SET status = %s, completed_at = {done_at}, "  # noqa: S608
                f"completed_by_id = assignee_id, outcome = CASE id %% {picks} {outcome} END "
                f"WHERE tenant_id = %s AND account_id %% {shifts} IN ({', '.join(str(b) for b in completed)}) "
                f"AND assignee_id IS NOT NULL AND id %% {picks} IN "
                f"({', '.join(str(n * COMPLETED_ONE_IN) for n in range(len(OUTCOMES)))})",
                [TaskStatus.DONE.value, *done_params, *OUTCOMES, tenant.pk],
            )
        sent_at, sent_params = by_bucket(
            {bucket: stamp(now - dt.timedelta(days=days)) for bucket, days in enumerate(HISTORY_SHIFTS)}
        )
        cursor.execute(
            f"UPDATE {quote(AutomatedAction._meta.db_table)} SET sent_at = {sent_at} "  # noqa: S608
            "WHERE tenant_id = %s AND sent_at IS NULL AND recipient <> ''",
            [*sent_params, tenant.pk],
        )
