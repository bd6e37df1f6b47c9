"""The playbooks engine: evaluate the enabled triggers, open and clear episodes, and turn each
new episode into its playbook's tasks (accounts with a CSM) or automated e-mails (tech touch).

Exactly once per episode: an episode is a row with a partial unique key (tenant, trigger,
account) among open episodes. New episodes are inserted with ``INSERT … ON CONFLICT DO
NOTHING RETURNING``, and only the rows actually inserted get tasks or e-mails, so a second
evaluation, or a second worker racing the first, creates nothing more. Each trigger is
evaluated in one transaction under an advisory lock on the trigger (PostgreSQL), so a racing
evaluation waits and then sees the first one's episodes instead of reading a stale picture.
When the condition stops holding the episode is cleared and the trigger re-arms for the account.

Set-based: per trigger one query for the matching accounts, one for the open episodes, one
insert, one update and one bulk write of tasks, whatever the number of accounts.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import connection, transaction
from django.template import Context, Template
from django.utils import timezone

from accounts.models import Account, Contact, ContactRole, TouchModel
from accounts.services import tenant_today
from csplatform import bulk
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
) -> EvaluationResult:
    """Evaluate every enabled trigger of ``tenant`` (at ``account_ids`` only, when given) on
    ``today`` (the tenant's today by default): open an episode where a condition started
    holding and create its playbook's tasks (due ``today`` + each step's offset) or, at
    tech-touch accounts, record its automated e-mails and queue their sending (after commit,
    ``automated_emails_send`` in a worker, so SMTP never holds the evaluation); clear the
    episodes whose condition no longer holds, and those of disabled triggers. Idempotent and
    safe to run concurrently: nothing fires twice for one episode. ``send_emails=False``
    records the automated e-mails without sending them (the demo seed)."""
    today = today or tenant_today(tenant)
    now = now or timezone.now()
    ids = sorted(set(account_ids)) if account_ids is not None else None
    result = EvaluationResult()
    if ids == []:
        return result
    _disabled_episodes_clear(tenant=tenant, account_ids=ids, now=now)
    triggers = list(
        Trigger.objects.filter(tenant=tenant, enabled=True).select_related("playbook").prefetch_related("segments")
    )
    if not triggers:
        return result
    steps_of: dict[int, list[TaskTemplate]] = defaultdict(list)
    for step in TaskTemplate.objects.filter(tenant=tenant, playbook_id__in={t.playbook_id for t in triggers}):
        steps_of[step.playbook_id].append(step)
    assignees = _Assignees.load(tenant)
    emails = 0
    for trigger in sorted(triggers, key=lambda t: t.pk):
        started = time.perf_counter()
        with transaction.atomic():
            _lock(trigger)
            matched = {
                account_id: (owner_id, touch_model)
                for account_id, owner_id, touch_model in matching_accounts(
                    tenant=tenant, trigger=trigger, today=today, account_ids=ids
                )
                .order_by()
                .values_list("pk", "owner_id", "segment__touch_model")
            }
            open_episodes = Episode.objects.filter(tenant=tenant, trigger=trigger, cleared_at__isnull=True)
            if ids is not None:
                open_episodes = open_episodes.filter(account_id__in=ids)
            already_open = set(open_episodes.values_list("account_id", flat=True))
            cleared = _episodes_clear(trigger=trigger, account_ids=sorted(already_open - matched.keys()), now=now)
            opened = _episodes_open(trigger=trigger, account_ids=sorted(matched.keys() - already_open), now=now)
            steps = steps_of[trigger.playbook_id]
            staffed = [(e, a) for e, a in opened if matched[a][1] != TouchModel.TECH]
            tech = [(e, a) for e, a in opened if matched[a][1] == TouchModel.TECH]
            tasks = _tasks_create(
                tenant=tenant,
                episodes=staffed,
                steps=[s for s in steps if s.action == StepAction.TASK],
                owners={a: matched[a][0] for _, a in staffed},
                assignees=assignees,
                today=today,
                now=now,
            )
            new_emails = _emails_record(
                tenant=tenant, episodes=tech, steps=[s for s in steps if s.action == StepAction.EMAIL], now=now
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


# --- Episodes ----------------------------------------------------------------------------------


def _lock(trigger: Trigger) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [EVALUATE_LOCK_CLASS, trigger.pk])


def _ids_source(account_ids: list[int]) -> tuple[str, object]:
    """A row source of account ids bound as one parameter (an array, or JSON on SQLite), so
    100,000 ids are one parameter, not 100,000."""
    if connection.vendor == "postgresql":
        return "SELECT ids.id FROM unnest(%s::bigint[]) AS ids(id)", account_ids
    return "SELECT value FROM json_each(%s)", json.dumps(account_ids)


def _episodes_open(*, trigger: Trigger, account_ids: list[int], now: dt.datetime) -> list[tuple[int, int]]:
    """Insert an open episode for each account that has none; (episode id, account id) of the
    rows actually inserted (a concurrent evaluation's rows are skipped by the unique key)."""
    if not account_ids:
        return []
    source, ids = _ids_source(account_ids)
    table = connection.ops.quote_name(Episode._meta.db_table)
    opened_at = Episode._meta.get_field("opened_at").get_db_prep_value(now, connection)
    # "WHERE true": SQLite needs it to parse ON CONFLICT after INSERT … SELECT.
    sql = (
        f"INSERT INTO {table} (tenant_id, trigger_id, account_id, opened_at) "  # noqa: S608
        f"SELECT %s, %s, source.id, %s FROM ({source}) AS source(id) WHERE true "
        "ON CONFLICT (tenant_id, trigger_id, account_id) WHERE cleared_at IS NULL DO NOTHING "
        "RETURNING id, account_id"
    )
    if connection.vendor != "postgresql":  # SQLite names json_each's column, not the alias
        sql = sql.replace("AS source(id)", "AS source").replace("source.id", "source.value")
    with connection.cursor() as cursor:
        cursor.execute(sql, [trigger.tenant_id, trigger.pk, opened_at, ids])
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


def _disabled_episodes_clear(*, tenant: Tenant, account_ids: list[int] | None, now: dt.datetime) -> int:
    """A disabled trigger stops watching: its open episodes end, so enabling it again fires
    wherever its condition holds then."""
    disabled = list(Trigger.objects.filter(tenant=tenant, enabled=False).values_list("pk", flat=True))
    if not disabled:
        return 0
    episodes = Episode.objects.filter(tenant=tenant, trigger_id__in=disabled, cleared_at__isnull=True)
    if account_ids is not None:
        episodes = episodes.filter(account_id__in=account_ids)
    return episodes.update(cleared_at=now)


# --- Tasks -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Assignees:
    """Who reports to whom in the tenant (one query), to resolve a step's assignee."""

    leader_of: dict[int, int]
    first_leader: int | None

    @classmethod
    def load(cls, tenant: Tenant) -> _Assignees:
        rows = list(Membership.objects.filter(tenant=tenant).order_by("pk").values_list("user_id", "role", "leader_id"))
        leaders = [user for user, role, _ in rows if role == Role.LEADER]
        admins = [user for user, role, _ in rows if role == Role.ADMIN]
        return cls(
            leader_of={user: leader for user, _, leader in rows if leader},
            first_leader=(leaders or admins or [None])[0],
        )

    def resolve(self, step: TaskTemplate, owner_id: int | None) -> int | None:
        """Named user as named; the owner's leader is the leader the owner reports to, else the
        tenant's first leader; an account without an owner gets the tenant's first leader, so
        no task is left with nobody to see it."""
        if step.assignee_kind == AssigneeKind.NAMED_USER and step.assignee_user_id:
            return step.assignee_user_id
        if step.assignee_kind == AssigneeKind.OWNER_LEADER:
            return self.leader_of.get(owner_id) or self.first_leader
        return owner_id or self.first_leader


TASK_COLUMNS = (
    "tenant_id",
    "account_id",
    "episode_id",
    "template_id",
    "title",
    "purpose",
    "guidance",
    "assignee_id",
    "due_on",
    "status",
    "snoozed_until",
    "created_at",
    "completed_at",
    "completed_by_id",
    "outcome",
    "activity_id",
)


def _tasks_create(
    *,
    tenant: Tenant,
    episodes: list[tuple[int, int]],
    steps: list[TaskTemplate],
    owners: dict[int, int | None],
    assignees: _Assignees,
    today: dt.date,
    now: dt.datetime,
) -> int:
    """One task per step for each new episode, written in bulk (COPY on PostgreSQL)."""
    rows = [
        (
            tenant.pk,
            account_id,
            episode_id,
            step.pk,
            step.title,
            step.purpose,
            step.guidance,
            assignees.resolve(step, owners[account_id]),
            today + dt.timedelta(days=step.due_offset_days),
            TaskStatus.OPEN.value,
            None,
            now,
            None,
            None,
            "",
            None,
        )
        for episode_id, account_id in episodes
        for step in steps
    ]
    if not rows:
        return 0
    if connection.vendor == "postgresql":
        bulk.rows_copy(Task, TASK_COLUMNS, rows)
    else:
        bulk.rows_insert(Task, TASK_COLUMNS, rows)
    return len(rows)


# --- Automated e-mails (tech touch) ------------------------------------------------------------

ACCOUNT_FIELDS = ("name", "domain", "industry", "next_renewal_date", "arr", "lifecycle_stage", "customer_since")
CONTACT_FIELDS = ("name", "title", "email", "role")
ACTION_COLUMNS = (
    "tenant_id",
    "episode_id",
    "account_id",
    "template_id",
    "kind",
    "recipient",
    "subject",
    "body",
    "sent_at",
    "created_at",
)
SEND_BATCH = 500


def _recipients(tenant: Tenant, account_ids: list[int]) -> dict[int, dict]:
    """Each account's first active contact with an e-mail, by ``RECIPIENT_ROLES`` (plain rows:
    model instances for 100,000 contacts cost seconds)."""
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


def _emails_record(
    *, tenant: Tenant, episodes: list[tuple[int, int]], steps: list[TaskTemplate], now: dt.datetime
) -> int:
    """Render each e-mail step for each new episode (context: ``account`` and ``contact`` with
    ``ACCOUNT_FIELDS`` / ``CONTACT_FIELDS``, and ``tenant``) and record it as an
    ``AutomatedAction`` to send; without a recipient it is recorded and never sent."""
    if not episodes or not steps:
        return 0
    account_ids = [account_id for _, account_id in episodes]
    accounts = {}
    for start in range(0, len(account_ids), 10_000):
        chunk = Account.objects.filter(tenant=tenant, pk__in=account_ids[start : start + 10_000])
        accounts.update({row["pk"]: row for row in chunk.values("pk", *ACCOUNT_FIELDS)})
    recipients = _recipients(tenant, account_ids)
    compiled = [(step, Template(step.email_subject), Template(step.email_body)) for step in steps]
    rows = []
    for episode_id, account_id in episodes:
        contact = recipients.get(account_id)
        context = Context({"account": accounts[account_id], "contact": contact, "tenant": tenant})
        for step, subject_template, body_template in compiled:
            subject = " ".join(subject_template.render(context).split())[:200] or step.title
            rows.append(
                (
                    tenant.pk,
                    episode_id,
                    account_id,
                    step.pk,
                    AutomatedActionKind.EMAIL.value,
                    contact["email"] if contact else "",
                    subject,
                    body_template.render(context),
                    None,
                    now,
                )
            )
    if connection.vendor == "postgresql":
        bulk.rows_copy(AutomatedAction, ACTION_COLUMNS, rows)
    else:
        bulk.rows_insert(AutomatedAction, ACTION_COLUMNS, rows)
    return len(rows)


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
            mail_connection.open()
            for pk, recipient, subject, body in claimed:
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
