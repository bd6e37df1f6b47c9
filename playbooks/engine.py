"""The playbooks engine: evaluate the enabled triggers, open and clear episodes, and turn each
new episode into its playbook's tasks (accounts with a CSM) or automated e-mails (tech touch).

Exactly once per episode: an episode is a row with a partial unique key (tenant, trigger,
account) among open episodes. New episodes are inserted with ``INSERT … ON CONFLICT DO
NOTHING RETURNING``, and only the rows actually inserted get tasks or e-mails, so a second
evaluation, or a second worker racing the first, creates nothing more. Each trigger is
evaluated in one transaction under an advisory lock on the trigger (PostgreSQL), so a racing
evaluation waits and then sees the first one's episodes instead of reading a stale picture.
When the condition stops holding the episode is cleared and the trigger re-arms for the account.

Set-based end to end: per trigger one query for the matching accounts (with their segment),
one for the open episodes, one update (cleared), one ``INSERT … SELECT … ON CONFLICT DO NOTHING
RETURNING`` (opened), one ``INSERT … SELECT`` of the tasks from the returned (episode, account)
pairs at accounts with a CSM joining the playbook's steps (assignee and due date in SQL) and
one of the e-mails from the pairs at tech-touch accounts (recipient in SQL), whatever the
number of accounts: no row is built in Python. E-mails are rendered by the sender after
commit, never under the trigger lock. Triggers are independent transactions, so a tenant's
evaluation runs as one worker task per trigger (``playbooks.tasks.evaluate_tenant``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import connection, transaction
from django.db.models import QuerySet
from django.template import Context, Template
from django.utils import timezone

from accounts.models import Account, Contact, ContactRole, Segment, TouchModel
from accounts.services import tenant_today
from csplatform.locks import deletion_lock_shared
from csplatform.models import Membership, Role, Tenant

from .models import (
    AssigneeKind,
    AutomatedAction,
    AutomatedActionKind,
    Episode,
    StepAction,
    Task,
    TaskStatus,
    TaskTemplate,
    Trigger,
)
from .triggers import matching_accounts

logger = logging.getLogger(__name__)

# pg_advisory_xact_lock(class, trigger id): one evaluation of a trigger at a time.
EVALUATE_LOCK_CLASS = 7_402
# Who gets an automated e-mail at a tech-touch account: the first active contact with an
# e-mail address in this order of roles.
RECIPIENT_ROLES = (
    ContactRole.CHAMPION,
    ContactRole.EXECUTIVE_SPONSOR,
    ContactRole.DECISION_MAKER,
    ContactRole.FINANCIAL_DECISION_MAKER,
    ContactRole.POWER_USER,
    ContactRole.END_USER,
)


@dataclass(frozen=True)
class TriggerOutcome:
    trigger_id: int
    name: str
    kind: str
    matched: int  # accounts where the condition holds now
    opened: int  # new episodes (fired)
    cleared: int  # episodes whose condition stopped holding (re-armed)
    tasks: int
    emails: int
    seconds: float


@dataclass
class EvaluationResult:
    triggers: list[TriggerOutcome] = field(default_factory=list)

    @property
    def opened(self) -> int:
        return sum(outcome.opened for outcome in self.triggers)

    @property
    def cleared(self) -> int:
        return sum(outcome.cleared for outcome in self.triggers)

    @property
    def tasks(self) -> int:
        return sum(outcome.tasks for outcome in self.triggers)

    @property
    def emails(self) -> int:
        return sum(outcome.emails for outcome in self.triggers)


def playbooks_evaluate(
    *,
    tenant: Tenant,
    account_ids: Iterable[int] | None = None,
    today: dt.date | None = None,
    now: dt.datetime | None = None,
    send_emails: bool = True,
    backdate: Backdate | None = None,
    trigger_ids: Iterable[int] | None = None,
) -> EvaluationResult:
    """Evaluate every enabled trigger of ``tenant`` (at ``account_ids`` only, when given) on
    ``today`` (the tenant's today by default): open an episode where a condition started
    holding and create its playbook's tasks (due ``today`` + each step's offset) or, at
    tech-touch accounts, record its automated e-mails and queue their sending (after commit,
    ``automated_emails_send`` in a worker, so SMTP never holds the evaluation); clear the
    episodes whose condition no longer holds, and those of disabled triggers. Idempotent and
    safe to run concurrently: nothing fires twice for one episode. ``send_emails=False``
    records the automated e-mails without sending them, and ``backdate`` records what fires as
    having fired days earlier (both for the demo seed). ``trigger_ids`` limits it to those
    triggers (``playbooks.tasks.evaluate_trigger``: one worker task per trigger)."""
    today = today or tenant_today(tenant)
    now = now or timezone.now()
    ids = sorted(set(account_ids)) if account_ids is not None else None
    result = EvaluationResult()
    if ids == []:
        return result
    watched = Trigger.objects.filter(tenant=tenant)
    if trigger_ids is not None:
        watched = watched.filter(pk__in=list(trigger_ids))
    _disabled_episodes_clear(tenant=tenant, triggers=watched, account_ids=ids, now=now)
    triggers = list(watched.filter(enabled=True).select_related("playbook").prefetch_related("segments"))
    if not triggers:
        return result
    steps_of: dict[int, list[TaskTemplate]] = defaultdict(list)
    for step in TaskTemplate.objects.filter(tenant=tenant, playbook_id__in={t.playbook_id for t in triggers}):
        steps_of[step.playbook_id].append(step)
    first_leader = _first_leader(tenant)
    # Tech-touch accounts (no CSM) get the e-mail steps, the others the task steps.
    tech_segments = set(Segment.objects.filter(tenant=tenant, touch_model=TouchModel.TECH).values_list("pk", flat=True))
    emails = 0
    for trigger in sorted(triggers, key=lambda t: t.pk):
        started = time.perf_counter()
        with transaction.atomic():
            # Before the trigger's lock, as every holder of both takes them (no deadlock).
            deletion_lock_shared()
            _lock(trigger)
            segment_of = dict(
                matching_accounts(tenant=tenant, trigger=trigger, today=today, account_ids=ids)
                .order_by()
                .values_list("pk", "segment_id")
            )
            matched = set(segment_of)
            open_episodes = Episode.objects.filter(tenant=tenant, trigger=trigger, cleared_at__isnull=True)
            if ids is not None:
                open_episodes = open_episodes.filter(account_id__in=ids)
            already_open = set(open_episodes.values_list("account_id", flat=True))
            cleared = _episodes_clear(trigger=trigger, account_ids=sorted(already_open - matched), now=now)
            opened = _episodes_open(
                trigger=trigger, account_ids=sorted(matched - already_open), now=now, backdate=backdate
            )
            steps = steps_of[trigger.playbook_id]
            tasks = _tasks_create(
                tenant=tenant,
                trigger=trigger,
                opened=[pair for pair in opened if segment_of[pair[1]] not in tech_segments],
                steps=[s for s in steps if s.action == StepAction.TASK],
                first_leader=first_leader,
                today=today,
                now=now,
                backdate=backdate,
            )
            new_emails = _emails_record(
                tenant=tenant,
                trigger=trigger,
                opened=[pair for pair in opened if segment_of[pair[1]] in tech_segments],
                steps=[s for s in steps if s.action == StepAction.EMAIL],
                now=now,
                backdate=backdate,
            )
            emails += new_emails
        result.triggers.append(
            TriggerOutcome(
                trigger_id=trigger.pk,
                name=trigger.name,
                kind=trigger.kind,
                matched=len(matched),
                opened=len(opened),
                cleared=cleared,
                tasks=tasks,
                emails=new_emails,
                seconds=time.perf_counter() - started,
            )
        )
    if emails and send_emails:
        transaction.on_commit(lambda: _emails_send_enqueue(tenant.pk))
    return result


@dataclass(frozen=True)
class Backdate:
    """For the demo seed: what fires at an account whose ``id % len(days_ago)`` is ``i`` is
    recorded as having fired ``days_ago[i]`` days earlier (episode opened, tasks created and due
    that much earlier), so a seed has history without rewriting the rows afterwards."""

    days_ago: tuple[int, ...]

    def case(self, account_column: str, value: Callable[[int], tuple[str, list]]) -> tuple[str, list]:
        """``CASE`` on the account's bucket of ``value(days)`` (SQL and its parameters)."""
        whens, params = [], []
        for bucket, days in enumerate(self.days_ago):
            if days:
                sql, values = value(days)
                whens.append(f"WHEN {bucket} THEN {sql}")
                params += values
        sql, values = value(0)
        return f"CASE {account_column} %% {len(self.days_ago)} {' '.join(whens)} ELSE {sql} END", params + values


def _stamp(
    column: str, *, now: dt.datetime, backdate: Backdate | None, account_column: str, model=None
) -> tuple[str, list]:
    """SQL for the timestamp ``now`` (per account's bucket when backdating)."""
    field = (model or Episode)._meta.get_field(column)

    def value(days: int) -> tuple[str, list]:
        return "%s", [field.get_db_prep_value(now - dt.timedelta(days=days), connection)]

    return backdate.case(account_column, value) if backdate else value(0)


# --- Episodes ----------------------------------------------------------------------------------


def _lock(trigger: Trigger) -> None:
    triggers_lock(trigger_ids=[trigger.pk])


def triggers_lock(*, trigger_ids: Iterable[int]) -> None:
    """Take the evaluation lock of each of ``trigger_ids`` until the transaction ends (waiting
    for an evaluation of it that is running), in id order so two lockers cannot deadlock."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for trigger_id in sorted(set(trigger_ids)):
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [EVALUATE_LOCK_CLASS, trigger_id])


def _array_literal(ids: Iterable[int]) -> str:
    """PostgreSQL's text form of an integer array (``{1,2,3}``), bound as one string and cast
    in SQL: a tenth of the time psycopg takes to adapt a list of 100,000 ints element by
    element."""
    return "{" + ",".join(map(str, ids)) + "}"


def _ids_source(account_ids: list[int]) -> tuple[str, object]:
    """A row source of account ids bound as one parameter (an array, or JSON on SQLite), so
    100,000 ids are one parameter, not 100,000."""
    if connection.vendor == "postgresql":
        return "SELECT ids.id FROM unnest(%s::bigint[]) AS ids(id)", _array_literal(account_ids)
    return "SELECT value FROM json_each(%s)", json.dumps(account_ids)


def _opened_source(opened: list[tuple[int, int]]) -> tuple[str, list]:
    """The just-opened episodes as a row source ``e(id, account_id)`` bound as two parameters
    (arrays; JSON pairs on SQLite): what the episodes' ``RETURNING`` gave, so the tasks and
    e-mails need not read the episodes back."""
    if connection.vendor == "postgresql":
        return "unnest(%s::bigint[], %s::bigint[]) AS e(id, account_id)", [
            _array_literal(episode_id for episode_id, _ in opened),
            _array_literal(account_id for _, account_id in opened),
        ]
    return (
        "(SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS account_id FROM json_each(%s)) AS e",
        [json.dumps(opened)],
    )


def _episodes_open(
    *, trigger: Trigger, account_ids: list[int], now: dt.datetime, backdate: Backdate | None = None
) -> list[tuple[int, int]]:
    """Insert an open episode for each account that has none; (episode id, account id) of the
    rows actually inserted (a concurrent evaluation's rows are skipped by the unique key)."""
    if not account_ids:
        return []
    source, ids = _ids_source(account_ids)
    table = connection.ops.quote_name(Episode._meta.db_table)
    opened_at, opened_params = _stamp("opened_at", now=now, backdate=backdate, account_column="source.id")
    # "WHERE true": SQLite needs it to parse ON CONFLICT after INSERT … SELECT.
    sql = (
        f"INSERT INTO {table} (tenant_id, trigger_id, account_id, opened_at) "  # noqa: S608
        f"SELECT %s, %s, source.id, {opened_at} FROM ({source}) AS source(id) WHERE true "
        "ON CONFLICT (tenant_id, trigger_id, account_id) WHERE cleared_at IS NULL DO NOTHING "
        "RETURNING id, account_id"
    )
    if connection.vendor != "postgresql":  # SQLite names json_each's column, not the alias
        sql = sql.replace("AS source(id)", "AS source").replace("source.id", "source.value")
    with connection.cursor() as cursor:
        cursor.execute(sql, [trigger.tenant_id, trigger.pk, *opened_params, ids])
        return [(episode_id, account_id) for episode_id, account_id in cursor.fetchall()]


def _episodes_clear(*, trigger: Trigger, account_ids: list[int], now: dt.datetime) -> int:
    if not account_ids:
        return 0
    source, ids = _ids_source(account_ids)
    table = connection.ops.quote_name(Episode._meta.db_table)
    cleared_at = Episode._meta.get_field("cleared_at").get_db_prep_value(now, connection)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET cleared_at = %s WHERE tenant_id = %s AND trigger_id = %s "  # noqa: S608
            f"AND cleared_at IS NULL AND account_id IN ({source})",
            [cleared_at, trigger.tenant_id, trigger.pk, ids],
        )
        return cursor.rowcount


def _disabled_episodes_clear(
    *, tenant: Tenant, triggers: QuerySet[Trigger], account_ids: list[int] | None, now: dt.datetime
) -> int:
    """A disabled trigger (of ``triggers``) stops watching: its open episodes end, so enabling
    it again fires wherever its condition holds then."""
    disabled = list(triggers.filter(enabled=False).values_list("pk", flat=True))
    if not disabled:
        return 0
    episodes = Episode.objects.filter(tenant=tenant, trigger_id__in=disabled, cleared_at__isnull=True)
    if account_ids is not None:
        episodes = episodes.filter(account_id__in=account_ids)
    return episodes.update(cleared_at=now)


# --- Tasks -------------------------------------------------------------------------------------


def _first_leader(tenant: Tenant) -> int | None:
    """Who gets a task nobody else is named for: the tenant's first leader (else first admin)."""
    rows = Membership.objects.filter(tenant=tenant, role__in=[Role.LEADER, Role.ADMIN]).order_by("pk")
    by_role = dict(reversed(list(rows.values_list("role", "user_id"))))
    return by_role.get(Role.LEADER) or by_role.get(Role.ADMIN)


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _date_plus_days(day: dt.date, days_column: str) -> tuple[str, list]:
    """SQL for ``day`` + ``days_column`` days, a date on both PostgreSQL and SQLite."""
    if connection.vendor == "postgresql":
        return f"(%s::date + {days_column})", [day]
    return f"date(%s, '+' || {days_column} || ' days')", [day.isoformat()]


def _new_episode_steps(
    *, tenant: Tenant, trigger: Trigger, opened: list[tuple[int, int]], action: str, with_account: bool = False
) -> tuple[str, list]:
    """FROM … WHERE of the just-opened episodes (``e``: id, account_id), with their account
    (``a``) if ``with_account``, and each of the playbook's steps of ``action`` (``s``). The
    caller passes the episodes at tech-touch accounts for e-mail steps, the others for tasks."""
    source, params = _opened_source(opened)
    join = f"JOIN {_table(Account)} a ON a.id = e.account_id AND a.tenant_id = %s " if with_account else ""
    sql = (
        f"FROM {source} {join}JOIN {_table(TaskTemplate)} s "
        "ON s.tenant_id = %s AND s.playbook_id = %s AND s.action = %s"
    )
    return sql, [*params, *([tenant.pk] if with_account else []), tenant.pk, trigger.playbook_id, action]


def _tasks_create(
    *,
    tenant: Tenant,
    trigger: Trigger,
    opened: list[tuple[int, int]],
    steps: list[TaskTemplate],
    first_leader: int | None,
    today: dt.date,
    now: dt.datetime,
    backdate: Backdate | None = None,
) -> int:
    """One task per task step (``steps``) for each new episode in ``opened`` (episode id,
    account id; accounts with a CSM), in one ``INSERT … SELECT``: the assignee is resolved in
    SQL (named user; the leader the owner reports to, ``Membership.leader``; the owner; the
    tenant's first leader when there is nobody), due today + the step's offset."""
    if not opened or not steps:
        return 0
    source, source_params = _new_episode_steps(
        tenant=tenant, trigger=trigger, opened=opened, action=StepAction.TASK.value, with_account=True
    )
    # The owner's membership only when a step goes to the owner's leader.
    leader = "CAST(NULL AS bigint)"
    if any(step.assignee_kind == AssigneeKind.OWNER_LEADER for step in steps):
        leader = (
            f"(SELECT m.leader_id FROM {_table(Membership)} m "  # noqa: S608
            "WHERE m.tenant_id = a.tenant_id AND m.user_id = a.owner_id)"
        )
    due_on, due_params = _date_plus_days(today, "s.due_offset_days")
    if backdate:
        due_on, due_params = backdate.case(
            "e.account_id", lambda days: _date_plus_days(today - dt.timedelta(days=days), "s.due_offset_days")
        )
    created_at, created_params = _stamp(
        "created_at", now=now, backdate=backdate, account_column="e.account_id", model=Task
    )
    sql = (
        f"INSERT INTO {_table(Task)} (tenant_id, account_id, episode_id, template_id, title, purpose, guidance, "
        "assignee_id, due_on, status, snoozed_until, created_at, completed_at, completed_by_id, outcome, activity_id) "
        "SELECT a.tenant_id, e.account_id, e.id, s.id, s.title, s.purpose, s.guidance, "
        "CASE WHEN s.assignee_kind = %s AND s.assignee_user_id IS NOT NULL THEN s.assignee_user_id "
        f"WHEN s.assignee_kind = %s THEN COALESCE({leader}, %s) "
        "ELSE COALESCE(a.owner_id, %s) END, "
        f"{due_on}, %s, NULL, {created_at}, NULL, NULL, '', NULL "
        f"{source}"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                AssigneeKind.NAMED_USER.value,
                AssigneeKind.OWNER_LEADER.value,
                first_leader,
                first_leader,
                *due_params,
                TaskStatus.OPEN.value,
                *created_params,
                *source_params,
            ],
        )
        return cursor.rowcount


# --- Automated e-mails (tech touch) ------------------------------------------------------------

ACCOUNT_FIELDS = ("name", "domain", "industry", "next_renewal_date", "arr", "lifecycle_stage", "customer_since")
CONTACT_FIELDS = ("name", "title", "email", "role")
SEND_BATCH = 500


def _emails_record(
    *,
    tenant: Tenant,
    trigger: Trigger,
    opened: list[tuple[int, int]],
    steps: list[TaskTemplate],
    now: dt.datetime,
    backdate: Backdate | None = None,
) -> int:
    """Record each e-mail step (``steps``) for each new episode in ``opened`` (episode id, account id; at
    tech-touch accounts) as an ``AutomatedAction`` to send, in one ``INSERT … SELECT``; the
    recipient is the account's first active contact with an e-mail by ``RECIPIENT_ROLES``
    (none: recorded, never sent).
    Nothing is rendered here: the subject is the step's title until ``automated_emails_send``
    renders the e-mail, after the evaluation has committed, just before sending it."""
    if not opened or not steps:
        return 0
    source, params = _new_episode_steps(tenant=tenant, trigger=trigger, opened=opened, action=StepAction.EMAIL.value)
    created_at, created_params = _stamp(
        "created_at", now=now, backdate=backdate, account_column="e.account_id", model=AutomatedAction
    )
    rank = " ".join(f"WHEN %s THEN {position}" for position in range(len(RECIPIENT_ROLES)))
    sql = (
        f"INSERT INTO {_table(AutomatedAction)} (tenant_id, episode_id, account_id, template_id, kind, recipient, "  # noqa: S608
        "subject, body, sent_at, created_at) "
        "SELECT s.tenant_id, e.id, e.account_id, s.id, %s, "
        f"COALESCE((SELECT c.email FROM {_table(Contact)} c WHERE c.tenant_id = s.tenant_id "
        "AND c.account_id = e.account_id AND c.left_on IS NULL AND c.email <> '' "
        f"ORDER BY CASE c.role {rank} ELSE 99 END, c.id LIMIT 1), ''), "
        f"SUBSTR(s.title, 1, 200), '', NULL, {created_at} {source}"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql, [AutomatedActionKind.EMAIL.value, *[str(role) for role in RECIPIENT_ROLES], *created_params, *params]
        )
        return cursor.rowcount


def _recipients(tenant: Tenant, account_ids: list[int]) -> dict[int, dict]:
    """Each account's first active contact with an e-mail, by ``RECIPIENT_ROLES`` (plain rows)."""
    rank = {role: position for position, role in enumerate(RECIPIENT_ROLES)}
    best: dict[int, dict] = {}
    for start in range(0, len(account_ids), 10_000):
        contacts = (
            Contact.objects.filter(tenant=tenant, account_id__in=account_ids[start : start + 10_000])
            .filter(left_on__isnull=True)
            .exclude(email="")
            .order_by("pk")
            .values("account_id", *CONTACT_FIELDS)
        )
        for contact in contacts:
            current = best.get(contact["account_id"])
            if current is None or rank.get(contact["role"], 99) < rank.get(current["role"], 99):
                best[contact["account_id"]] = contact
    return best


def automated_emails_render(*, tenant: Tenant, action_ids: list[int]) -> dict[int, tuple[str, str]]:
    """Render the e-mails ``action_ids`` (their step's ``email_subject`` / ``email_body``, Django
    templates, with ``account`` (``ACCOUNT_FIELDS``), ``contact`` (``CONTACT_FIELDS``, the
    recipient) and ``tenant``), store subject and body on the rows and return them by id.
    Plain rows and one compiled template per step: no model instance per e-mail."""
    rows = list(
        AutomatedAction.objects.filter(tenant=tenant, pk__in=action_ids).values_list(
            "pk", "account_id", "template_id", "recipient"
        )
    )
    if not rows:
        return {}
    account_ids = sorted({account_id for _, account_id, _, _ in rows})
    accounts = {
        row["pk"]: row
        for row in Account.objects.filter(tenant=tenant, pk__in=account_ids).values("pk", *ACCOUNT_FIELDS)
    }
    recipients = _recipients(tenant, account_ids)
    compiled = {
        step_id: (title, Template(subject), Template(body))
        for step_id, title, subject, body in TaskTemplate.objects.filter(
            tenant=tenant, pk__in={template_id for _, _, template_id, _ in rows}
        ).values_list("pk", "title", "email_subject", "email_body")
    }
    rendered: dict[int, tuple[str, str]] = {}
    for pk, account_id, template_id, recipient in rows:
        if template_id not in compiled:  # its step was deleted: keep what the row says
            continue
        title, subject_template, body_template = compiled[template_id]
        contact = recipients.get(account_id)
        if contact is None or contact["email"] != recipient:
            contact = {"email": recipient} if recipient else None
        # Plain-text e-mail: no HTML escaping ("Smith & Sons", not "Smith &amp; Sons").
        context = Context(
            {"account": accounts.get(account_id, {}), "contact": contact, "tenant": tenant}, autoescape=False
        )
        subject = " ".join(subject_template.render(context).split())[:200] or title
        rendered[pk] = (subject, body_template.render(context))
    changed = [
        AutomatedAction(pk=pk, tenant_id=tenant.pk, subject=subject, body=body)
        for pk, (subject, body) in rendered.items()
    ]
    AutomatedAction.objects.bulk_update(changed, ["subject", "body"], batch_size=SEND_BATCH)
    return rendered


def _emails_send_enqueue(tenant_id: int) -> None:
    from .tasks import send_automated_emails

    send_automated_emails.delay(tenant_id=tenant_id)


def automated_emails_send(*, tenant: Tenant, batch: int = SEND_BATCH) -> int:
    """Send the tenant's recorded, unsent automated e-mails through the e-mail backend, one
    connection for each batch. Each batch is claimed first (``sent_at`` set, rows locked
    against a second sender, which skips them), then sent; what a failure leaves unsent is
    released for the next run. At most once per e-mail. Returns how many went."""
    sent_total = 0
    while True:
        with transaction.atomic():
            claimed = list(
                AutomatedAction.objects.filter(tenant=tenant, sent_at__isnull=True)
                .exclude(recipient="")
                .order_by("pk")
                .select_for_update(skip_locked=True)
                .values_list("pk", "recipient", "subject", "body")[:batch]
            )
            if not claimed:
                return sent_total
            AutomatedAction.objects.filter(tenant=tenant, pk__in=[row[0] for row in claimed]).update(
                sent_at=timezone.now()
            )
        sent: list[int] = []
        mail_connection = get_connection()
        try:
            # Rendered now, after the evaluation committed and outside any lock: the evaluation
            # only recorded which step goes to whom.
            rendered = automated_emails_render(tenant=tenant, action_ids=[row[0] for row in claimed])
            mail_connection.open()
            for pk, recipient, subject, body in claimed:
                subject, body = rendered.get(pk, (subject, body))
                message = EmailMessage(
                    subject=subject,
                    body=body,
                    from_email=settings.DEFAULT_FROM_EMAIL,
                    to=[recipient],
                    connection=mail_connection,
                )
                if message.send():
                    sent.append(pk)
        except Exception:
            logger.exception("playbook e-mails: %s of %s sent before a failure", len(sent), len(claimed))
        finally:
            mail_connection.close()
        sent_total += len(sent)
        went = set(sent)
        unsent = [row[0] for row in claimed if row[0] not in went]
        if unsent:
            AutomatedAction.objects.filter(tenant=tenant, pk__in=unsent).update(sent_at=None)
            return sent_total
